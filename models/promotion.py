"""Promotion step: is a candidate better than the champion on the same labelled rows, beyond noise?

Both models' calibrated probabilities on the same transactions (out of time: rows neither
trained on) are compared by a paired bootstrap: resample the rows with replacement
``rounds`` times and take the 2.5 / 97.5 percentiles of the PR-AUC difference. The candidate
wins only if the lower bound exceeds ``margin`` and its expected calibration error is not
worse than the champion's by more than ``ece_tolerance``. The reason says which test failed,
with the numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from functions.label import average_precision
from models.metrics import expected_calibration_error

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Comparison:
    rows: int
    fraud: int
    champion_pr_auc: float
    candidate_pr_auc: float
    delta_low: float  # 95% bootstrap interval of candidate - champion PR-AUC
    delta_high: float
    champion_ece: float
    candidate_ece: float
    accepted: bool
    reason: str

    def as_detail(self) -> dict[str, str]:
        return {k: f"{v:.4f}" if isinstance(v, float) else str(v) for k, v in asdict(self).items()}


def compare(
    labels: npt.NDArray[np.int_],
    champion: Floats,
    candidate: Floats,
    *,
    rounds: int,
    margin: float,
    ece_tolerance: float,
    seed: int = 0,
) -> Comparison:
    y = labels.astype(np.float64)
    fraud = int(y.sum())
    ours, theirs = average_precision(y, champion), average_precision(y, candidate)
    ece_ours = expected_calibration_error(labels, champion)
    ece_theirs = expected_calibration_error(labels, candidate)
    rng = np.random.default_rng(seed)
    deltas = []
    for _ in range(rounds):
        rows = rng.integers(0, len(y), len(y))
        sample = y[rows]
        if sample.sum() == 0:
            continue
        deltas.append(average_precision(sample, candidate[rows]) - average_precision(sample, champion[rows]))
    low, high = (float(v) for v in np.percentile(deltas, [2.5, 97.5])) if deltas else (np.nan, np.nan)
    if fraud == 0:
        accepted, reason = False, "no fraud among the labelled rows: nothing to compare"
    elif not low > margin:
        accepted, reason = (
            False,
            f"PR-AUC {theirs:.4f} vs champion {ours:.4f}: the 95% interval of the gain "
            f"[{low:+.4f}, {high:+.4f}] does not clear the margin {margin:.4f}",
        )
    elif ece_theirs > ece_ours + ece_tolerance:
        accepted, reason = (
            False,
            f"worse calibrated: ECE {ece_theirs:.4f} vs champion {ece_ours:.4f} (tolerance {ece_tolerance:.4f})",
        )
    else:
        accepted, reason = (
            True,
            f"PR-AUC {theirs:.4f} vs champion {ours:.4f}, gain in [{low:+.4f}, {high:+.4f}]; "
            f"ECE {ece_theirs:.4f} vs {ece_ours:.4f}",
        )
    return Comparison(len(y), fraud, ours, theirs, low, high, ece_ours, ece_theirs, accepted, reason)
