"""Where the dashboard finds the gateway: its only source of data (HTTP and the live event stream)."""

from __future__ import annotations

import os

GATEWAY_URL = os.environ.get("SENTINEL_DASHBOARD_GATEWAY_URL", "http://127.0.0.1:8000").rstrip("/")
REFRESH_MS = 2_000  # live pages refresh this often (the issue asks for at most 2 s behind)
