"""Monitoring step: model performance estimated from calibrated probabilities, before labels arrive.

Confidence-based performance estimation: if the probabilities are calibrated, a transaction
scored ``p`` is fraud with probability ``p``, so over a set of scored transactions

    expected true positives at threshold t   = sum of p over rows with p >= t
    expected frauds                           = sum of p over all rows
    precision ~ E[TP] / flagged,  recall ~ E[TP] / E[frauds]

and the expected average precision follows by ranking the rows by ``p`` and adding each
row's expected contribution (``p / E[frauds]`` of recall at the running expected precision).
The expected fraud amount caught is the sum of ``p * amount`` at or above the review
threshold.

The realised figures carry 95 % Wilson intervals (``Intervals``): the realised precision at
the decline threshold is counted on the few transactions declined, tens to hundreds, so on
its own it moves by several points from one window to the next; an estimate that differs from
it by less than that interval is not shown wrong by it.

The rows are flagged by the live score, but the chance that a row is fraud may be given
apart from it (``chances``): the score re-calibrated on the newest arrived labels
(``models.monitoring``), since the champion's calibration was fitted on older rows whose
fraud rate the live traffic need not keep. The estimate holds as long as that calibration
holds on the rows without labels (a pure covariate shift keeps it; a new fraud pattern
breaks it, which is why the realised metrics from arrived labels are shown beside it).
"""

from __future__ import annotations

import math

import msgspec
import numpy as np
import numpy.typing as npt

from functions.label import average_precision

Floats = npt.NDArray[np.float64]


class Intervals(msgspec.Struct, frozen=True, kw_only=True):
    """95 % Wilson intervals (``wilson``) of realised shares, each counted on a few rows: the
    transactions flagged (precision) or the frauds (recall); None where there are none."""

    precision_at_review: tuple[float, float] | None
    recall_at_review: tuple[float, float] | None
    precision_at_decline: tuple[float, float] | None
    recall_at_decline: tuple[float, float] | None


class Performance(msgspec.Struct, frozen=True, kw_only=True):
    rows: int
    fraud: float  # expected (estimate) or counted (realised) frauds
    precision_at_review: float | None
    recall_at_review: float | None
    precision_at_decline: float | None
    recall_at_decline: float | None
    pr_auc: float | None
    fraud_amount_caught: float
    # rows at or above the review / decline threshold: what a precision is counted (realised) or
    # averaged (estimate) on (0 in reports stored before they were recorded)
    at_review: int = 0
    at_decline: int = 0
    # realised only: how far each share may be from the rate behind it, given how few rows it was
    # counted on (None in an estimate, and in reports stored before they were recorded)
    intervals: Intervals | None = None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def wilson(hits: int, rows: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval (95 % for the default ``z``) of the share ``hits / rows``, ``rows`` > 0:
    how far a share counted on few rows (the transactions declined, the frauds) may be from the
    rate behind it. The closed form, as ``scipy.stats.binomtest(...).proportion_ci(method="wilson")``
    computes it (a unit test holds them equal): importing scipy.stats costs a drift job ~0.8 s CPU."""
    share = hits / rows
    centre = (share + z * z / (2 * rows)) / (1 + z * z / rows)
    half = z / (1 + z * z / rows) * math.sqrt(share * (1 - share) / rows + z * z / (4 * rows * rows))
    return max(0.0, centre - half), min(1.0, centre + half)


def expected_average_precision(probs: Floats, chances: Floats | None = None) -> float | None:
    """Expected PR-AUC (average precision) of the ranking by ``probs`` when each row is fraud
    with its ``chance`` (default: ``probs`` themselves, calibrated)."""
    chance = probs if chances is None else chances
    total = float(chance.sum())
    if total <= 0:
        return None
    ranked = chance[np.argsort(-probs, kind="stable")]
    precision = np.cumsum(ranked) / np.arange(1, len(ranked) + 1)
    return float(np.sum(ranked / total * precision))


def estimate(
    probs: Floats, amounts: Floats, review: float, decline: float, chances: Floats | None = None
) -> Performance:
    """The expected metrics at the live (review, decline) thresholds of the scores ``probs``,
    each row fraud with its ``chance`` (default: ``probs`` themselves)."""
    chance = probs if chances is None else chances
    at_review, at_decline = probs >= review, probs >= decline
    frauds = float(chance.sum())
    tp_review, tp_decline = float(chance[at_review].sum()), float(chance[at_decline].sum())
    return Performance(
        rows=len(probs),
        fraud=frauds,
        precision_at_review=_ratio(tp_review, float(at_review.sum())),
        recall_at_review=_ratio(tp_review, frauds),
        precision_at_decline=_ratio(tp_decline, float(at_decline.sum())),
        recall_at_decline=_ratio(tp_decline, frauds),
        pr_auc=expected_average_precision(probs, chance),
        fraud_amount_caught=float((chance * amounts)[at_review].sum()),
        at_review=int(at_review.sum()),
        at_decline=int(at_decline.sum()),
    )


def _interval(hits: int, rows: int) -> tuple[float, float] | None:
    return wilson(hits, rows) if rows > 0 else None


def realised(
    labels: npt.NDArray[np.int_], probs: Floats, amounts: Floats, review: float, decline: float
) -> Performance:
    """The same metrics counted from labels that have arrived."""
    fraud = labels == 1
    at_review, at_decline = probs >= review, probs >= decline
    frauds, reviewed, declined = int(fraud.sum()), int(at_review.sum()), int(at_decline.sum())
    tp_review, tp_decline = int((fraud & at_review).sum()), int((fraud & at_decline).sum())
    pr_auc = average_precision(labels.astype(np.float64), probs) if len(labels) else float("nan")
    return Performance(
        rows=len(labels),
        fraud=float(frauds),
        precision_at_review=_ratio(tp_review, reviewed),
        recall_at_review=_ratio(tp_review, frauds),
        precision_at_decline=_ratio(tp_decline, declined),
        recall_at_decline=_ratio(tp_decline, frauds),
        pr_auc=None if np.isnan(pr_auc) else pr_auc,
        fraud_amount_caught=float(amounts[fraud & at_review].sum()),
        at_review=reviewed,
        at_decline=declined,
        intervals=Intervals(
            precision_at_review=_interval(tp_review, reviewed),
            recall_at_review=_interval(tp_review, frauds),
            precision_at_decline=_interval(tp_decline, declined),
            recall_at_decline=_interval(tp_decline, frauds),
        ),
    )
