"""Runtime plumbing: every Redis key and stream name of the streams runtime, built in one place.

All names start with the configured prefix (``settings.redis.key_prefix``, default ``sentinel:``)::

    <prefix>stream:<name>              a stream named in the pipeline table, e.g. stream:items
    <prefix>dlq                        the dead-letter stream (one for the whole runtime)
    <prefix>fn:<function>:stats        hash: processed, failed, dead_lettered, batches, reclaimed
    <prefix>fn:<function>:latency      list: recent batch latencies in microseconds (newest first)
    <prefix>fn:<function>:errors       hash: entry id -> last error text (kept for dead letters)
    <prefix>mirror:offsets:<topic>     hash: partition -> last broker offset copied into Redis
    <prefix>mirror:stats               hash: copied:<topic>, paused:<topic>, pauses:<topic>, recycles
    <prefix>mirror:hold                string, expiring: set while the mirror empties a broker without
                                         retention; cooperating producers (the simulator) hold meanwhile
    <prefix>mirror:publishing          sorted set: publish leases (token -> expiry, server ms) of
                                         producers that acknowledge to clients (the gateway)

Functions may keep their own keys for feature state (their own keys module); they get the
prefix from ``ctx.keys.prefix`` so tests and replays can run against a scratch prefix.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Builds the runtime's key names under one prefix."""

    prefix: str

    def stream(self, name: str) -> str:
        """The Redis key of a logical stream name from the pipeline table."""
        if not name or any(c.isspace() for c in name):
            raise ValueError(f"invalid stream name {name!r}")
        return f"{self.prefix}stream:{name}"

    def stream_name(self, key: str) -> str:
        """Inverse of :meth:`stream`: the logical name of a stream key."""
        head = f"{self.prefix}stream:"
        if not key.startswith(head):
            raise ValueError(f"{key!r} is not a stream key under {self.prefix!r}")
        return key[len(head) :]

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}dlq"

    def function_stats(self, function: str) -> str:
        return f"{self.prefix}fn:{function}:stats"

    def function_latency(self, function: str) -> str:
        return f"{self.prefix}fn:{function}:latency"

    def function_errors(self, function: str) -> str:
        return f"{self.prefix}fn:{function}:errors"

    def mirror_offsets(self, topic: str) -> str:
        return f"{self.prefix}mirror:offsets:{topic}"

    @property
    def mirror_stats(self) -> str:
        return f"{self.prefix}mirror:stats"

    @property
    def mirror_hold(self) -> str:
        return f"{self.prefix}mirror:hold"

    @property
    def mirror_publishing(self) -> str:
        return f"{self.prefix}mirror:publishing"

    def key(self, *parts: str) -> str:
        """A key of a function's own state, e.g. ``keys.key("result", tx_id)`` -> ``<prefix>result:<tx_id>``."""
        return self.prefix + ":".join(parts)
