"""Training step: map raw model scores to calibrated fraud probabilities (isotonic or Platt).

Both calibrators are fitted on the calibration slice (later than the training rows, earlier
than the test rows); the one with the lower Brier score there wins. A calibrator is plain
data: isotonic keeps its breakpoints, Platt its two coefficients, both saved as JSON
(invariant 5: no pickle) and applied with numpy only.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import msgspec
import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]
_EPS = 1e-6


def _logit(p: npt.ArrayLike) -> Floats:
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


class Calibrator(msgspec.Struct, frozen=True, kw_only=True):
    """A fitted calibrator; ``apply`` maps raw probabilities to calibrated ones."""

    method: Literal["isotonic", "platt"]
    # isotonic: piecewise-linear through (x, y), clamped at the ends
    x: list[float] = []
    y: list[float] = []
    # platt: p = sigmoid(a * logit(raw) + b)
    a: float = 1.0
    b: float = 0.0
    scores: dict[str, float] = {}

    def apply(self, raw: npt.ArrayLike) -> Floats:
        values = np.asarray(raw, dtype=np.float64)
        if self.method == "isotonic":
            return np.asarray(np.interp(values, self.x, self.y), dtype=np.float64)
        z = self.a * _logit(values) + self.b
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        return msgspec.convert(data, cls)


# scikit-learn is imported where a calibrator is fitted (training), not where one is applied:
# every stream worker imports this module, and scikit-learn costs seconds to import.


def fit_isotonic(raw: Floats, labels: npt.NDArray[np.int_]) -> Calibrator:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, labels)
    return Calibrator(
        method="isotonic",
        x=[float(v) for v in iso.X_thresholds_],
        y=[float(v) for v in iso.y_thresholds_],
    )


def fit_platt(raw: Floats, labels: npt.NDArray[np.int_]) -> Calibrator:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e6).fit(_logit(raw).reshape(-1, 1), labels)
    return Calibrator(method="platt", a=float(model.coef_[0, 0]), b=float(model.intercept_[0]))


def fit_best(raw: Floats, labels: npt.NDArray[np.int_]) -> Calibrator:
    """Fit both calibrators; keep the one with the lower Brier score (log-loss breaks ties).

    Both are scored on the slice they were fitted on; isotonic is the more flexible of the
    two, so it is scored by 2-fold cross-fitting to keep the comparison fair.
    """
    from sklearn.metrics import brier_score_loss, log_loss

    order = np.arange(len(raw))
    half = order % 2 == 0
    iso_pred = np.empty_like(raw)
    for fit_rows in (half, ~half):
        iso_pred[~fit_rows] = fit_isotonic(raw[fit_rows], labels[fit_rows]).apply(raw[~fit_rows])
    candidates = {"isotonic": fit_isotonic(raw, labels), "platt": fit_platt(raw, labels)}
    predictions = {"isotonic": iso_pred, "platt": candidates["platt"].apply(raw)}
    scores: dict[str, float] = {}
    for name, pred in predictions.items():
        clipped = np.clip(pred, _EPS, 1 - _EPS)
        scores[f"{name}_brier"] = float(brier_score_loss(labels, clipped))
        scores[f"{name}_log_loss"] = float(log_loss(labels, clipped, labels=[0, 1]))
    method = min(predictions, key=lambda name: (scores[f"{name}_brier"], scores[f"{name}_log_loss"]))
    log.info("calibrator chosen method=%s scores=%s", method, scores)
    return msgspec.structs.replace(candidates[method], scores=scores)
