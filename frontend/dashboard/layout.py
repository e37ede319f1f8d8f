"""The shell every page shares (navigation, role, errors, live refresh) and small shared components."""

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


def kpi(label: str, value: Any, hint: Any = "", id: str = "") -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="1", color_scheme="gray", weight="medium"),
            rx.text(value, size="5", weight="bold", id=id or None),
            rx.text(hint, size="1", color_scheme="gray"),
            spacing="1",
        ),
        min_width="170px",
        flex="1",
    )


def empty(message: str, hint: str, id: str = "") -> rx.Component:
    """What an empty list says, and what to do about it."""
    return rx.center(
        rx.vstack(
            rx.icon("inbox", size=28, color=rx.color("gray", 8)),
            rx.text(message, weight="medium"),
            rx.text(hint, size="2", color_scheme="gray"),
            align="center",
            spacing="1",
        ),
        id=id or None,
        padding="32px",
        width="100%",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="8px",
    )


def section(title: str, *children: rx.Component, **props: Any) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, size="3"), *children, spacing="3", width="100%"), width="100%", **props
    )


def reasons_chart(data: Any, id: str) -> rx.Component:
    """Each reason's push on the log-odds: red pushes towards fraud, green away from it."""
    return rx.box(
        rx.recharts.bar_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3", horizontal=False),
            rx.recharts.x_axis(type_="number"),
            rx.recharts.y_axis(data_key="feature", type_="category", width=170),
            rx.recharts.graphing_tooltip(),
            rx.recharts.bar(
                is_animation_active=False,
                data_key="towards_fraud",
                stack_id="r",
                fill=rx.color("red", 9),
                name="towards fraud",
            ),
            rx.recharts.bar(
                is_animation_active=False,
                data_key="away",
                stack_id="r",
                fill=rx.color("green", 9),
                name="away from fraud",
            ),
            data=data,
            layout="vertical",
            width="100%",
            height=240,
        ),
        id=id,
        width="100%",
    )


def reason_rows(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chart rows of an API reason list (feature, value, contribution)."""
    return [
        {
            "feature": r["feature"],
            "towards_fraud": round(r["contribution"], 4) if r["contribution"] > 0 else 0,
            "away": round(r["contribution"], 4) if r["contribution"] < 0 else 0,
        }
        for r in reasons
    ]


def risk_bar(pct: Any, color: Any) -> rx.Component:
    return rx.box(
        rx.box(width=pct, height="100%", background=color, border_radius="3px"),
        width="90px",
        height="8px",
        background=rx.color("gray", 4),
        border_radius="3px",
    )
