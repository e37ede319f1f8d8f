"""The dashboard's gateway client: one async call per request, problems turned into readable messages,
and the live event stream (Server-Sent Events).

The API key travels only in the ``X-API-Key`` header of these server-side calls; it is never
put in a URL, a log line or the browser.

All calls of the dashboard's event loop share one ``httpx.AsyncClient`` (its connections to the
gateway are kept alive). A client per call cost more than the call itself: each new client builds
an SSL context (loading the system's CA certificates, ~10 ms of CPU) even for a plain-HTTP gateway —
py-spy put 43 % of the dashboard server's CPU there while an Ops Center was open.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from dashboard.config import GATEWAY_URL

TIMEOUT = httpx.Timeout(10.0, connect=3.0)
# one client per event loop (the server has one; a client must not be shared across loops)
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def _client() -> httpx.AsyncClient:
    """The shared client of the running loop. It keeps no cookies: it carries every analyst's calls."""
    loop = asyncio.get_running_loop()
    client = _CLIENTS.get(loop)
    if client is None:
        no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        client = httpx.AsyncClient(base_url=GATEWAY_URL, timeout=TIMEOUT, cookies=no_cookies)
        _CLIENTS[loop] = client
    return client


class GatewayError(Exception):
    """A failed gateway call, with a message meant for the analyst."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _message(response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return f"the gateway answered {response.status_code}"
    detail = problem.get("detail") or problem.get("title") or f"status {response.status_code}"
    fields = [e.get("message", "") for e in problem.get("errors") or [] if isinstance(e, dict)]
    return f"{detail}" + (f" ({'; '.join(fields)})" if fields else "")


async def call(
    key: str,
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    body: Any = None,
) -> Any:
    """JSON of ``method path`` on the gateway with the caller's key; raises GatewayError."""
    clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
    try:
        response = await _client().request(method, path, params=clean, json=body, headers={"X-API-Key": key})
    except httpx.HTTPError as exc:
        raise GatewayError(f"the gateway at {GATEWAY_URL} is not reachable ({type(exc).__name__})") from exc
    if response.status_code >= 400:
        raise GatewayError(_message(response), response.status_code)
    return response.json()


async def live_events(key: str, kinds: str, seconds: float, min_gap_s: float = 0.3) -> AsyncIterator[None]:
    """Yields as the gateway's event stream (``GET /v1/events``) delivers ``kinds`` events, at most once
    per ``min_gap_s`` (a burst is one wake-up); ends after ``seconds``; raises GatewayError."""
    params = {"types": kinds, "max_seconds": seconds}
    timeout = httpx.Timeout(seconds + 10.0, connect=3.0)
    try:
        async with _client().stream(
            "GET", "/v1/events", params=params, headers={"X-API-Key": key}, timeout=timeout
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise GatewayError(_message(response), response.status_code)
            last = 0.0
            async for line in response.aiter_lines():
                if line.startswith("data:") and time.monotonic() - last >= min_gap_s:
                    last = time.monotonic()
                    yield
    except httpx.HTTPError as exc:
        raise GatewayError(f"the gateway's event stream ended ({type(exc).__name__})") from exc
