"""Publish -> scored latency histogram: buckets and quantile estimates."""

from __future__ import annotations

from collections import Counter

import pytest

from functions.latency import BOUNDS_MS, OVERFLOW, bucket, quantile


def test_a_latency_counts_in_the_smallest_bound_it_does_not_exceed() -> None:
    assert [bucket(ms) for ms in (0.3, 1.0, 1.01, 37.0, 60_000.0)] == [
        "lat_le_1", "lat_le_1", "lat_le_2", "lat_le_50", "lat_le_60000",
    ]  # fmt: skip
    assert bucket(61_000.0) == OVERFLOW


def test_quantiles_interpolate_within_the_bucket() -> None:
    counters = Counter(bucket(ms) for ms in [15.0] * 90 + [150.0] * 9 + [700.0])  # 90 / 9 / 1 %
    assert quantile(counters, 0.5) == pytest.approx(10 + 10 * 50 / 90, abs=0.001)  # in the 10-20 ms bucket
    assert 100 <= quantile(counters, 0.95) <= 200  # type: ignore[operator]
    assert 500 <= quantile(counters, 0.995) <= 1_000  # type: ignore[operator]
    assert quantile({}, 0.99) is None
    assert quantile({OVERFLOW: 3}, 0.5) == BOUNDS_MS[-1]
