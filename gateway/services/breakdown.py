"""Overview breakdown and model reliability: the score stage's per-segment counters and the labelled window.

Decisions and amounts per product, card network, card type and device type come from the
per-minute segment counters the score stage writes in its commit (``functions.result``:
``segment_increments``); labelled fraud per value from the latest labelled, scored transactions
(the label store's window), whose label hashes carry the segment the result had when joined.
The reliability diagram bins the same window by predicted probability.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import redis

from functions.keys import LabelKeys, ScoreKeys
from functions.label_store import read_windows
from functions.result import SEGMENT_COLUMNS, read_segment_counters, split_segment
from gateway.schemas.metrics import Breakdown, Dimension, Reliability, ReliabilityBin, SegmentRow
from streams.keys import KeySets, key_sets

_DECISIONS = ("approve", "review", "decline")


def reliability(labels: Sequence[int], probs: Sequence[float], bins: int) -> Reliability:
    """Equal-width probability bins: per bin the count, frauds, mean prediction and observed rate."""
    y, p = np.asarray(labels, dtype=np.float64), np.asarray(probs, dtype=np.float64)
    index = np.clip((p * bins).astype(np.int64), 0, bins - 1)
    out, gap = [], 0.0
    for b in range(bins):
        inside = index == b
        n = int(inside.sum())
        mean_p = float(p[inside].mean()) if n else None
        rate = float(y[inside].mean()) if n else None
        if mean_p is not None and rate is not None:
            gap += n * abs(mean_p - rate)
        out.append(
            ReliabilityBin(
                lower=b / bins,
                upper=(b + 1) / bins,
                count=n,
                frauds=int(y[inside].sum()),
                mean_predicted=mean_p,
                observed_rate=rate,
            )
        )
    return Reliability(labels=len(y), ece=gap / len(y) if len(y) else None, bins=out)


class _Row:
    def __init__(self) -> None:
        self.counts = dict.fromkeys(_DECISIONS, 0)
        self.amounts = dict.fromkeys(_DECISIONS, 0.0)
        self.labelled = self.frauds = 0
        self.fraud_amount = self.caught = 0.0

    def view(self, value: str) -> SegmentRow:
        c, a = self.counts, self.amounts
        return SegmentRow(
            value=value,
            scored=sum(c.values()),
            approved=c["approve"],
            reviewed=c["review"],
            declined=c["decline"],
            amount_approved=round(a["approve"], 2),
            amount_reviewed=round(a["review"], 2),
            amount_declined=round(a["decline"], 2),
            labelled=self.labelled,
            frauds=self.frauds,
            fraud_amount=round(self.fraud_amount, 2),
            fraud_amount_caught=round(self.caught, 2),
        )


class BreakdownService:
    def __init__(self, client: redis.Redis, keys: KeySets) -> None:
        """``keys``: every stream shard's (each shard's score and label stages keep their own
        counters and label window: read and summed / merged)."""
        self._redis = client
        self._results = [ScoreKeys(shard.prefix) for shard in key_sets(keys)]
        self._labels = [LabelKeys(shard.prefix) for shard in key_sets(keys)]

    def breakdown(self, minutes: int, review_threshold: float, labels: int) -> Breakdown:
        rows: dict[tuple[str, str], _Row] = {}

        def row(column: str, value: str) -> _Row:
            return rows.setdefault((column, value), _Row())

        for (segment, decision), (count, amount) in read_segment_counters(self._counters(minutes)).items():
            if decision not in _DECISIONS:
                continue
            for column, value in split_segment(segment).items():
                r = row(column, value)
                r.counts[decision] += count
                r.amounts[decision] += amount
        window = read_windows(self._redis, self._labels, labels)
        pipe = self._redis.pipeline(transaction=False)
        for tx_id, _, _, store in window:
            pipe.hmget(store.label(tx_id), ["amount", "segment"])
        for (_, y, p, _), (amount, segment) in zip(window, pipe.execute(), strict=True):
            if not segment:
                continue  # labelled before segments were kept
            money = float(amount or 0.0)
            for column, value in split_segment(segment.decode()).items():
                r = row(column, value)
                r.labelled += 1
                if y:
                    r.frauds += 1
                    r.fraud_amount += money
                    if p >= review_threshold:
                        r.caught += money
        dimensions = []
        for column in SEGMENT_COLUMNS:
            views = [r.view(value) for (c, value), r in rows.items() if c == column]
            views.sort(key=lambda v: (-v.scored, -v.labelled, v.value))
            dimensions.append(Dimension(name=column, rows=views))
        return Breakdown(
            minutes=minutes, review_threshold=review_threshold, labels=len(window), dimensions=dimensions
        )

    def reliability(self, bins: int, labels: int) -> Reliability:
        window = read_windows(self._redis, self._labels, labels)
        return reliability([y for _, y, _, _ in window], [p for _, _, p, _ in window], bins)

    def _counters(self, minutes: int) -> dict[str, float]:
        now = int(time.time() // 60)
        pipe = self._redis.pipeline(transaction=False)
        for minute in range(now - minutes + 1, now + 1):
            for results in self._results:
                pipe.hgetall(results.segments(minute))
        totals: dict[str, float] = {}
        raw: Any
        for raw in pipe.execute():
            for name, value in raw.items():
                key = name.decode()
                totals[key] = totals.get(key, 0.0) + float(value)
        return totals
