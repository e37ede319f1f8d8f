"""Training step: what the model was trained on (data fingerprint, reference histograms).

The fingerprint identifies the training data (file hashes, rows, time range, fraud rate);
the histograms (quantile bins of the latest training rows, plus the null share) are the
reference a drift check compares live traffic against with PSI (``models.drift``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(
    files: Sequence[Path], times: npt.NDArray[np.int64], labels: npt.NDArray[np.int_]
) -> dict[str, Any]:
    return {
        "files": {str(path): file_sha256(path) for path in files},
        "rows": len(labels),
        "fraud_rate": float(labels.mean()) if len(labels) else 0.0,
        "transaction_dt_min": int(times.min()) if len(times) else 0,
        "transaction_dt_max": int(times.max()) if len(times) else 0,
    }


def reference_histograms(
    matrix: npt.NDArray[np.floating[Any]], names: Sequence[str], bins: int = 10
) -> dict[str, dict[str, Any]]:
    """Per feature: quantile bin edges, the share of non-null rows per bin, the null share."""
    out: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(names):
        column = matrix[:, j].astype(np.float64)
        present = column[~np.isnan(column)]
        null_share = 1.0 - len(present) / max(len(column), 1)
        if len(present) == 0:
            out[name] = {"edges": [], "shares": [], "null_share": null_share}
            continue
        inner = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))
        counts = np.bincount(np.searchsorted(inner, present, side="right"), minlength=len(inner) + 1)
        out[name] = {
            "edges": [float(e) for e in inner],  # bin i holds edges[i-1] <= x < edges[i]
            "shares": [float(c) / len(present) for c in counts],
            "null_share": null_share,
        }
    return out
