"""Score stage, KPIs: publish -> scored latency as a per-minute histogram, and its quantiles.

The score stage adds one count per transaction to the bucket of its latency (a field of the
minute's KPI hash, so it commits atomically with the other counters and sums across minutes
and workers); the gateway reads p50 / p95 / p99 from the summed buckets. A quantile is an
estimate: linear within its bucket, so at worst off by the bucket's width (buckets grow
1-2-5 per decade, 1 ms .. 60 s).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping

BOUNDS_MS: tuple[float, ...] = (
    1,
    2,
    5,
    10,
    20,
    50,
    100,
    200,
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    60_000,
)
PREFIX = "lat_le_"
OVERFLOW = f"{PREFIX}inf"


def bucket(latency_ms: float) -> str:
    """The KPI field counting ``latency_ms``: the smallest upper bound it does not exceed."""
    i = bisect.bisect_left(BOUNDS_MS, latency_ms)
    return f"{PREFIX}{BOUNDS_MS[i]:g}" if i < len(BOUNDS_MS) else OVERFLOW


def counts(latencies_ms: Iterable[float]) -> dict[str, int]:
    """The histogram fields a batch adds to its minute: bucket -> how many of ``latencies_ms``."""
    out: dict[str, int] = {}
    for ms in latencies_ms:
        field = bucket(ms)
        out[field] = out.get(field, 0) + 1
    return out


def quantile(counters: Mapping[str, float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of the latencies counted in ``counters`` (None when there are none)."""
    counts = [counters.get(f"{PREFIX}{b:g}", 0.0) for b in BOUNDS_MS] + [counters.get(OVERFLOW, 0.0)]
    total = sum(counts)
    if total <= 0:
        return None
    target, seen = q * total, 0.0
    for i, count in enumerate(counts):
        if count and seen + count >= target:
            if i == len(BOUNDS_MS):  # beyond the last bound: report the bound, a floor
                return BOUNDS_MS[-1]
            low = BOUNDS_MS[i - 1] if i else 0.0
            return round(low + (BOUNDS_MS[i] - low) * (target - seen) / count, 3)
        seen += count
    return BOUNDS_MS[-1]
