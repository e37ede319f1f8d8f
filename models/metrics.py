"""Evaluation step: the test-slice metrics stored with every model version.

Ranking (ROC-AUC, PR-AUC, recall at 1% false-positive rate), calibration (Brier, expected
calibration error), and what the chosen thresholds do to money: the fraud amount caught
and the legitimate amount declined.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve

Floats = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int_]


def expected_calibration_error(labels: Labels, probs: Floats, bins: int = 15) -> float:
    """Count-weighted mean |observed fraud rate - mean probability| over equal-width bins."""
    index = np.minimum((probs * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        rows = index == b
        if rows.any():
            total += rows.sum() * abs(labels[rows].mean() - probs[rows].mean())
    return float(total / len(probs))


def recall_at_fpr(labels: Labels, probs: Floats, max_fpr: float = 0.01) -> float:
    """Share of fraud caught while flagging at most ``max_fpr`` of the legitimate rows."""
    fpr, tpr, _ = roc_curve(labels, probs)
    return float(tpr[fpr <= max_fpr].max())


def _at_threshold(labels: Labels, probs: Floats, threshold: float, name: str) -> dict[str, float]:
    flagged = probs >= threshold
    tp = float((flagged & (labels == 1)).sum())
    precision = tp / max(float(flagged.sum()), 1.0)
    recall = tp / max(float(labels.sum()), 1.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        f"precision_at_{name}": precision,
        f"recall_at_{name}": recall,
        f"f1_at_{name}": f1,
        f"flagged_rate_at_{name}": float(flagged.mean()),
    }


def evaluate(
    labels: Labels, probs: Floats, amounts: Floats, review: float, decline: float
) -> dict[str, float]:
    """All test metrics for calibrated ``probs`` and the chosen (review, decline) thresholds."""
    declined = probs >= decline
    fraud = labels == 1
    metrics = {
        "rows": float(len(labels)),
        "fraud_rate": float(labels.mean()),
        "roc_auc": float(roc_auc_score(labels, probs)),
        "pr_auc": float(average_precision_score(labels, probs)),
        "recall_at_1pct_fpr": recall_at_fpr(labels, probs, 0.01),
        "brier": float(brier_score_loss(labels, probs)),
        "ece": expected_calibration_error(labels, probs),
        "review_threshold": review,
        "decline_threshold": decline,
        **_at_threshold(labels, probs, review, "review"),
        **_at_threshold(labels, probs, decline, "decline"),
        "fraud_amount": float(amounts[fraud].sum()),
        "fraud_amount_caught": float(amounts[fraud & (probs >= review)].sum()),
        "fraud_amount_declined": float(amounts[fraud & declined].sum()),
        "legit_amount_declined": float(amounts[~fraud & declined].sum()),
        "legit_reviewed": float((~fraud & (probs >= review) & ~declined).sum()),
    }
    return metrics
