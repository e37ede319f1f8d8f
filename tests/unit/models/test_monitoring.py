"""Drift (PSI), performance estimation from calibrated probabilities, and the promotion guard."""

from __future__ import annotations

import numpy as np
import pytest

from data.schema import decode_row
from data.shift import Shift
from models.drift import Status, feature_drift, overall, psi, status_of
from models.estimate import estimate, expected_average_precision, realised, wilson
from models.monitoring import performance
from models.promotion import Comparison, compare
from models.reference import reference_histograms
from models.window import UNKNOWN, Window


def test_psi_statuses_follow_the_conventional_cut_offs() -> None:
    assert [status_of(v) for v in (0.0, 0.099, 0.1, 0.249, 0.25)] == [
        "stable", "stable", "moderate", "moderate", "significant",
    ]  # fmt: skip
    same = np.array([0.1, 0.4, 0.5])
    assert psi(same, same) == 0.0
    assert psi(same, np.array([0.5, 0.4, 0.1])) > 0.25


def test_same_distribution_is_stable_and_a_shift_is_named() -> None:
    rng = np.random.default_rng(1)
    train = rng.lognormal(3, 1, size=(20_000, 2)).astype(np.float32)
    train[rng.random(20_000) < 0.3, 1] = np.nan
    refs = reference_histograms(train, ["amount", "other"])
    live = rng.lognormal(3, 1, size=(10_000, 2))
    live[rng.random(10_000) < 0.3, 1] = np.nan
    drifts = feature_drift(refs, live, ["amount", "other"])
    assert all(d.psi < 0.1 for d in drifts) and overall(drifts) == "stable"
    live[:, 0] *= 2.0
    live[rng.random(10_000) < 0.4, 1] = np.nan  # more nulls: the null bin counts too
    drifts = feature_drift(refs, live, ["amount", "other"])
    assert drifts[0].name == "amount" and drifts[0].status == "significant"
    assert drifts[1].live_null_share > drifts[1].reference_null_share + 0.1


@pytest.mark.parametrize("name", ["card_cnt_all", "email_cnt_7d", "device_distinct_card_24h"])
def test_history_dependent_and_group_activity_inputs_are_measured_but_never_alarm(name: str) -> None:
    rng = np.random.default_rng(2)
    refs = reference_histograms(rng.normal(size=(5_000, 1)).astype(np.float32), [name])
    drifts = feature_drift(refs, rng.normal(5, 1, size=(5_000, 1)), [name])
    assert drifts[0].status == "significant" and not drifts[0].watched
    assert overall(drifts) == "stable"


def test_a_cards_own_window_aggregates_do_alarm() -> None:
    rng = np.random.default_rng(2)
    refs = reference_histograms(rng.normal(size=(5_000, 1)).astype(np.float32), ["card_cnt_7d"])
    drifts = feature_drift(refs, rng.normal(5, 1, size=(5_000, 1)), ["card_cnt_7d"])
    assert drifts[0].watched and overall(drifts) == "significant"


def test_the_estimate_matches_labels_drawn_from_calibrated_probabilities() -> None:
    rng = np.random.default_rng(3)
    probs = rng.beta(0.5, 4, size=200_000)
    labels = (rng.random(len(probs)) < probs).astype(np.int_)
    amounts = rng.lognormal(4, 1, size=len(probs))
    est = estimate(probs, amounts, 0.3, 0.6)
    real = realised(labels, probs, amounts, 0.3, 0.6)
    for name in (
        "precision_at_review",
        "recall_at_review",
        "precision_at_decline",
        "recall_at_decline",
        "pr_auc",
    ):
        assert abs(getattr(est, name) - getattr(real, name)) < 0.02, name
    assert abs(est.fraud_amount_caught - real.fraud_amount_caught) < 0.03 * real.fraud_amount_caught
    assert expected_average_precision(np.zeros(3)) is None


@pytest.mark.parametrize(("hits", "rows"), [(60, 67), (0, 10), (10, 10), (3, 1_000), (500, 600)])
def test_the_wilson_interval_is_scipys(hits: int, rows: int) -> None:
    from scipy.stats import binomtest

    theirs = binomtest(hits, rows).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson(hits, rows) == pytest.approx((theirs.low, theirs.high), abs=1e-9)


def test_realised_shares_carry_the_interval_of_the_rows_they_are_counted_on() -> None:
    # 40 declined rows, 36 of them fraud; 400 reviewed-or-declined rows, 100 frauds among all rows
    probs = np.r_[np.full(40, 0.97), np.full(360, 0.5), np.full(1_600, 0.01)]
    labels = np.r_[np.ones(36), np.zeros(4), np.ones(60), np.zeros(300), np.ones(4), np.zeros(1_596)]
    real = realised(labels.astype(np.int_), probs, np.ones(len(probs)), 0.3, 0.95)
    assert (real.at_decline, real.at_review, real.fraud) == (40, 400, 100.0)
    assert real.intervals is not None
    assert real.intervals.precision_at_decline == wilson(36, 40)
    assert real.intervals.recall_at_decline == wilson(36, 100)
    assert real.intervals.precision_at_review == wilson(96, 400)
    low, high = real.intervals.precision_at_decline
    assert real.precision_at_decline == 0.9 and low < 0.9 < high and high - low > 0.15  # 40 rows: wide
    est = estimate(probs, np.ones(len(probs)), 0.3, 0.95)
    assert est.intervals is None and (est.at_decline, est.at_review) == (40, 400)
    nothing_declined = realised(labels.astype(np.int_), probs, np.ones(len(probs)), 0.3, 0.99)
    assert nothing_declined.intervals is not None and nothing_declined.intervals.precision_at_decline is None


def test_the_estimate_recalibrates_on_arrived_labels_when_the_fraud_rate_has_moved() -> None:
    # The champion was calibrated where fraud was twice as common (odds x2): every probability is
    # too high on today's traffic. Labels have arrived for the older half of the window only.
    rng = np.random.default_rng(5)
    n = 40_000
    chance = rng.beta(0.4, 10, size=n)
    odds = 2 * chance / (1 - chance)
    probs = odds / (1 + odds)
    truth = (rng.random(n) < chance).astype(np.int8)
    window = Window(
        ids=np.arange(n, dtype=np.int64),
        times=np.arange(n, dtype=np.int64),
        amounts=rng.lognormal(4, 1, size=n),
        probs=probs,
        versions=["v"] * n,
        challenger_probs=np.full(n, np.nan),
        challenger_versions=[None] * n,
        matrix=np.zeros((n, 1), dtype=np.float32),
        shards=np.zeros(n, dtype=np.int16),
    )
    arrived = np.where(np.arange(n) < n // 2, truth, UNKNOWN).astype(np.int8)
    later = realised(truth[n // 2 :].astype(np.int_), probs[n // 2 :], window.amounts[n // 2 :], 0.3, 0.6)

    def gaps(min_labels: tuple[int, int], status: Status = "significant") -> tuple[str, dict[str, float]]:
        perf = performance(window, arrived, (0.3, 0.6), 86_400, min_labels, status)
        assert perf.pending is not None and perf.pending.rows == n - n // 2
        names = (
            "precision_at_review",
            "recall_at_review",
            "precision_at_decline",
            "recall_at_decline",
            "pr_auc",
        )
        return perf.calibration.method, {k: abs(getattr(perf.pending, k) - getattr(later, k)) for k in names}

    method, recalibrated = gaps((1_000, 30))
    assert method == "platt" and max(recalibrated.values()) < 0.03, recalibrated
    method, as_trained = gaps((n, 30))  # too few labels to re-fit: the champion's calibration
    assert method == "champion" and max(as_trained.values()) > 0.1, as_trained
    method, _ = gaps((1_000, 30), "stable")  # nothing moved: the champion's calibration is kept
    assert method == "champion"


def test_a_better_candidate_is_accepted_and_a_shuffled_one_rejected_with_the_reason() -> None:
    rng = np.random.default_rng(4)
    signal = rng.normal(size=20_000)
    labels = (rng.random(20_000) < 1 / (1 + np.exp(-(3 * signal - 4)))).astype(np.int_)
    good = 1 / (1 + np.exp(-(3 * signal - 4)))
    blurred = signal + rng.normal(scale=1.0, size=len(signal))  # the champion sees a noisier signal
    weak = 1 / (1 + np.exp(-(1.5 * blurred - 3.2)))

    def judge(champion: np.ndarray, candidate: np.ndarray) -> Comparison:
        return compare(labels, champion, candidate, rounds=100, margin=0.0, ece_tolerance=0.01)

    better = judge(weak, good)
    assert better.accepted and better.delta_low > 0, better.reason
    shuffled = judge(good, rng.permutation(good))
    assert not shuffled.accepted and "does not clear the margin" in shuffled.reason
    overconfident = judge(good, np.clip(good * 3, 0, 1))
    assert not overconfident.accepted


def test_shift_changes_rows_only_from_its_start() -> None:
    row = {"TransactionID": 1, "TransactionDT": 100, "TransactionAmt": 10.0, "ProductCD": "W", "card1": 2000}
    before, after = decode_row(row), decode_row(row | {"TransactionID": 2, "TransactionDT": 200})
    shift = Shift(150, amount_factor=1.5)
    assert shift.apply(before) == before
    assert shift.apply(after).TransactionAmt == round(after.TransactionAmt * 1.5, 3)
    fraud = Shift(0, fraud_cards=(after.card1, after.card1 + 1), fraud_share=1.0)
    assert fraud.apply(after).isFraud == 1


def test_thinning_drops_a_share_of_one_product_from_its_start_and_changes_nothing_else() -> None:
    rows = [
        decode_row(
            {
                "TransactionID": 2 * i + k,
                "TransactionDT": 100 + i,
                "TransactionAmt": 10.0,
                "ProductCD": p,
                "card1": 2000,
            }
        )
        for i in range(4_000)
        for k, p in enumerate("WC")
    ]
    shift = Shift(2_100, thin=("W", 0.5))
    kept = list(shift.stream(rows))
    assert all(tx in rows for tx in kept)  # kept rows are sent unchanged
    before = [tx for tx in kept if tx.TransactionDT < 2_100]
    assert len(before) == sum(tx.TransactionDT < 2_100 for tx in rows)  # nothing before the start
    late_w = sum(tx.ProductCD == "W" and tx.TransactionDT >= 2_100 for tx in kept)
    late_c = sum(tx.ProductCD == "C" and tx.TransactionDT >= 2_100 for tx in kept)
    assert late_c == 2_000 and 900 < late_w < 1_100  # about half of W after the start
    assert kept == list(shift.stream(rows))  # decided per TransactionID: the same on every run
    with pytest.raises(ValueError, match="not in"):
        Shift.parse_thin("W:1.5")
