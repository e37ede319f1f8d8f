"""Training step: map raw model scores to calibrated fraud probabilities (isotonic or Platt).

Both calibrators are fitted on the calibration slice (later than the training rows, earlier
than the test rows); the one that predicts the newer half of the slice better from its older
half wins (out of time, as a calibrator is used). A calibrator is plain data: isotonic keeps
its breakpoints, Platt its two coefficients, both saved as JSON (invariant 5: no pickle) and
applied with numpy only.

The isotonic steps are shrunk toward Platt. A plain isotonic fit's top step is the block of the
highest-scored rows with the highest observed fraud rate, so it is biased upward, and on a
calibration slice of 10,000 rows it is often a few dozen rows that were all fraud: a step at
exactly 1.0. Measured on the lifecycle bench's champions (steady world, 150,000 rows), the
rows of that step were 0.92-0.96 fraud later, so the estimate of precision at the decline
threshold read 0.95-1.0 for 0.76-0.92 (and the cost curve put the decline threshold on that
step). Each step's value is therefore the posterior mean of its rate under a Beta prior
centred on Platt's prediction for its rows, worth ``PRIOR_ROWS`` rows: a step with many more
rows than that keeps its own rate, a step of a few dozen rows moves most of the way to Platt.
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
PRIOR_ROWS = 100.0
"""Weight, in rows, of Platt's prediction in each isotonic step's value (see the module doc)."""


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


def _monotone(values: Floats, weights: Floats) -> Floats:
    from sklearn.isotonic import IsotonicRegression

    order = np.arange(len(values), dtype=np.float64)
    return np.asarray(IsotonicRegression().fit(order, values, sample_weight=weights).predict(order))


def fit_isotonic(raw: Floats, labels: npt.NDArray[np.int_], prior_rows: float = PRIOR_ROWS) -> Calibrator:
    """Isotonic regression whose steps are shrunk toward Platt by ``prior_rows`` rows each
    (0: the plain isotonic fit); piecewise-linear between the steps, as scikit-learn's."""
    from sklearn.isotonic import IsotonicRegression

    order = np.argsort(raw, kind="stable")
    x, y = np.asarray(raw, dtype=np.float64)[order], np.asarray(labels)[order]
    steps = IsotonicRegression(out_of_bounds="clip").fit(x, y).predict(x)  # equal x, equal step
    starts = np.flatnonzero(np.r_[True, np.diff(steps) != 0])
    rows = np.diff(np.r_[starts, len(y)]).astype(np.float64)
    rate = steps[starts]
    if prior_rows > 0 and y.min() != y.max():  # Platt needs both classes
        platt = np.add.reduceat(fit_platt(x, y).apply(x), starts) / rows
        rate = _monotone((rate * rows + prior_rows * platt) / (rows + prior_rows), rows + prior_rows)
    stops = np.r_[starts[1:], len(y)] - 1
    points = sorted(
        {(float(x[i]), float(v)) for i, v in zip(np.r_[starts, stops], np.r_[rate, rate], strict=True)}
    )
    return Calibrator(method="isotonic", x=[p[0] for p in points], y=[p[1] for p in points])


def fit_platt(raw: Floats, labels: npt.NDArray[np.int_]) -> Calibrator:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e6).fit(_logit(raw).reshape(-1, 1), labels)
    return Calibrator(method="platt", a=float(model.coef_[0, 0]), b=float(model.intercept_[0]))


def fit_best(raw: Floats, labels: npt.NDArray[np.int_]) -> Calibrator:
    """Fit both calibrators on the rows (in event-time order); keep the one with the lower
    log-loss (Brier breaks ties) on the newer half when fitted on the older half.

    Out of time, because a calibrator is applied to later rows: frauds come in campaigns, and
    interleaved folds put each campaign on both sides, which flattered the more flexible
    isotonic fit. Log-loss, because it charges a confident mistake without bound (Brier charges
    at most 1), and overconfidence at the top of the scale is the failure that matters here.
    When the older half lacks a class the comparison cannot be made and Platt, the fit with two
    parameters, is kept. Both are then re-fitted on all the rows.
    """
    from sklearn.metrics import brier_score_loss, log_loss

    older, newer = slice(0, len(raw) // 2), slice(len(raw) // 2, len(raw))
    candidates = {"isotonic": fit_isotonic(raw, labels), "platt": fit_platt(raw, labels)}
    if len(np.unique(labels[older])) < 2:
        log.info("calibrator chosen method=platt (the older half holds one class)")
        return candidates["platt"]
    scores: dict[str, float] = {}
    for name, fit in (("isotonic", fit_isotonic), ("platt", fit_platt)):
        predicted = np.clip(fit(raw[older], labels[older]).apply(raw[newer]), _EPS, 1 - _EPS)
        scores[f"{name}_log_loss"] = float(log_loss(labels[newer], predicted, labels=[0, 1]))
        scores[f"{name}_brier"] = float(brier_score_loss(labels[newer], predicted))
    method = min(candidates, key=lambda name: (scores[f"{name}_log_loss"], scores[f"{name}_brier"]))
    log.info("calibrator chosen method=%s scores=%s", method, scores)
    return msgspec.structs.replace(candidates[method], scores=scores)
