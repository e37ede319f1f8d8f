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


def _campaign_on_top(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A calibration slice whose 30 highest-scored rows were all fraud (a campaign), though
    their chance of fraud is about 0.7: raw scores, labels, the top rows."""
    rng = np.random.default_rng(seed)
    true_p = 1 / (1 + np.exp(-(rng.normal(size=10_000) * 1.6 - 4.0)))
    labels = (rng.random(len(true_p)) < true_p).astype(np.int_)
    top = np.argsort(true_p)[-30:]
    labels[top] = 1
    return true_p, labels, top


@pytest.mark.parametrize("seed", [1, 3])
def test_an_all_fraud_top_step_is_not_calibrated_to_certainty(seed: int) -> None:
    """The plain isotonic fit puts these rows on a step at exactly 1.0 (and on these seeds the
    old in-sample comparison chose it); shrunk toward Platt they stay near their real chance."""
    raw, labels, top = _campaign_on_top(seed)
    assert fit_isotonic(raw, labels, prior_rows=0).apply(raw[top]).min() == 1.0  # the old top step
    shrunk = fit_isotonic(raw, labels).apply(raw[top])
    assert shrunk.max() < 0.9
    best = fit_best(raw, labels)
    assert best.apply(raw[top]).mean() == pytest.approx(raw[top].mean(), abs=0.1)
    assert {"isotonic_log_loss", "platt_log_loss", "isotonic_brier", "platt_brier"} <= set(best.scores)


def test_isotonic_without_a_prior_is_scikit_learns_and_with_one_stays_monotone() -> None:
    from sklearn.isotonic import IsotonicRegression

    raw, labels = _scores(5_000)
    raw = np.round(raw, 3)  # ties, which scikit-learn pools
    grid = np.linspace(-0.1, 1.1, 1_001)
    plain = IsotonicRegression(out_of_bounds="clip").fit(raw, labels).predict(grid)
    assert np.array_equal(fit_isotonic(raw, labels, prior_rows=0).apply(grid), plain)
    assert np.all(np.diff(fit_isotonic(raw, labels).apply(grid)) >= 0)


def test_without_both_classes_in_the_older_half_platt_is_kept() -> None:
    raw, labels = _scores(4_000)
    labels[: len(labels) // 2] = 0
    assert fit_best(raw, labels).method == "platt"


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
