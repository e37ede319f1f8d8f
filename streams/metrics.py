"""Runtime observability: per-function counters and latencies in Redis, exported to Prometheus.

Counters (processed, failed, dead_lettered, batches, reclaimed) are incremented inside the
atomic commit, so they are exact across crashes. Batch latencies (read -> committed, in
microseconds) go to a capped list (buffered, written about once a second and at exit). The gateway reads them with
:func:`read_function_stats`; ``sentinel fn run --metrics-port`` serves the same numbers to
Prometheus through :class:`StreamsCollector`, which reads Redis at scrape time. Both read one
key set or every shard's (``streams.keys.Shards``): counters, lag and pending are summed over the
shards, latency percentiles taken over all shards' samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from streams.groups import group_state
from streams.keys import Keys, KeySets, key_sets
from streams.outage import REDIS_DOWN

COUNTERS = ("processed", "failed", "dead_lettered", "batches", "reclaimed")


@dataclass(frozen=True)
class FunctionStats:
    """What one function has done, and how far behind its input it is."""

    name: str
    processed: int
    failed: int
    dead_lettered: int
    batches: int
    reclaimed: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    lag: int | None
    pending: int | None


def record_latency(client: redis.Redis, keys: Keys, function: str, micros: Sequence[int], keep: int) -> None:
    """Remember batch latencies (oldest first), keeping the newest ``keep``."""
    key = keys.function_latency(function)
    pipe = client.pipeline(transaction=False)
    pipe.lpush(key, *micros)
    pipe.ltrim(key, 0, keep - 1)
    pipe.execute()


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def read_function_stats(
    client: redis.Redis, keys: KeySets, name: str, input_stream: str, group: str
) -> FunctionStats:
    """Counters, batch latency percentiles and consumer-group lag of one function."""
    counts = dict.fromkeys(COUNTERS, 0)
    micros: list[float] = []
    states = []
    for shard in key_sets(keys):
        raw: Any = client.hgetall(shard.function_stats(name))
        for k, v in raw.items():
            counts[k.decode()] = counts.get(k.decode(), 0) + int(float(v))
        samples: Any = client.lrange(shard.function_latency(name), 0, -1)
        micros += [float(v) for v in samples]
        states.append(group_state(client, shard.stream(input_stream), group))
    p50, p99 = percentile(micros, 50), percentile(micros, 99)
    joined = [state for state in states if state is not None]
    return FunctionStats(
        name=name,
        **{c: counts[c] for c in COUNTERS},
        latency_p50_ms=None if p50 is None else p50 / 1000,
        latency_p99_ms=None if p99 is None else p99 / 1000,
        lag=sum(state.lag for state in joined) if joined else None,
        pending=sum(state.pending for state in joined) if joined else None,
    )


def read_mirror_stats(client: redis.Redis, keys: KeySets) -> dict[str, int]:
    """The mirror's counters: ``copied:<topic>``, ``pauses:<topic>``, ``paused:<topic>`` (0/1)."""
    totals: dict[str, int] = {}
    for shard in key_sets(keys):
        raw: Any = client.hgetall(shard.mirror_stats)
        for k, v in raw.items():
            totals[k.decode()] = totals.get(k.decode(), 0) + int(v)
    return totals


class StreamsCollector(Collector):
    """Prometheus collector over the functions ``(name, input stream, group)``; reads Redis per scrape."""

    def __init__(
        self,
        client: redis.Redis,
        keys: KeySets,
        functions: Sequence[tuple[str, str, str]],
        ready: Callable[[], bool] | None = None,
    ) -> None:
        self._client = client
        self._keys = keys
        self._functions = list(functions)
        self._ready = ready  # this process's readiness (False while Redis or a model is missing)

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        if self._ready is not None:
            ready = GaugeMetricFamily("sentinel_process_ready", "1 when this process can do its work, else 0")
            ready.add_metric([], 1.0 if self._ready() else 0.0)
            yield ready
        try:
            families = list(self._from_redis())
        except REDIS_DOWN:  # the outage is reported by the readiness gauge; no stale figures
            return
        yield from families

    def _from_redis(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        counters = {
            c: CounterMetricFamily(
                f"sentinel_function_{c}", f"Entries {c} by the function", labels=["function"]
            )
            for c in COUNTERS
        }
        lag = GaugeMetricFamily(
            "sentinel_function_lag", "Entries not yet read by the group", labels=["function"]
        )
        pending = GaugeMetricFamily(
            "sentinel_function_pending", "Entries read, not acked", labels=["function"]
        )
        latency = GaugeMetricFamily(
            "sentinel_function_batch_latency_ms", "Recent batch latency", labels=["function", "quantile"]
        )
        for name, stream, group in self._functions:
            stats = read_function_stats(self._client, self._keys, name, stream, group)
            for c in COUNTERS:
                counters[c].add_metric([name], getattr(stats, c))
            if stats.lag is not None and stats.pending is not None:
                lag.add_metric([name], stats.lag)
                pending.add_metric([name], stats.pending)
            for q, value in (("0.5", stats.latency_p50_ms), ("0.99", stats.latency_p99_ms)):
                if value is not None:
                    latency.add_metric([name, q], value)
        yield from counters.values()
        yield from (lag, pending, latency)
