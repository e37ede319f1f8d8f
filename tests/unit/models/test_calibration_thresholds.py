"""Calibration, cost-optimal thresholds, metrics and hygiene on small synthetic arrays."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from models.calibration import Calibrator, fit_best, fit_isotonic, fit_platt
from models.hygiene import select_features
from models.metrics import evaluate, expected_calibration_error, recall_at_fpr
from models.thresholds import CostModel, cost_curve

RNG = np.random.default_rng(3)


def _scores(n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores that are miscalibrated (too confident) for known true probabilities."""
    true_p = 1 / (1 + np.exp(-(RNG.normal(size=n) * 1.5 - 3.5)))
    labels = (RNG.random(n) < true_p).astype(np.int_)
    raw = 1 / (1 + np.exp(-(np.log(true_p / (1 - true_p)) * 2.0 + 1.0)))
    return raw, labels


def test_calibration_reduces_error_and_round_trips_as_json() -> None:
    raw, labels = _scores()
    best = fit_best(raw, labels)
    assert best.method in ("isotonic", "platt")
    assert {"isotonic_brier", "platt_brier"} <= set(best.scores)
    assert expected_calibration_error(labels, best.apply(raw)) < 0.5 * expected_calibration_error(labels, raw)
    again = Calibrator.from_dict(json.loads(json.dumps(best.to_dict())))
    assert np.array_equal(again.apply(raw), best.apply(raw))


def test_platt_recovers_a_logistic_distortion_and_isotonic_is_monotone() -> None:
    raw, labels = _scores(50_000)
    platt = fit_platt(raw, labels)
    assert platt.a == pytest.approx(0.5, abs=0.08)  # raw logit = 2 * true logit + 1
    iso = fit_isotonic(raw, labels)
    assert np.all(np.diff(iso.apply(np.linspace(0, 1, 101))) >= 0)


def test_cost_curve_matches_brute_force() -> None:
    n = 400
    probs = RNG.random(n) ** 3
    labels = (RNG.random(n) < probs).astype(np.int_)
    amounts = RNG.gamma(2, 40, n)
    costs = CostModel(review_fee=2.0, decline_fee=5.0, decline_amount_share=0.2)
    curve = cost_curve(labels, probs, amounts, costs, points=21)

    def brute(review: float, decline: float) -> float:
        approve, decline_rows = probs < review, probs >= decline
        review_rows = ~approve & ~decline_rows
        return float(
            amounts[approve & (labels == 1)].sum()
            + costs.review_fee * review_rows.sum()
            + (costs.decline_fee + costs.decline_amount_share * amounts[decline_rows & (labels == 0)]).sum()
        )

    best = min(brute(r, d) for r, d in itertools.product(curve.grid, curve.grid) if r <= d)
    assert curve.best_cost == pytest.approx(best)
    assert brute(curve.review, curve.decline) == pytest.approx(best)
    assert 0 <= curve.review <= curve.decline <= 1


def test_metrics_on_a_perfect_ranking() -> None:
    labels = np.array([0] * 98 + [1, 1])
    probs = np.linspace(0, 0.5, 100)
    amounts = np.full(100, 10.0)
    metrics = evaluate(labels, probs, amounts, review=0.49, decline=0.495)
    assert metrics["roc_auc"] == 1.0 and metrics["pr_auc"] == 1.0
    assert metrics["recall_at_1pct_fpr"] == 1.0 == recall_at_fpr(labels, probs)
    assert metrics["fraud_amount_caught"] == 20.0
    assert metrics["legit_amount_declined"] == 0.0
    assert metrics["precision_at_decline"] == 1.0


def test_ece_is_zero_when_calibrated_by_construction() -> None:
    probs = np.repeat([0.1, 0.5], 10)
    labels = np.array([1] + [0] * 9 + [1] * 5 + [0] * 5)
    assert expected_calibration_error(labels, probs) == pytest.approx(0.0)


def test_hygiene_drops_constant_duplicate_and_correlated_v_columns() -> None:
    n = 2000
    base = RNG.normal(size=n)
    missing = RNG.random(n) < 0.4
    v1 = np.where(missing, np.nan, base)
    v2 = np.where(missing, np.nan, base * 3 + RNG.normal(size=n) * 0.01)  # same block, correlated
    v3 = np.where(missing, np.nan, RNG.normal(size=n))  # same block, independent
    v4 = RNG.normal(size=n)  # other missing pattern
    amount = RNG.gamma(2, 10, n)
    matrix = np.column_stack([amount, amount, np.zeros(n), v1, v2, v3, v4]).astype(np.float32)
    names = ["amt", "amt_copy", "flat", "V1", "V2", "V3", "V4"]
    selection = select_features(matrix, names)
    assert selection.kept == ["amt", "V1", "V3", "V4"]
    assert selection.dropped["amt_copy"] == "duplicate of amt"
    assert selection.dropped["flat"] == "near-constant"
    assert "V1" in selection.dropped["V2"]
    assert selection.v_groups == [["V1", "V3", "V2"], ["V4"]]


def test_tuning_searches_and_feeds_the_final_model() -> None:
    from core.settings import ModelSettings
    from models.training import train
    from tests.unit.models.conftest import synthetic_set

    result = train(
        synthetic_set(3000, 1), "lightgbm", ModelSettings(rounds=30, tune_trials=3), tune_search=True
    )
    assert {"learning_rate", "num_leaves", "min_data_in_leaf", "feature_fraction"} <= set(
        result.params["lightgbm"]
    )
    assert 0 < result.metrics["pr_auc"] <= 1
