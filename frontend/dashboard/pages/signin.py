"""Sign-in: an API key (analyst or admin); the role decides what the dashboard shows and enables."""

from __future__ import annotations

import reflex as rx

from dashboard.layout import error_banner
from dashboard.session import Session


def page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.hstack(
                        rx.icon("shield-check", size=26, color=rx.color("indigo", 10)),
                        rx.heading("Sentinel", size="6"),
                    ),
                    rx.text(
                        "Sign in with this installation's analyst or admin API key.",
                        size="2",
                        color_scheme="gray",
                    ),
                    rx.input(
                        name="api_key",
                        id="api-key",
                        type="password",
                        placeholder="API key",
                        auto_complete="off",
                        width="100%",
                        size="3",
                    ),
                    error_banner(),
                    rx.button("Sign in", id="sign-in", type="submit", width="100%", size="3"),
                    rx.text(
                        "`sentinel up` prints the keys; they are kept in .sentinel/api-keys.",
                        size="1",
                        color_scheme="gray",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=Session.sign_in,
                reset_on_submit=True,
            ),
            width="380px",
            padding="24px",
        ),
        height="100vh",
        background=rx.color("gray", 2),
    )
