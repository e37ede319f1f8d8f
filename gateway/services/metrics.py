"""Operations view: the score stage's per-minute KPI counters, label quality and per-function stats.

Everything is read from Redis, summed over every stream shard (``streams.keys.Shards``: one
key set on one Redis; on a Redis Cluster each shard's score stage writes its own counters and its
label stage its own window): KPI hashes (``ScoreKeys.kpi``, one per minute, written in the
score stage's atomic commit; counter names from ``functions.result``, the publish -> scored
latency histogram from ``functions.latency``), the label stage's
counters and its window of the latest labels (the live quality is computed from it here, at the
review threshold in force, ``functions.label.live_quality``), and the runtime's
per-function counters, batch latencies and consumer lag (``streams.metrics``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis

from functions import latency
from functions.decision import Decision
from functions.keys import LabelKeys, ScoreKeys
from functions.label import live_quality
from functions.label_store import RedisLabelStore
from functions.result import SCORED, amount_field, count_field
from gateway.schemas.metrics import FunctionMetrics, MinutePoint, Overview, Quality, Timeseries, Volumes
from streams.keys import KeySets, key_sets
from streams.metrics import read_function_stats

# KPI decision counters -> the API's volume names
VOLUMES: tuple[tuple[Decision, str], ...] = (
    ("approve", "approved"),
    ("review", "reviewed"),
    ("decline", "declined"),
)


def _summed(series: Sequence[tuple[int, dict[str, float]]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for _, counters in series:
        for name, value in counters.items():
            totals[name] = totals.get(name, 0.0) + value
    return totals


def _floats(raw: dict[bytes, bytes]) -> dict[str, float]:
    return {k.decode(): float(v) for k, v in raw.items()}


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


class ShardedLabels:
    """The label stores of every shard read as one (``functions.label.LabelReads``):
    their windows of latest labels together, their waiting labels summed."""

    def __init__(self, stores: Sequence[RedisLabelStore]) -> None:
        self._stores = list(stores)

    def window(self) -> list[tuple[int, float]]:
        return [pair for store in self._stores for pair in store.window()]

    def waiting(self) -> int:
        return sum(store.waiting() for store in self._stores)


class MetricsService:
    def __init__(
        self,
        client: redis.Redis,
        keys: KeySets,
        functions: Sequence[tuple[str, str, str]],  # (name, input stream, group) of the pipeline
        review_threshold: Callable[[], float],  # the live one (the strategy in force)
    ) -> None:
        self._redis = client
        self._keys = keys
        self._results = [ScoreKeys(shard.prefix) for shard in key_sets(keys)]
        self._labels = [LabelKeys(shard.prefix) for shard in key_sets(keys)]
        self._functions = list(functions)
        self._review_threshold = review_threshold
        self._label_store = ShardedLabels(
            [
                RedisLabelStore(client, labels, results)
                for labels, results in zip(self._labels, self._results, strict=True)
            ]
        )

    def _minutes(self, count: int) -> list[tuple[int, dict[str, float]]]:
        """(minute index, counters summed over the shards) of the last ``count`` minutes, oldest
        first, the current one last."""
        now = int(time.time() // 60)
        minutes = list(range(now - count + 1, now + 1))
        pipe = self._redis.pipeline(transaction=False)
        for minute in minutes:
            for results in self._results:
                pipe.hgetall(results.kpi(minute))
        found = pipe.execute()
        n = len(self._results)
        return [
            (m, _summed([(m, _floats(raw)) for raw in found[i * n : (i + 1) * n]]))
            for i, m in enumerate(minutes)
        ]

    def timeseries(self, minutes: int) -> Timeseries:
        return Timeseries(points=[_point(m, c) for m, c in self._minutes(minutes)])

    def totals(self, minutes: int) -> dict[str, float]:
        """The KPI counters (``functions.result``, ``functions.latency``) summed over the last minutes."""
        return _summed(self._minutes(minutes))

    def overview(self, minutes: int) -> Overview:
        series = self._minutes(minutes)
        totals = _summed(series)
        # throughput over the last complete minute (the current one is still filling)
        last_full = series[-2][1].get(SCORED, 0.0) if len(series) > 1 else 0.0
        labels = _summed([(0, _floats(self._label_stats(keys))) for keys in self._labels])
        quality = live_quality(self._label_store, self._review_threshold())
        functions = [self._function(*f) for f in self._functions]
        return Overview(
            volumes=Volumes(
                minutes=minutes,
                **_volumes(totals),
                throughput_per_s=round(last_full / 60, 3),
                latency_p50_ms=latency.quantile(totals, 0.5),
                latency_p95_ms=latency.quantile(totals, 0.95),
                latency_p99_ms=latency.quantile(totals, 0.99),
            ),
            fraud_rate=labels["fraud"] / labels["labels"] if labels.get("labels") else None,
            labels=int(labels.get("labels", 0)),
            labels_waiting=quality.labels_waiting,
            quality=None
            if not quality.window
            else Quality(
                window=quality.window,
                fraud=quality.fraud,
                precision=_finite(quality.precision),
                recall=_finite(quality.recall),
                pr_auc=_finite(quality.pr_auc),
            ),
            functions=functions,
        )

    def _label_stats(self, keys: LabelKeys) -> Any:
        return self._redis.hgetall(keys.stats)

    def _function(self, name: str, stream: str, group: str) -> FunctionMetrics:
        stats = read_function_stats(self._redis, self._keys, name, stream, group)
        return FunctionMetrics(
            name=name,
            processed=stats.processed,
            failed=stats.failed,
            dead_lettered=stats.dead_lettered,
            batch_latency_p50_ms=stats.latency_p50_ms,
            batch_latency_p99_ms=stats.latency_p99_ms,
            lag=stats.lag,
            pending=stats.pending,
        )


def _volumes(counters: dict[str, float]) -> dict[str, Any]:
    """The KPI counters (``functions.result``) as the API names them."""
    volumes: dict[str, Any] = {"scored": int(counters.get(SCORED, 0))}
    for decision, name in VOLUMES:
        volumes[name] = int(counters.get(count_field(decision), 0))
        volumes[f"amount_{name}"] = round(counters.get(amount_field(decision), 0.0), 2)
    return volumes


def _point(minute: int, counters: dict[str, float]) -> MinutePoint:
    return MinutePoint(
        minute=minute * 60, **_volumes(counters), latency_p99_ms=latency.quantile(counters, 0.99)
    )
