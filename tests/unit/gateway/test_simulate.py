"""Strategy simulation: precision, recall, rates and money for thresholds over labelled scores."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.problems import Invalid
from gateway.services.strategy import DeclineCost, check_order, simulate

PROBS = np.array([0.05, 0.2, 0.5, 0.6, 0.9, 0.95])
LABELS = np.array([0, 1, 0, 1, 0, 1])
AMOUNTS = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
COST = DeclineCost(fee=10.0, amount_share=0.1)


def test_counts_money_and_rates() -> None:
    result = simulate(0.4, 0.8, PROBS, LABELS, AMOUNTS, COST)
    # flagged: 0.5, 0.6, 0.9, 0.95 -> frauds among them: 0.6, 0.95
    assert result.precision == pytest.approx(2 / 4)
    assert result.recall == pytest.approx(2 / 3)
    assert result.review_rate == pytest.approx(2 / 6)
    assert result.decline_rate == pytest.approx(2 / 6)
    assert result.fraud_amount_total == pytest.approx(120.0)
    assert result.fraud_amount_caught == pytest.approx(100.0)
    assert result.false_decline_cost == pytest.approx(10.0 + 0.1 * 50.0)  # the legitimate 0.9


def test_nothing_flagged_has_no_precision() -> None:
    result = simulate(0.99, 0.999, PROBS, LABELS, AMOUNTS, COST)
    assert result.precision is None
    assert result.recall == 0.0


def test_empty_history() -> None:
    empty = np.array([])
    result = simulate(0.3, 0.8, empty, empty.astype(int), empty, COST)
    assert (result.transactions, result.precision, result.recall, result.review_rate) == (0, None, None, 0.0)


@pytest.mark.parametrize(("review", "decline"), [(0.5, 0.5), (0.8, 0.3)])
def test_review_must_be_below_decline(review: float, decline: float) -> None:
    with pytest.raises(Invalid) as err:
        check_order(review, decline)
    assert err.value.field == "decline_threshold"
