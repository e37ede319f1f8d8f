"""Sentinel's analyst dashboard: the pages and their routes (data comes from the gateway only)."""

from __future__ import annotations

import reflex as rx

from dashboard.pages import forensics, monitoring, ops, overview, signin, strategy

app = rx.App()
app.add_page(signin.page, route="/signin", title="Sign in · Sentinel")
app.add_page(overview.page, route="/", title="Overview · Sentinel", on_load=overview.OverviewState.load)
app.add_page(ops.page, route=ops.ROUTE, title="Ops Center · Sentinel", on_load=ops.OpsState.load)
app.add_page(
    monitoring.page,
    route="/monitoring",
    title="ML Monitoring · Sentinel",
    on_load=monitoring.MonitoringState.load,
)
app.add_page(
    strategy.page, route="/strategy", title="Strategy · Sentinel", on_load=strategy.StrategyState.load
)
app.add_page(
    forensics.page, route="/forensics", title="Forensics · Sentinel", on_load=forensics.ForensicsState.load
)
