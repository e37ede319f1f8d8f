"""Reliability bins: counts, frauds, mean prediction and observed rate per equal-width bin; ECE."""

from __future__ import annotations

import pytest

from gateway.services.breakdown import reliability


def test_bins_count_average_and_weigh_the_gap() -> None:
    labels = [0, 0, 1, 1, 1, 0]
    probs = [0.05, 0.15, 0.9, 0.95, 1.0, 0.6]
    result = reliability(labels, probs, bins=2)
    low, high = result.bins
    assert (low.count, low.frauds, low.observed_rate) == (2, 0, 0.0) and low.mean_predicted == pytest.approx(
        0.1
    )
    assert (high.count, high.frauds) == (4, 3)  # 1.0 falls in the last bin
    assert high.mean_predicted == pytest.approx(0.8625) and high.observed_rate == 0.75
    assert result.ece == pytest.approx((2 * 0.1 + 4 * 0.1125) / 6)


def test_no_labels_no_rates() -> None:
    result = reliability([], [], bins=3)
    assert result.labels == 0 and result.ece is None
    assert [b.count for b in result.bins] == [0, 0, 0] and result.bins[0].observed_rate is None
