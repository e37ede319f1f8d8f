"""The shell every page shares: navigation, the signed-in role, the gateway's last error, live refresh.

The pieces pages are built from (KPI cards, sections, tables, charts) are in ``dashboard.components``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from dashboard.config import REFRESH_MS
from dashboard.session import Session

PAGES = [
    ("/", "Overview", "layout-dashboard"),
    ("/ops", "Ops Center", "siren"),
    ("/monitoring", "ML Monitoring", "activity"),
    ("/strategy", "Strategy", "sliders-horizontal"),
    ("/forensics", "Forensics", "search"),
]


def _nav_link(route: str, label: str, icon: str) -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon(icon, size=16), rx.text(label, size="2"), align="center", spacing="2"),
        href=route,
        id=f"nav-{label.lower().replace(' ', '-')}",
        underline="none",
        padding="8px 12px",
        border_radius="6px",
        width="100%",
        _hover={"background": rx.color("gray", 4)},
    )


def sidebar() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.icon("shield-check", size=22, color=rx.color("indigo", 10)), rx.heading("Sentinel", size="5")
        ),
        rx.text("Fraud operations", size="1", color_scheme="gray"),
        rx.divider(margin_y="8px"),
        *[_nav_link(*page) for page in PAGES],
        rx.spacer(),
        rx.vstack(
            rx.badge(Session.role, id="role-badge", variant="soft", color_scheme="indigo"),
            rx.text(Session.who, size="1", color_scheme="gray"),
            rx.button("Sign out", id="sign-out", on_click=Session.sign_out, variant="soft", size="1"),
            spacing="1",
        ),
        width="210px",
        min_width="210px",
        height="100vh",
        padding="16px",
        border_right=f"1px solid {rx.color('gray', 5)}",
        position="sticky",
        top="0",
    )


def error_banner() -> rx.Component:
    return rx.cond(
        Session.error != "",
        rx.callout(
            Session.error, icon="triangle-alert", color_scheme="red", id="gateway-error", width="100%"
        ),
    )


def shell(
    title: str, subtitle: str, body: rx.Component, tick: Callable[..., Any] | None = None
) -> rx.Component:
    """A page: the navigation, its title, the gateway's last error, its content, and its live refresh."""
    return rx.hstack(
        sidebar(),
        rx.vstack(
            rx.vstack(
                rx.heading(title, size="7", id="page-title"), rx.text(subtitle, color_scheme="gray", size="2")
            ),
            error_banner(),
            body,
            rx.moment(interval=REFRESH_MS, on_change=tick, display="none")
            if tick is not None
            else rx.fragment(),
            padding="24px",
            spacing="4",
            width="100%",
            min_width="0",
        ),
        spacing="0",
        align="start",
        width="100%",
    )
