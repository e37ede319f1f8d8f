"""Sentinel's analyst dashboard: the pages and their routes (data comes from the gateway only)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from dashboard.layout import PAGES
from dashboard.pages import forensics, monitoring, ops, overview, signin, strategy
from dashboard.session import SIGN_IN

# the routes of the prerendered pages other than "/" (each is built as `<route>/index.html`)
PAGE_DIRS = frozenset([route for route, _, _ in PAGES if route != "/"] + [SIGN_IN])


def _pages_without_redirect(app: Any) -> Any:
    """Serves ``/ops`` as ``/ops/`` at once. Starlette's static files answer a directory URL without its
    trailing slash with a 307 to it first: one more round trip (~60-250 ms measured) before a
    bookmarked or typed page even starts loading. Only the path of plain HTTP page requests changes."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in PAGE_DIRS:
            scope = {**scope, "path": scope["path"] + "/", "raw_path": scope["path"].encode() + b"/"}
        await app(scope, receive, send)

    return asgi


# assets/dashboard.css: static rules of the many-times-repeated elements (see pages/ops.py)
app = rx.App(api_transformer=_pages_without_redirect, stylesheets=["/dashboard.css"])
app.add_page(signin.page, route=SIGN_IN, title="Sign in · Sentinel")
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
