"""Reflex configuration of the Sentinel dashboard (one port: the page, its websocket and the static build)."""

import os

import reflex as rx

# The dashboard's own settings (it imports nothing of Sentinel's; `sentinel up` sets these).
PORT = int(os.environ.get("SENTINEL_DASHBOARD_PORT", "3000"))
HOST = os.environ.get("SENTINEL_DASHBOARD_HOST", "127.0.0.1")

config = rx.Config(
    app_name="dashboard",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    backend_host=HOST,
    backend_port=PORT,
    api_url=f"http://127.0.0.1:{PORT}",
    # In memory: the signed-in API key lives in the server's state only, never on disk or in the browser.
    state_manager_mode=rx.constants.StateManagerMode.MEMORY,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="indigo", gray_color="slate", radius="medium")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
