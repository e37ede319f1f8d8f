"""Score stage port: the small loaded-model interface the hot path sees (``Scorer``).

``models`` implements it (a registry version: native boosters + calibrator + thresholds);
the score function only ever talks to this protocol, so the hot path never imports
training code and unit tests can pass a fake.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec
import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]


class Reason(msgspec.Struct, frozen=True, kw_only=True):
    """One reason behind a score: a feature, its value, and its push on the log-odds.

    ``value`` is the original text for a categorical column (``"W"``), not the code the model reads.
    """

    feature: str
    value: float | str | None
    contribution: float


class Scorer(Protocol):
    """A loaded model: calibrated fraud probabilities and additive reasons for a batch."""

    @property
    def version(self) -> str:
        """Registry version of the model, e.g. ``20261128-2331-lightgbm``."""
        ...

    @property
    def feature_names(self) -> Sequence[str]:
        """Columns of the matrix the model expects, in order."""
        ...

    def predict_proba(self, matrix: Matrix) -> npt.NDArray[np.float64]:
        """Calibrated probability of fraud per row of a float32 [n, len(feature_names)] matrix."""
        ...

    def reasons(self, matrix: Matrix, top_k: int) -> list[list[Reason]]:
        """The ``top_k`` largest positive contributions per row (log-odds; with a constant bias they
        add up to the raw score: path attribution in ``models``)."""
        ...
