"""Training step: pick the (review, decline) thresholds that minimise expected cost.

Cost model (fees from ``ModelSettings``): an approved fraud costs its amount; a review costs
``review_fee`` (the analyst catches the fraud); a declined legitimate payment costs
``decline_fee + decline_amount_share * amount``; a declined fraud costs nothing. Thresholds
are chosen on the calibration slice, never on the test slice they are judged on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CostModel:
    review_fee: float
    decline_fee: float
    decline_amount_share: float


@dataclass(frozen=True)
class CostCurve:
    """Expected cost on a grid: ``cost[i, j]`` for review=grid[i], decline=grid[j] (i <= j)."""

    grid: Floats
    cost: Floats
    review: float
    decline: float
    best_cost: float


def _cumulative_below(probs: Floats, values: Floats, grid: Floats) -> Floats:
    """For each grid threshold t: sum of ``values`` over rows with prob < t."""
    order = np.argsort(probs)
    sums = np.concatenate([[0.0], np.cumsum(values[order])])
    return np.asarray(sums[np.searchsorted(probs[order], grid, side="left")], dtype=np.float64)


def cost_curve(
    labels: npt.NDArray[np.int_], probs: Floats, amounts: Floats, costs: CostModel, points: int = 201
) -> CostCurve:
    """Exact expected cost for every (review <= decline) pair of a probability grid."""
    fraud = labels == 1
    grid = np.unique(
        np.concatenate([np.linspace(0, 1, points), np.quantile(probs, np.linspace(0, 1, points))])
    )
    grid = np.append(grid, 1.0 + 1e-9)  # a threshold nothing reaches: "never decline"
    missed = _cumulative_below(probs, np.where(fraud, amounts, 0.0), grid)  # approved fraud
    reviews = _cumulative_below(probs, np.full(len(probs), costs.review_fee), grid)
    bad_decline = np.where(fraud, 0.0, costs.decline_fee + costs.decline_amount_share * amounts)
    declines = _cumulative_below(probs, bad_decline, grid)
    total_declines = float(bad_decline.sum())
    # review=r, decline=d: fraud below r + reviews in [r, d) + bad declines at/above d
    cost = missed[:, None] + (reviews[None, :] - reviews[:, None]) + (total_declines - declines[None, :])
    cost = np.where(grid[:, None] <= grid[None, :], cost, np.inf)
    i, j = np.unravel_index(int(np.argmin(cost)), cost.shape)
    return CostCurve(
        grid=grid,
        cost=cost,
        review=float(min(grid[i], 1.0)),
        decline=float(min(grid[j], 1.0)),
        best_cost=float(cost[i, j]),
    )
