"""Training step: feature hygiene before fitting (near-constant, duplicate, redundant V columns).

Decided on the training rows only, and recorded in the registry with the reasons, so a
reviewer can see why a column is not in the model:

- near-constant: one value (NaN counts as a value) covers >= 99.9% of rows;
- time proxy: |Spearman correlation with TransactionDT| >= ``time_corr`` (cumulative counters
  of shared entities, online frequency counts, "day minus delta" columns of running deltas):
  the tree would learn the date, which never repeats, and fail on the later test slice;
- duplicate: identical to an earlier column on every training row;
- V reduction: the V columns are grouped by their missing-value pattern (the IEEE-CIS V
  blocks share NaN structure); inside a group, columns correlated above ``corr`` with an
  already kept one are dropped, keeping one representative per correlated cluster.
"""

from __future__ import annotations

import re
from collections import defaultdict

import msgspec
import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

_V_COLUMN = re.compile(r"^V\d+$")


class Selection(msgspec.Struct, frozen=True, kw_only=True):
    """Which columns a model uses, and why the others were dropped."""

    kept: list[str]
    dropped: dict[str, str]  # column -> reason
    v_groups: list[list[str]]  # V columns sharing a missing-value pattern, kept first


def _near_constant(column: npt.NDArray[np.float32], share: float) -> bool:
    values = np.where(np.isnan(column), np.float32(np.inf), column)
    _, counts = np.unique(values, return_counts=True)
    return bool(counts.max() >= share * len(column))


def _time_correlation(column: npt.NDArray[np.float32], time_ranks: npt.NDArray[np.float64]) -> float:
    present = ~np.isnan(column)
    if present.sum() < 100:
        return 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.corrcoef(rankdata(column[present]), time_ranks[present])[0, 1]
    return 0.0 if np.isnan(rho) else float(abs(rho))


def select_features(
    matrix: npt.NDArray[np.float32],
    names: list[str],
    times: npt.NDArray[np.int64] | None = None,
    constant_share: float = 0.999,
    corr: float = 0.75,
    time_corr: float = 0.5,
    sample: int = 50_000,
) -> Selection:
    """Choose the columns to train on from the training rows of ``matrix`` (and their times)."""
    step = max(1, len(matrix) // sample)
    rows = matrix[::step]
    time_ranks = rankdata(times[::step]) if times is not None else None
    dropped: dict[str, str] = {}
    seen: dict[bytes, str] = {}
    for j, name in enumerate(names):
        column = rows[:, j]
        if _near_constant(column, constant_share):
            dropped[name] = "near-constant"
            continue
        rho = _time_correlation(column, time_ranks) if time_ranks is not None else 0.0
        if rho >= time_corr:
            dropped[name] = f"time proxy: |rank corr with TransactionDT| = {rho:.2f}"
            continue
        digest = np.nan_to_num(column, nan=-1.2345e30).tobytes()
        if digest in seen:
            dropped[name] = f"duplicate of {seen[digest]}"
            continue
        seen[digest] = name

    groups: dict[bytes, list[int]] = defaultdict(list)
    for j, name in enumerate(names):
        if _V_COLUMN.match(name) and name not in dropped:
            groups[np.packbits(np.isnan(rows[:, j])).tobytes()].append(j)
    v_groups = []
    for members in groups.values():
        kept: list[int] = []
        present = ~np.isnan(rows[:, members[0]])
        block = np.nan_to_num(rows[present][:, members].astype(np.float64))
        with np.errstate(invalid="ignore", divide="ignore"):
            enough = block.shape[0] > 2 and len(members) > 1
            correlation = np.abs(np.corrcoef(block, rowvar=False)) if enough else None
        for a, j in enumerate(members):
            partner = next(
                (k for k in kept if correlation is not None and correlation[a, members.index(k)] >= corr),
                None,
            )
            if partner is None:
                kept.append(j)
            else:
                dropped[names[j]] = f"V reduction: |corr| >= {corr} with {names[partner]}"
        v_groups.append([names[j] for j in kept] + [names[j] for j in members if j not in kept])
    return Selection(
        kept=[name for name in names if name not in dropped],
        dropped=dropped,
        v_groups=sorted(v_groups, key=lambda g: int(g[0][1:])),
    )
