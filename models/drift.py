"""Monitoring step: population stability index (PSI) of live features and scores against a reference.

The reference is what a model version stored at training (``models.reference``): per input,
quantile bin edges, the share of non-null rows per bin and the null share. A live column is
binned on the same edges, with the nulls as one more bin, and

    PSI = sum over bins of (live share - reference share) * ln(live share / reference share)

(shares floored at ``EPSILON`` so an empty bin costs a finite amount). Conventional reading,
used for the statuses: stable < 0.1 <= moderate < 0.25 <= significant.

Inputs that move with the length of history by construction (``functions.features.HISTORY_DEPENDENT``:
all-history aggregates, running counts, account start days) are measured and listed, but
``watched=False``: they do not set the overall status, which a stationary stream would
otherwise always fail. So are the window aggregates of an entity shared by thousands of
clients (``functions.features.GROUP_ACTIVITY``: an e-mail domain's, a device model's): a
window of transactions holds a few periods of a few big groups, not independent rows, and PSI
assumes independent rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from functions.features import GROUP_ACTIVITY, HISTORY_DEPENDENT

Status = Literal["stable", "moderate", "significant"]
MODERATE, SIGNIFICANT = 0.1, 0.25
EPSILON = 1e-4
SCORE = "score"
"""Name of the score distribution among the PSI results (next to the model's inputs)."""
ORDER: dict[Status, int] = {"stable": 0, "moderate": 1, "significant": 2}


def status_of(psi: float) -> Status:
    if psi >= SIGNIFICANT:
        return "significant"
    if psi >= MODERATE:
        return "moderate"
    return "stable"


def reference_shares(histogram: Mapping[str, Any]) -> npt.NDArray[np.float64]:
    """[null share, then each bin's share of all rows] of a stored reference histogram."""
    null = float(histogram["null_share"])
    shares = np.asarray(histogram["shares"], dtype=np.float64) * (1.0 - null)
    return np.concatenate([[null], shares])


def live_shares(edges: Sequence[float], column: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    """The same layout for live values: null share, then the share of rows per reference bin."""
    values = np.asarray(column, dtype=np.float64)
    present = values[~np.isnan(values)]
    counts = np.bincount(np.searchsorted(np.asarray(edges), present, side="right"), minlength=len(edges) + 1)
    total = max(len(values), 1)
    return np.concatenate([[(len(values) - len(present)) / total], counts / total])


def psi(expected: npt.NDArray[np.float64], actual: npt.NDArray[np.float64]) -> float:
    e, a = np.maximum(expected, EPSILON), np.maximum(actual, EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    psi: float
    status: Status
    live_null_share: float
    reference_null_share: float
    watched: bool = True  # False: moves by construction, never alarms


def feature_drift(
    references: Mapping[str, Mapping[str, Any]],
    matrix: npt.NDArray[np.floating[Any]],
    names: Sequence[str],
) -> list[FeatureDrift]:
    """PSI of each named column of ``matrix`` against its reference histogram, largest first.

    Inputs the reference saw only as nulls are compared on their null share alone.
    """
    out = []
    for j, name in enumerate(names):
        reference = references[name]
        expected = reference_shares(reference)
        actual = live_shares(reference["edges"], matrix[:, j])
        value = psi(expected, actual)
        out.append(
            FeatureDrift(
                name,
                value,
                status_of(value),
                float(actual[0]),
                float(expected[0]),
                watched=name not in HISTORY_DEPENDENT and name not in GROUP_ACTIVITY,
            )
        )
    out.sort(key=lambda d: d.psi, reverse=True)
    return out


def overall(drifts: Sequence[FeatureDrift]) -> Status:
    """The worst status among the watched inputs and the score."""
    return max((d.status for d in drifts if d.watched), key=ORDER.__getitem__, default="stable")
