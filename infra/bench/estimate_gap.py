"""Lifecycle benchmark, judging: is the estimate before labels off, or is it noise?

The realised precision at the decline threshold is counted on the few transactions declined
(tens to hundreds), so its binomial noise alone is several points; a gap between estimate and
realised figure means something only beside its interval. For one metric at one threshold:

- ``realised_ci``: Wilson 95 % interval of the realised share (``scipy.stats.binomtest``), the
  rows taken as independent;
- ``gap``: estimated - realised (positive: the estimate is optimistic), and ``gap_ci``: its 95 %
  percentile interval from a bootstrap over *clients* (``functions.velocity.client_uid``), both
  figures recomputed on every resample. Clients, not rows: a client's transactions are all
  fraud or all legitimate, so the rows are not independent draws and a bootstrap over rows
  would be too narrow. Fraud rings span a few clients, so even this is on the narrow side;
- ``gap_ci_wilson``: the estimate minus the Wilson bounds (the estimate taken as fixed).

``reliability`` is the calibration of the top of the scale on the same rows: per probability
band the rows, the estimate's mean fraud chance and the observed fraud share with its interval,
which says where an estimate that is off goes wrong.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from models.estimate import wilson

Floats = npt.NDArray[np.float64]
BOOTSTRAP = 2_000
BANDS = (0.5, 0.8, 0.9, 0.95, 0.98, 1.0)


def _client_sums(clients: npt.NDArray[np.int64], columns: list[Floats]) -> Floats:
    """Per client (a dense code 0..C-1), the sum of each column: [C, len(columns)]."""
    count = int(clients.max()) + 1 if len(clients) else 0
    return np.stack([np.bincount(clients, weights=c, minlength=count) for c in columns], axis=1)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def compare(
    probs: Floats,
    chances: Floats,
    fraud: npt.NDArray[np.bool_],
    clients: npt.NDArray[np.int64],
    threshold: float,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Precision and recall at ``threshold`` (rows flagged by ``probs``), estimated from
    ``chances`` vs realised from ``fraud``, with the intervals of the module doc."""
    flagged = probs >= threshold
    _, codes = np.unique(clients, return_inverse=True)
    sums = _client_sums(
        codes.astype(np.int64),
        [
            flagged.astype(np.float64),
            np.where(flagged, chances, 0.0),
            (flagged & fraud).astype(np.float64),
            fraud.astype(np.float64),
            chances,
        ],
    )
    rng = np.random.default_rng(seed)
    clients_n = len(sums)
    resampled = np.concatenate(
        [rng.multinomial(clients_n, np.full(clients_n, 1 / clients_n), size=200) @ sums for _ in range(10)]
    )[:BOOTSTRAP]
    out: dict[str, dict[str, Any]] = {}
    # metric -> (numerator of the estimate, of the realised figure, their denominators' columns)
    for metric, (est_den, real_den) in {"precision": (0, 0), "recall": (4, 3)}.items():
        total = sums.sum(axis=0)
        estimated = total[1] / total[est_den] if total[est_den] > 0 else None
        realised = total[2] / total[real_den] if total[real_den] > 0 else None
        entry: dict[str, Any] = {
            "rows": int(total[real_den]),  # declined rows (precision) or frauds (recall)
            "hits": int(total[2]),
            "estimated": _round(estimated),
            "realised": _round(realised),
            "gap": None,
            "realised_ci": None,
            "gap_ci": None,
            "gap_ci_wilson": None,
        }
        if estimated is not None and realised is not None:
            low, high = wilson(int(total[2]), int(total[real_den]))
            with np.errstate(invalid="ignore", divide="ignore"):
                gaps = resampled[:, 1] / resampled[:, est_den] - resampled[:, 2] / resampled[:, real_den]
            gaps = gaps[np.isfinite(gaps)]
            entry |= {
                "gap": _round(estimated - realised),
                "realised_ci": [_round(low), _round(high)],
                "gap_ci": [_round(float(q)) for q in np.quantile(gaps, [0.025, 0.975])],
                "gap_ci_wilson": [_round(estimated - high), _round(estimated - low)],
            }
        out[metric] = entry
    return out


def reliability(probs: Floats, chances: Floats, fraud: npt.NDArray[np.bool_]) -> list[dict[str, Any]]:
    """Per band of ``probs`` (``BANDS``; the last one closed): rows, mean chance, fraud share."""
    rows = []
    for low, high in pairwise(BANDS):
        band = (probs >= low) & ((probs < high) | (high == BANDS[-1]))
        n, k = int(band.sum()), int((band & fraud).sum())
        ci = wilson(k, n) if n else (None, None)
        rows.append(
            {
                "band": [low, high],
                "rows": n,
                "mean_chance": _round(float(chances[band].mean())) if n else None,
                "fraud_share": _round(k / n) if n else None,
                "fraud_share_ci": [_round(ci[0]), _round(ci[1])],
            }
        )
    return rows
