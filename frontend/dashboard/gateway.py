"""The dashboard's gateway client: one async call per request, problems turned into readable messages,
and the live event stream (Server-Sent Events).

The API key travels only in the ``X-API-Key`` header of these server-side calls; it is never
put in a URL, a log line or the browser.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from dashboard.config import GATEWAY_URL

TIMEOUT = httpx.Timeout(10.0, connect=3.0)


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
        async with httpx.AsyncClient(base_url=GATEWAY_URL, timeout=TIMEOUT) as client:
            response = await client.request(method, path, params=clean, json=body, headers={"X-API-Key": key})
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
        async with (
            httpx.AsyncClient(base_url=GATEWAY_URL, timeout=timeout) as client,
            client.stream("GET", "/v1/events", params=params, headers={"X-API-Key": key}) as response,
        ):
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
