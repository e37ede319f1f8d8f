"""Recycle hold: producers and the mirror's recycling of a broker without retention agree here.

The embedded broker (Tansu, memory storage) keeps every message, so the mirror empties it now
and then by deleting and recreating its topics (``streams.mirror``, ``kafka.recycle_messages``).
A message published into a topic that is then deleted is gone, and Tansu even acknowledges a
message produced into a topic deleted a moment earlier: a producer that promises delivery to
its own clients (the gateway's ``POST /v1/transactions`` answers 202) must never publish while
the mirror recycles.

The promise holds by two keys and one script. A publisher takes a *lease* before producing
(:meth:`PublishLeases.acquire`): in one script, if the hold is set it gets nothing and waits;
else its token joins ``keys.mirror_publishing`` with an expiry (Redis server time, so no clock
of ours matters). It drops the lease once the broker acknowledged (or refused) every message.
The mirror sets the hold, then waits until no unexpired lease is left
(:func:`wait_for_publishers`) before it drains and deletes the topics. Since Redis runs a script
alone, every lease is either taken before the hold (and the mirror waits for it to end) or
refused after it: no acknowledged message is produced into a topic about to go. A lease
outlives its publisher's broker timeout, so a crashed publisher only delays a recycle.

Producers that run unattended (the simulator) poll the hold instead: they flush and stop when
they see it, within ``data.simulator.HOLD_POLL_S``, which the mirror's quiet period covers.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import redis

from streams.keys import Keys

_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]) * 2)
return 1
"""
_LIVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""
POLL_S = 0.02  # how often a held publisher, or the mirror waiting for leases, looks again


class Held(Exception):
    """The mirror held producers for longer than the caller could wait."""


class PublishLeases:
    """The publisher's side: take a lease before producing, drop it after the broker answered."""

    def __init__(self, client: redis.Redis, keys: Keys, lease_s: float) -> None:
        self._client = client
        self._hold, self._leases = keys.mirror_hold, keys.mirror_publishing
        self._lease_ms = int(lease_s * 1000)
        self._acquire = client.register_script(_ACQUIRE)
        self._lock = threading.Lock()
        self.waiting = 0  # requests waiting for a hold to end right now
        self.held = 0  # requests that had to wait for a hold, since start

    def acquire(self, wait_s: float) -> str:
        """A lease token, once no hold is set; :class:`Held` after ``wait_s`` of holding."""
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait_s
        waited = False
        try:
            while not self._acquire(keys=[self._hold, self._leases], args=[token, self._lease_ms]):
                if not waited:
                    waited = True
                    with self._lock:
                        self.waiting += 1
                        self.held += 1
                if time.monotonic() >= deadline:
                    raise Held(f"the broker topics are being recycled for more than {wait_s:.0f} s")
                time.sleep(POLL_S)
        finally:
            if waited:
                with self._lock:
                    self.waiting -= 1
        return token

    def release(self, token: str) -> None:
        self._client.zrem(self._leases, token)


def wait_for_publishers(
    client: redis.Redis, keys: Keys, timeout_s: float, stop: threading.Event, hold_ttl_ms: int
) -> bool:
    """The mirror's side, with the hold set: True once no publish lease is live (False on timeout).
    The hold is kept alive meanwhile (a lease may outlive its TTL)."""
    live = client.register_script(_LIVE)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        client.pexpire(keys.mirror_hold, hold_ttl_ms)
        count: Any = live(keys=[keys.mirror_publishing])
        if int(count) == 0:
            return True
        if stop.wait(POLL_S):
            return False
    return False
