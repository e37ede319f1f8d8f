"""Security headers on every gateway response (a ``before_send`` hook: error pages and 404s too).

Every answer says: do not sniff the content type, never render me in a frame (both the legacy
``X-Frame-Options`` and CSP ``frame-ancestors``), send no referrer. Answers under ``/v1`` (the
authenticated API) also say ``Cache-Control: no-store``: no shared or browser cache keeps a
score, a transaction or an alert. The CSP restricts framing only, so the Swagger UI at
``/schema/swagger`` (its assets served locally) keeps working.
"""

from __future__ import annotations

from litestar.types import Message, Scope

SECURITY_HEADERS: dict[bytes, bytes] = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"content-security-policy": b"frame-ancestors 'none'",
    b"referrer-policy": b"no-referrer",
}
API_HEADERS: dict[bytes, bytes] = {**SECURITY_HEADERS, b"cache-control": b"no-store"}
API_PREFIX = "/v1"


async def security_headers(message: Message, scope: Scope) -> None:
    """Adds ``SECURITY_HEADERS`` to an HTTP response's start (and ``no-store`` under /v1), replacing
    any the handler set."""
    if message["type"] != "http.response.start":
        return
    path = scope.get("path", "")
    added = API_HEADERS if path == API_PREFIX or path.startswith(API_PREFIX + "/") else SECURITY_HEADERS
    kept = [(k, v) for k, v in message.get("headers", []) if bytes(k).lower() not in added]
    message["headers"] = [*kept, *added.items()]
