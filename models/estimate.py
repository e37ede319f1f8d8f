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

The rows are flagged by the live score, but the chance that a row is fraud may be given
apart from it (``chances``): the score re-calibrated on the newest arrived labels
(``models.monitoring``), since the champion's calibration was fitted on older rows whose
fraud rate the live traffic need not keep. The estimate holds as long as that calibration
holds on the rows without labels (a pure covariate shift keeps it; a new fraud pattern
breaks it, which is why the realised metrics from arrived labels are shown beside it).
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

from functions.label import average_precision

Floats = npt.NDArray[np.float64]


class Performance(msgspec.Struct, frozen=True, kw_only=True):
    rows: int
    fraud: float  # expected (estimate) or counted (realised) frauds
    precision_at_review: float | None
    recall_at_review: float | None
    precision_at_decline: float | None
    recall_at_decline: float | None
    pr_auc: float | None
    fraud_amount_caught: float


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


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
    )


def realised(
    labels: npt.NDArray[np.int_], probs: Floats, amounts: Floats, review: float, decline: float
) -> Performance:
    """The same metrics counted from labels that have arrived."""
    fraud = labels == 1
    at_review, at_decline = probs >= review, probs >= decline
    frauds = float(fraud.sum())
    pr_auc = average_precision(labels.astype(np.float64), probs) if len(labels) else float("nan")
    return Performance(
        rows=len(labels),
        fraud=frauds,
        precision_at_review=_ratio(float((fraud & at_review).sum()), float(at_review.sum())),
        recall_at_review=_ratio(float((fraud & at_review).sum()), frauds),
        precision_at_decline=_ratio(float((fraud & at_decline).sum()), float(at_decline.sum())),
        recall_at_decline=_ratio(float((fraud & at_decline).sum()), frauds),
        pr_auc=None if np.isnan(pr_auc) else pr_auc,
        fraud_amount_caught=float(amounts[fraud & at_review].sum()),
    )
