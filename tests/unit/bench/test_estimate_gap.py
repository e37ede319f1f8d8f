"""The lifecycle bench's judge: a gap with its interval, a bootstrap over clients, not rows."""

from __future__ import annotations

import numpy as np

from infra.bench.estimate_gap import compare, reliability
from models.estimate import wilson


def _clients_all_or_nothing(seed: int, clients: int = 3_000, size: int = 8) -> tuple[np.ndarray, ...]:
    """Clients of ``size`` transactions each, all fraud or all legitimate (as in the data), every
    transaction scored with its client's calibrated chance."""
    rng = np.random.default_rng(seed)
    chance = rng.beta(0.3, 3, size=clients)
    fraud = rng.random(clients) < chance
    who = np.repeat(np.arange(clients), size)
    return chance[who], fraud[who], who


def test_a_calibrated_estimate_is_inside_the_gap_interval_and_clients_widen_it() -> None:
    probs, fraud, clients = _clients_all_or_nothing(1)
    judged = compare(probs, probs, fraud, clients, threshold=0.6)["precision"]
    low, high = judged["gap_ci"]
    assert judged["rows"] == int((probs >= 0.6).sum()) and low < 0 < high, judged
    wilson_low, wilson_high = judged["gap_ci_wilson"]
    # 8 transactions per client are one draw, not 8: the interval over clients is ~sqrt(8) wider
    assert high - low > 2 * (wilson_high - wilson_low), judged
    assert judged["realised_ci"] == [round(v, 4) for v in wilson(judged["hits"], judged["rows"])]


def test_an_optimistic_estimate_is_told_apart_from_noise() -> None:
    probs, fraud, clients = _clients_all_or_nothing(2, clients=20_000, size=2)
    optimistic = np.minimum(1.0, probs + 0.1)  # every chance 0.1 too high
    judged = compare(probs, optimistic, fraud, clients, threshold=0.6)
    assert judged["precision"]["gap_ci"][0] > 0, judged  # the interval excludes "no bias"
    assert judged["recall"]["gap"] is not None


def test_reliability_bands_count_the_top_of_the_scale() -> None:
    probs = np.array([0.55, 0.85, 0.96, 0.99, 1.0, 0.1])
    fraud = np.array([False, True, True, True, True, False])
    bands = reliability(probs, probs, fraud)
    assert [b["rows"] for b in bands] == [1, 1, 0, 1, 2]  # 1.0 falls in the last, closed band
    assert bands[-1]["fraud_share"] == 1.0 and bands[2]["mean_chance"] is None
