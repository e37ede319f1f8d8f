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
import json
import re
import time
import weakref
from collections.abc import AsyncIterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from dashboard.config import GATEWAY_URL

TIMEOUT = httpx.Timeout(10.0, connect=3.0)
MAX_LINE = 64 * 1024  # bytes of one line of the event stream (the gateway's events are < 2 kB)
IDLE_S = 30.0  # the event stream may be silent this long (the gateway sends a keep-alive every 15 s)
LINE_BREAK = re.compile(rb"\r\n|\r|\n")  # SSE allows all three
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


def _message(status: int, body: bytes) -> str:
    """The analyst's message of a gateway error: the problem document's detail and field errors."""
    try:
        problem = json.loads(body)
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        return f"the gateway answered {status}"
    detail = problem.get("detail") or problem.get("title") or f"status {status}"
    errors = problem.get("errors")
    fields = (
        [str(e.get("message", "")) for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    )
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
        raise GatewayError(_message(response.status_code, response.content), response.status_code)
    return response.json()


async def _head(response: httpx.Response) -> bytes:
    """At most MAX_LINE bytes of a response's body (an error answer to the event stream)."""
    body = b""
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > MAX_LINE:
            break
    return body[:MAX_LINE]


async def live_events(
    key: str,
    kinds: str,
    seconds: float,
    min_gap_s: float = 0.3,
    grace_s: float = 10.0,
    idle_s: float = IDLE_S,
) -> AsyncIterator[None]:
    """Yields as the gateway's event stream (``GET /v1/events``) delivers ``kinds`` events, at most once
    per ``min_gap_s`` (a burst is one wake-up); raises GatewayError.

    The stream is read as untrusted bytes: only whether a line starts with ``data:`` matters (the
    data itself is never parsed: the caller asks the gateway's API for what changed), a line longer
    than MAX_LINE bytes ends it with an error (nothing is buffered without bound), so does an answer
    that is not ``text/event-stream``, a connection cut mid-stream, or ``idle_s`` without a byte
    (the gateway sends a keep-alive comment every 15 s). It ends by itself ``grace_s`` after the
    ``seconds`` the gateway was asked for, whatever the server keeps sending.
    """
    params = {"types": kinds, "max_seconds": seconds}
    headers = {"X-API-Key": key, "Accept": "text/event-stream", "Accept-Encoding": "identity"}
    deadline = time.monotonic() + seconds + grace_s
    try:
        async with _client().stream(
            "GET", "/v1/events", params=params, headers=headers, timeout=httpx.Timeout(idle_s, connect=3.0)
        ) as response:
            if response.status_code >= 400:
                raise GatewayError(
                    _message(response.status_code, await _head(response)), response.status_code
                )
            kind = response.headers.get("content-type", "")
            if not kind.startswith("text/event-stream"):
                raise GatewayError(f"the gateway's event stream answered {kind or 'without a content type'}")
            last, partial = 0.0, b""
            async for chunk in response.aiter_raw():
                *lines, partial = LINE_BREAK.split(partial + chunk)
                if len(partial) > MAX_LINE or any(len(line) > MAX_LINE for line in lines):
                    raise GatewayError(f"the gateway's event stream sent a line over {MAX_LINE:,} bytes")
                if any(line.startswith(b"data:") for line in lines) and time.monotonic() - last >= min_gap_s:
                    last = time.monotonic()
                    yield
                if time.monotonic() >= deadline:
                    return
    except httpx.HTTPError as exc:
        raise GatewayError(f"the gateway's event stream ended ({type(exc).__name__})") from exc
