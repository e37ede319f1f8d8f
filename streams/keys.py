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

Shards (``Shards``, ``settings.streams.shards``): on a Redis Cluster a script may only touch keys
of one hash slot, and a function's commit touches its input stream, its outputs, the dead
letters, its counters and the records it writes. So the runtime's keys are split in shards, each
under one hash tag (``shard_tag``): shard 3 of prefix ``sentinel:`` is a prefix such as
``sentinel:{s3}:``, e.g. ``sentinel:{s3}:stream:tx.raw``, ``sentinel:{s3}:dlq``. A worker works on one shard and hands its
shard's ``Keys`` to its functions, so their records share the tag. One shard on one Redis (the
default) is untagged: the plain names above, unchanged.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from redis.crc import REDIS_CLUSTER_HASH_SLOTS as SLOTS
from redis.crc import key_slot

from core.connect import is_cluster
from core.settings import Settings


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


@cache
def shard_tag(shard: int, count: int) -> str:
    """The hash tag of shard ``shard`` of ``count``: its slot lies in the shard's ``1/count`` of the
    slot space, so shards spread evenly over masters that hold equal slot ranges (as
    ``redis-cli --cluster create`` splits them). ``s<k>`` when its slot already does, else
    ``s<k>-<j>`` with the smallest such j (``s0``, ``s1``, ``s2`` alone would put two of three
    shards on one master)."""
    low, high = shard * SLOTS // count, (shard + 1) * SLOTS // count
    for j in itertools.count():
        tag = f"s{shard}-{j}" if j else f"s{shard}"
        if low <= key_slot(tag.encode()) < high:
            return tag
    raise AssertionError("unreachable")


def partition_of(key: bytes, partitions: int) -> int:
    """The partition of a keyed message among ``partitions`` as librdkafka's ``consistent`` and
    ``consistent_random`` partitioners pick it (CRC-32 of the key), the partitioner Sentinel's
    producers use (``data.simulator.producer_config``; other producers must use it too for a
    process that routes by key, the gateway's sync scoring, to agree with the mirror)."""
    return zlib.crc32(key) % partitions


@dataclass(frozen=True)
class Shards:
    """The runtime's key sets: ``count`` shards under ``prefix``, hash-tagged when ``tagged``.

    Routing: broker partition p goes to shard p mod count (:meth:`of_partition`), so every event of
    one broker key (``card1``) lands, in order, in one shard. Recycle-hold keys (``mirror_hold``,
    ``mirror_publishing``, used together by one script) are taken from shard 0 (:attr:`home`).
    """

    prefix: str
    count: int = 1
    tagged: bool = False

    def __post_init__(self) -> None:
        if self.tagged and "{" in self.prefix:
            raise ValueError(f"key prefix {self.prefix!r} has a '{{': it would override the shard hash tags")

    @classmethod
    def of(cls, settings: Settings) -> Shards:
        """Shards of the settings: tagged on a cluster (one slot per shard) or with several shards."""
        count = settings.streams.shards
        return cls(settings.redis.key_prefix, count, count > 1 or is_cluster(settings.redis.url or ""))

    def keys(self, shard: int) -> Keys:
        if not 0 <= shard < self.count:
            raise ValueError(f"shard {shard} out of range: {self.count} shard(s)")
        return Keys(f"{self.prefix}{{{shard_tag(shard, self.count)}}}:") if self.tagged else Keys(self.prefix)

    def of_partition(self, partition: int) -> int:
        """The shard broker partition ``partition`` feeds."""
        return partition % self.count

    def of_key(self, key: bytes, partitions: int) -> int:
        """The shard a message of broker key ``key`` reaches: the partition the producers'
        partitioner picks (:func:`partition_of`), routed by the mirror (:meth:`of_partition`)."""
        return self.of_partition(partition_of(key, partitions))

    @property
    def home(self) -> Keys:
        return self.keys(0)

    @property
    def common_prefix(self) -> str:
        """Prefix of the keys outside the stream shards that are written together (the operators'
        strategy, audit, alert verdicts and queue index): one hash tag of their own when tagged
        (``<prefix>{ops}:``, so a MULTI/EXEC over them stays in one slot), the plain prefix otherwise."""
        return f"{self.prefix}{{ops}}:" if self.tagged else self.prefix

    def __iter__(self) -> Iterator[Keys]:
        return (self.keys(shard) for shard in range(self.count))


KeySets = Keys | Shards
"""What the read side takes: one key set, or every shard's (read and summed / merged)."""


def key_sets(keys: KeySets) -> list[Keys]:
    return [keys] if isinstance(keys, Keys) else list(keys)
