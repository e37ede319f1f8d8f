"""Training step: the report people look at (PNG figures + one self-contained HTML page).

PR and ROC curves, reliability diagram, cost versus threshold with the chosen thresholds,
and global feature importance, for the test slice of one model version.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a display

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from models.thresholds import CostCurve

Floats = npt.NDArray[np.float64]
TestSlice = tuple[npt.NDArray[np.int_], Floats, Floats]  # labels, probabilities, amounts


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _curves(labels: npt.NDArray[np.int_], probs: Floats, metrics: dict[str, float], path: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    precision, recall, _ = precision_recall_curve(labels, probs)
    left.plot(recall, precision)
    left.set(xlabel="recall", ylabel="precision", title=f"PR curve (AP={metrics['pr_auc']:.3f})")
    fpr, tpr, _ = roc_curve(labels, probs)
    right.plot(fpr, tpr)
    right.plot([0, 1], [0, 1], "--", color="grey")
    right.axvline(0.01, color="red", lw=0.8, label=f"1% FPR: recall {metrics['recall_at_1pct_fpr']:.3f}")
    right.set(
        xlabel="false-positive rate", ylabel="true-positive rate", title=f"ROC (AUC={metrics['roc_auc']:.3f})"
    )
    right.legend(loc="lower right")
    _save(fig, path)


def _reliability(labels: npt.NDArray[np.int_], probs: Floats, metrics: dict[str, float], path: Path) -> None:
    edges = np.unique(np.quantile(probs, np.linspace(0, 1, 16)))
    index = np.clip(np.searchsorted(edges, probs, side="right") - 1, 0, len(edges) - 2)
    mean_p = [probs[index == b].mean() for b in range(len(edges) - 1) if (index == b).any()]
    rate = [labels[index == b].mean() for b in range(len(edges) - 1) if (index == b).any()]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.plot(mean_p, rate, "o-")
    ax.set_xscale("symlog", linthresh=0.01)  # most transactions sit near 0: stretch that end
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.set(xlabel="mean predicted probability", ylabel="observed fraud rate")
    ax.set_title(f"Reliability (quantile bins), ECE={metrics['ece']:.4f}")
    _save(fig, path)


def _cost(curve: CostCurve, path: Path) -> None:
    i = int(np.argmin(np.abs(curve.grid - curve.review)))
    j = int(np.argmin(np.abs(curve.grid - curve.decline)))
    fig, ax = plt.subplots(figsize=(7, 4))
    finite = curve.grid <= 1.0
    ax.plot(curve.grid[finite], curve.cost[finite, j], label=f"vary review (decline={curve.decline:.3f})")
    ax.plot(curve.grid[finite], curve.cost[i, finite], label=f"vary decline (review={curve.review:.3f})")
    ax.axvline(curve.review, color="orange", ls="--")
    ax.axvline(curve.decline, color="red", ls="--")
    ax.set(
        xlabel="threshold (calibrated probability)", ylabel="expected cost (calibration slice)", yscale="log"
    )
    ax.set_title(f"Cost vs threshold, minimum {curve.best_cost:,.0f}")
    ax.legend()
    _save(fig, path)


def _importance(importance: dict[str, float], path: Path, top: int = 25) -> None:
    items = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(items) + 1))
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set(xlabel="share of total gain", title=f"Top {len(items)} features")
    _save(fig, path)


def write_report(
    directory: Path,
    version: str,
    test: TestSlice,
    curve: CostCurve,
    metrics: dict[str, float],
    importance: dict[str, float],
) -> Path:
    """Write the PNGs and ``index.html`` (images inlined, so the page stands alone)."""
    directory.mkdir(parents=True, exist_ok=True)
    labels, probs, _ = test
    figures: dict[str, Callable[[Path], None]] = {
        "curves.png": lambda p: _curves(labels, probs, metrics, p),
        "reliability.png": lambda p: _reliability(labels, probs, metrics, p),
        "cost.png": lambda p: _cost(curve, p),
        "importance.png": lambda p: _importance(importance, p),
    }
    images = []
    for name, draw in figures.items():
        draw(directory / name)
        data = base64.b64encode((directory / name).read_bytes()).decode()
        images.append(f'<h2>{name[:-4]}</h2><img alt="{name}" src="data:image/png;base64,{data}">')
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:,.6g}</td></tr>" for k, v in sorted(metrics.items()))
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Sentinel model {html.escape(version)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:2px 12px}img{max-width:100%}</style>"
        f"</head><body><h1>Model {html.escape(version)}</h1><h2>Test metrics</h2><table>{rows}</table>"
        f"{''.join(images)}</body></html>"
    )
    index = directory / "index.html"
    index.write_text(page)
    return index
