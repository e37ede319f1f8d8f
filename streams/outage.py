"""Runtime resilience: ride out an outage of Redis or the broker instead of exiting.

A process keeps one :class:`Outage` per dependency. When an operation fails because the
dependency is unreachable, the process calls :meth:`Outage.failed`, waits the delay it returns
(capped exponential backoff: 0.1 s doubling up to ``cap_s``) and tries again; the first
failure is logged once as a warning, and the first success after it once as "back", with how
long it took. :attr:`Outage.ready` is False in between (what readiness probes report). What the
process must redo after an outage (re-read its own pending entries, seek the broker to the
offsets stored in Redis) is the caller's business; nothing here retries an operation itself.
"""

from __future__ import annotations

import logging
import time

import redis
from redis.exceptions import ClusterDownError, TryAgainError

log = logging.getLogger(__name__)

REDIS_DOWN: tuple[type[Exception], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    ClusterDownError,
    TryAgainError,
)
"""What redis-py raises while the server is unreachable, restarting or still loading its data; on
a Redis Cluster also while a master restarts and rejoins (``CLUSTERDOWN``: its slots not served
yet) or its slots move (``TRYAGAIN``)."""


class Outage:
    """The reachability of one dependency, as one process sees it."""

    def __init__(self, what: str, first_s: float = 0.1, cap_s: float = 5.0) -> None:
        self.what = what
        self.first_s = first_s
        self.cap_s = cap_s
        self.since: float | None = None  # monotonic time of the first failure, None while reachable
        self.attempts = 0

    @property
    def ready(self) -> bool:
        return self.since is None

    def failed(self, exc: BaseException) -> float:
        """Record a failed attempt; the seconds to wait before the next one."""
        if self.since is None:
            self.since = time.monotonic()
            self.attempts = 0
            log.warning("%s unreachable, retrying with backoff up to %.0f s: %s", self.what, self.cap_s, exc)
        self.attempts += 1
        return float(min(self.cap_s, self.first_s * 2 ** (self.attempts - 1)))

    def ok(self) -> bool:
        """Record a success; True when it ends an outage (the caller may have state to redo)."""
        if self.since is None:
            return False
        down_s = time.monotonic() - self.since
        log.info("%s back after %.1f s (%d attempts)", self.what, down_s, self.attempts)
        self.since = None
        return True
