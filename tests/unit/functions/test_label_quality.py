"""Live quality metrics of the label stage: average precision, precision/recall at a threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from functions.label import average_precision, quality


def test_average_precision_matches_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(4)
    labels = (rng.random(400) < 0.2).astype(np.float64)
    scores = np.round(rng.random(400) * 0.6 + labels * 0.3, 2)  # rounded: many ties
    assert average_precision(labels, scores) == pytest.approx(
        average_precision_score(labels, scores), rel=1e-12
    )


def test_quality_at_the_review_threshold() -> None:
    q = quality([(1, 0.9), (0, 0.8), (1, 0.2), (0, 0.1), (1, 0.6)], review_threshold=0.3)
    assert (q.window, q.fraud) == (5, 3)
    assert q.precision == 2 / 3 and q.recall == 2 / 3


def test_quality_without_data_or_fraud_is_nan_not_an_error() -> None:
    assert math.isnan(quality([], 0.3).pr_auc)
    q = quality([(0, 0.1), (0, 0.5)], 0.3)
    assert math.isnan(q.recall) and math.isnan(q.pr_auc) and q.precision == 0.0
