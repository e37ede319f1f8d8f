"""Sentinel's analyst dashboard: the pages and their routes (data comes from the gateway only)."""

from __future__ import annotations

import reflex as rx

from dashboard.pages import overview, signin

app = rx.App()
app.add_page(signin.page, route="/signin", title="Sign in · Sentinel")
app.add_page(overview.page, route="/", title="Overview · Sentinel", on_load=overview.OverviewState.load)
