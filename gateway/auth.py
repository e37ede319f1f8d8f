"""Gateway edge: API keys with roles, checked by a route guard before any handler runs.

Keys come from settings (``SENTINEL_GATEWAY_API_KEYS='admin:k1,analyst:k2,scorer:k3'``).
A request presents its key in the ``X-API-Key`` header. Roles are ranked by what they may
do; ``admin`` implies every other role:

    scorer   POST /v1/score, POST /v1/transactions
    analyst  every read (transactions, alerts, metrics, models, strategy, simulate), resolve alerts
    admin    PUT /v1/strategy, promote and roll back models

Missing or unknown key -> 401; known key without the role -> 403. Health, readiness and
Prometheus metrics are open. Too many failed authentications from one client address -> 429
with Retry-After (``FailedAuthLimiter``).

Only hashes are kept: a plaintext key in the setting is replaced by its SHA-256 digest when
parsed, and an entry may give the digest itself, ``role:sha256:<64 hex digits>`` (e.g.
``printf %s "$KEY" | sha256sum``), so the plaintext need never reach the gateway's
configuration. A presented key is hashed and compared with every digest in constant time.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import redis
from litestar.concurrency import sync_to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    NotAuthorizedException,
    PermissionDeniedException,
    TooManyRequestsException,
)
from litestar.handlers.base import BaseRouteHandler

from core.errors import ConfigError
from functions.keys import OperatorKeys
from streams.outage import REDIS_DOWN

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
SECURITY_SCHEME = "apiKey"


class Role(enum.Enum):
    SCORER = "scorer"
    ANALYST = "analyst"
    ADMIN = "admin"


# role -> the roles it holds (admin implies all; analyst and scorer are disjoint duties)
_GRANTS: dict[Role, frozenset[Role]] = {
    Role.SCORER: frozenset({Role.SCORER}),
    Role.ANALYST: frozenset({Role.ANALYST}),
    Role.ADMIN: frozenset(Role),
}


class Principal:
    """Who is calling: the role of the key and a short non-secret name for audit logs."""

    __slots__ = ("name", "role")

    def __init__(self, role: Role, name: str) -> None:
        self.role = role
        self.name = name

    def holds(self, role: Role) -> bool:
        return role in _GRANTS[self.role]


HASH_PREFIX = "sha256:"
_HEX_DIGITS = frozenset("0123456789abcdef")


def key_digest(key: str) -> bytes:
    """The SHA-256 digest the gateway keeps in place of ``key``."""
    return hashlib.sha256(key.encode()).digest()


def _digest_of(entry: str) -> bytes:
    """``sha256:<64 hex>`` -> those bytes (a given hash); anything else is a plaintext key, hashed."""
    if entry.startswith(HASH_PREFIX):
        hexed = entry[len(HASH_PREFIX) :].lower()
        if len(hexed) == 64 and set(hexed) <= _HEX_DIGITS:
            return bytes.fromhex(hexed)
    return key_digest(entry)


def parse_api_keys(spec: str) -> dict[bytes, Role]:
    """``'admin:k1,analyst:sha256:<hex>'`` -> {sha256(k1): ADMIN, <hex bytes>: ANALYST}: digests
    only, never a plaintext key; raises ConfigError when malformed."""
    keys: dict[bytes, Role] = {}
    for index, item in enumerate(part.strip() for part in spec.split(",")):
        if not item:
            continue
        role_name, sep, key = item.partition(":")
        if not sep or not key.strip():
            raise ConfigError(f"gateway api_keys entry {index + 1}: expected 'role:key'")
        try:
            role = Role(role_name.strip())
        except ValueError:
            valid = ", ".join(r.value for r in Role)
            raise ConfigError(
                f"gateway api_keys entry {index + 1}: unknown role (expected {valid})"
            ) from None
        keys[_digest_of(key.strip())] = role
    return keys


class KeyRing:
    """The configured keys' digests; looks a presented key up without leaking timing."""

    def __init__(self, digests: Mapping[bytes, Role]) -> None:
        # Name a key by its role and position, never by its text: names go into audit logs.
        self._entries = [
            (digest, Principal(role, f"{role.value}#{n}"))
            for n, (digest, role) in enumerate(digests.items(), 1)
        ]

    def __len__(self) -> int:
        return len(self._entries)

    def identify(self, presented: str | None) -> Principal | None:
        if not presented:
            return None
        candidate = key_digest(presented)
        found: Principal | None = None
        for digest, principal in self._entries:  # no early exit: every digest is compared
            if hmac.compare_digest(digest, candidate):
                found = principal
        return found


_COUNT_FAILURE = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local start = tonumber(redis.call('HGET', KEYS[1], 'start') or '-1')
if start < 0 or now >= start + window then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'start', ARGV[1])
  start = now
end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
return {tostring(start), n}
"""


class FailedAuthLimiter:
    """Failed authentications per client address, in windows of ``window_s`` seconds from the
    address's first failure.

    After ``max_failures`` failures in a window the address is refused (429, ``Retry-After``: the
    rest of the window) whatever key it presents, until the window ends; logged once per address
    and window, with the address and counts only (never a key). Once :meth:`share` gave it Redis,
    the count is shared by every gateway worker (one script per failure; a refusal is then
    remembered per process, so a request with a right key costs no Redis call); while Redis is
    unreachable each process counts alone. ``clock`` (wall seconds, the same for every worker) is
    injectable for tests.

    The address is the connection's peer: behind a proxy, and for the dashboard (whose server
    calls the gateway for all its users), every caller shares one. ``X-Forwarded-For`` is not
    trusted (no trusted-proxy list): limit at the proxy, or raise ``auth_max_failures``.
    """

    MAX_TRACKED = 10_000  # addresses remembered; expired windows are dropped beyond this

    def __init__(self, max_failures: int, window_s: float, clock: Callable[[], float] = time.time) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.clock = clock
        self._windows: dict[str, list[float]] = {}  # address -> [window start, failures, logged]
        self._shared: tuple[Any, OperatorKeys] | None = None

    def share(self, client: redis.Redis, key_prefix: str) -> None:
        """Count failures in Redis from now on, with every other worker of the gateway."""
        self._shared = (client.register_script(_COUNT_FAILURE), OperatorKeys(key_prefix))

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it is not refused."""
        entry = self._windows.get(address)
        if entry is None or entry[1] < self.max_failures:
            return None
        left = entry[0] + self.window_s - self.clock()
        return max(1, math.ceil(left)) if left > 0 else None

    def failed(self, address: str) -> int | None:
        """Count a failure of ``address``; the seconds to wait when it is now over the limit."""
        now = self.clock()
        entry = self._windows.get(address)
        if entry is None or now >= entry[0] + self.window_s:
            if len(self._windows) >= self.MAX_TRACKED:
                self._prune(now)
            entry = self._windows[address] = [now, 0, 0]
        counted = self._count_shared(address, now)
        if counted is None:
            entry[1] += 1
        else:
            if counted[0] != entry[0]:
                entry[2] = 0  # another window (started by another worker): not logged here yet
            entry[0], entry[1] = counted
        if entry[1] >= self.max_failures and not entry[2]:
            entry[2] = 1
            if counted is None or entry[1] == self.max_failures:  # shared: the worker reaching it logs
                log.warning(
                    "gateway: %d failed authentications from %s within %ss; refusing it until the window ends",
                    int(entry[1]),
                    address,
                    self.window_s,
                )
        return self.retry_after(address) if entry[1] > self.max_failures else None

    def _count_shared(self, address: str, now: float) -> tuple[float, int] | None:
        if self._shared is None:
            return None
        script, keys = self._shared
        try:
            start, n = script(keys=[keys.auth_failures(address)], args=[repr(now), repr(self.window_s)])
        except REDIS_DOWN:
            return None  # counted by this process alone meanwhile
        return float(start), int(n)

    def _prune(self, now: float) -> None:
        for address in [a for a, e in self._windows.items() if now >= e[0] + self.window_s]:
            del self._windows[address]


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    return connection.client.host if connection.client else "unknown"


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The caller of a guarded route (set by the guard)."""
    principal = connection.scope.get("state", {}).get("principal")
    if not isinstance(principal, Principal):
        raise NotAuthorizedException(f"missing or unknown API key in the {API_KEY_HEADER} header")
    return principal


def requires(
    role: Role | None,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """A route guard: 401 without a valid key, 403 when its role does not grant ``role`` (None: any).

    A coroutine: Litestar runs a plain function guard in its thread pool, a thread hop on every
    request (for ``POST /v1/score`` about a tenth of the server's on-GIL samples, and a wake-up of
    the event loop; ``docs/perf/gateway-score.svg``, recorded before this change). A valid
    key is checked inline (a SHA-256 and a compare per configured key); only a failure, which
    counts in Redis, goes to a thread.
    """

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        ring: KeyRing = connection.app.state.keyring
        limiter: FailedAuthLimiter = connection.app.state.auth_limiter
        address = client_address(connection)
        wait = limiter.retry_after(address)
        if wait is not None:
            raise TooManyRequestsException(
                f"too many failed authentications from this address; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        principal = ring.identify(connection.headers.get(API_KEY_HEADER))
        if principal is None:
            wait = await sync_to_thread(limiter.failed, address)
            if wait is not None:  # over the limit counted with the other workers
                raise TooManyRequestsException(
                    f"too many failed authentications from this address; retry in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            raise NotAuthorizedException(f"missing or unknown API key in the {API_KEY_HEADER} header")
        if role is not None and not principal.holds(role):
            raise PermissionDeniedException(f"this endpoint needs the {role.value} role")
        connection.scope.setdefault("state", {})["principal"] = principal

    guard.__name__ = f"requires_{role.value if role else 'key'}"
    return guard
