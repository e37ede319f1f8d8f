"""Score stage, explanations: path attribution (Saabas) for tree ensembles, precomputed per model.

A split on feature f along a row's decision path pushes the score by value(child taken) -
value(node), where a node's value is what the tree would output had it stopped there
(LightGBM's ``internal_value``; for CatBoost the training-weighted mean of the leaves below).
Summed over the path this telescopes to leaf value - root value, so per row the feature
contributions plus a constant bias (the sum of the root values) equal the raw log-odds exactly:
the same additivity as TreeSHAP, at the cost of a leaf lookup instead of a TreeSHAP pass. Unlike
TreeSHAP a feature's share depends on where in the path it splits (features near the root get
less), so the two rank features differently on some rows.

Every (tree, leaf) has a fixed path, so its per-feature pushes are computed once per loaded model
into a sparse matrix ``deltas`` [total leaves, n_features]; a batch's contributions are then
``S @ deltas`` with ``S`` the 0/1 matrix selecting each row's leaf in each tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

Floats = npt.NDArray[np.float64]
Leaves = npt.NDArray[np.integer[Any]]


@dataclass(frozen=True)
class PathMatrix:
    """Per-feature pushes along every root -> leaf path of an ensemble, and the constant bias."""

    deltas: Any  # scipy.sparse.csr_array [total leaves, n_features]; row offsets[t] + leaf
    offsets: npt.NDArray[np.int64]  # [n_trees] first row of each tree in ``deltas``
    bias: float  # sum of the root values: raw log-odds = contributions.sum(axis=1) + bias

    def contributions(self, leaves: Leaves) -> Floats:
        """Contributions [n, n_features] of rows whose leaf in tree t is ``leaves[:, t]``.

        This is ``S @ deltas`` with S the [n, total leaves] 0/1 selection matrix, computed by
        gathering the selected rows of ``deltas`` and summing them per row: building S as a
        scipy matrix costs three times as much at batch 1, the usual online batch.
        """
        rows, trees = leaves.shape
        if trees != len(self.offsets):
            raise ValueError(f"leaf indices for {trees} trees, the paths cover {len(self.offsets)}")
        selected = (leaves.astype(np.int64) + self.offsets).ravel()
        starts = self.deltas.indptr[selected]
        lengths = self.deltas.indptr[selected + 1] - starts
        ends = np.cumsum(lengths)
        positions = np.arange(int(lengths.sum())) + np.repeat(starts - (ends - lengths), lengths)
        owner = np.repeat(np.repeat(np.arange(rows), trees), lengths)
        features = int(self.deltas.shape[1])
        flat = np.bincount(
            owner * features + self.deltas.indices[positions],
            weights=self.deltas.data[positions],
            minlength=rows * features,
        )
        return np.asarray(flat, dtype=np.float64).reshape(rows, features)


def _csr(rows: Any, columns: Any, values: Any, shape: tuple[int, int]) -> Any:
    """A CSR ``deltas`` from COO triples; duplicates (a feature split twice on a path) add up."""
    coords = (np.asarray(rows, dtype=np.int64), np.asarray(columns, dtype=np.int64))
    return sparse.coo_array((np.asarray(values, dtype=np.float64), coords), shape=shape).tocsr()


def from_lightgbm(dump: dict[str, Any]) -> PathMatrix:
    """Paths of a binary LightGBM model from ``Booster.dump_model()``.

    Split nodes carry ``internal_value``, ``split_feature`` and two children; leaves carry
    ``leaf_index`` (what ``predict(pred_leaf=True)`` returns) and ``leaf_value``. A tree that
    never split is a single leaf: it adds its value to the bias and has one all-zero row.
    """
    if dump.get("num_tree_per_iteration", 1) != 1 or dump.get("average_output", False):
        raise ValueError("path attribution supports binary boosted LightGBM models only")
    rows: list[int] = []
    columns: list[int] = []
    values: list[float] = []
    offsets, bias, start = [], 0.0, 0
    for tree in dump["tree_info"]:
        offsets.append(start)
        root = tree["tree_structure"]
        if "split_feature" not in root:
            bias += float(root["leaf_value"])
            start += 1
            continue
        bias += float(root["internal_value"])
        stack: list[tuple[dict[str, Any], list[tuple[int, float]]]] = [(root, [])]
        while stack:
            node, path = stack.pop()
            if "split_feature" not in node:
                rows += [start + int(node["leaf_index"])] * len(path)
                columns += [feature for feature, _ in path]
                values += [push for _, push in path]
                continue
            for child in (node["left_child"], node["right_child"]):
                value = child["internal_value"] if "split_feature" in child else child["leaf_value"]
                stack.append((child, [*path, (int(node["split_feature"]), value - node["internal_value"])]))
        start += int(tree["num_leaves"])
    deltas = _csr(rows, columns, values, (start, int(dump["max_feature_idx"]) + 1))
    return PathMatrix(deltas, np.array(offsets, dtype=np.int64), bias)


def from_catboost(model: dict[str, Any]) -> PathMatrix:
    """Paths of a binary CatBoost model of symmetric trees from its JSON export.

    In a symmetric (oblivious) tree of depth D, bit k of a leaf index (what
    ``calc_leaf_indexes`` returns) is the outcome of ``splits[k]``; the root splits on
    ``splits[D - 1]``, and the node at depth d above leaf l is ``l >> (D - d)``. Node values
    are leaf values averaged with the training leaf weights (0 for an empty node), as CatBoost's
    own ``ShapValues`` with ``shap_calc_type="Approximate"`` computes them.
    """
    if "oblivious_trees" not in model:
        raise ValueError("path attribution supports CatBoost symmetric trees only")
    flat = {f["feature_index"]: f["flat_feature_index"] for f in model["features_info"]["float_features"]}
    features = max(flat.values(), default=-1) + 1
    scale, biases = model["scale_and_bias"]
    if len(biases) != 1:
        raise ValueError("path attribution supports single-output CatBoost models only")
    rows: list[npt.NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)]
    columns: list[npt.NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)]
    values: list[Floats] = [np.zeros(0)]
    offsets, bias, start = [], 0.0, 0
    for tree in model["oblivious_trees"]:
        splits = tree["splits"]
        if any(s["split_type"] != "FloatFeature" for s in splits):
            raise ValueError("path attribution supports CatBoost float-feature splits only")
        depth = len(splits)
        leaf_values = np.asarray(tree["leaf_values"], dtype=np.float64)
        weights = np.asarray(tree["leaf_weights"], dtype=np.float64)
        if leaf_values.size != 1 << depth:
            raise ValueError("path attribution supports single-output CatBoost models only")
        # node_values[d][i]: mean of the leaves i << (depth - d) ... ((i + 1) << (depth - d)) - 1
        node_values = []
        for d in range(depth):
            total = (weights * leaf_values).reshape(1 << d, -1).sum(axis=1)
            weight = weights.reshape(1 << d, -1).sum(axis=1)
            node_values.append(np.divide(total, weight, out=np.zeros_like(total), where=weight > 0))
        node_values.append(leaf_values)
        offsets.append(start)
        bias += float(node_values[0][0])
        leaves = np.arange(1 << depth, dtype=np.int64)
        for d in range(depth):
            rows.append(start + leaves)
            columns.append(np.full(leaves.size, flat[splits[depth - 1 - d]["float_feature_index"]]))
            values.append(
                node_values[d + 1][leaves >> (depth - d - 1)] - node_values[d][leaves >> (depth - d)]
            )
        start += 1 << depth
    deltas = _csr(
        np.concatenate(rows), np.concatenate(columns), scale * np.concatenate(values), (start, features)
    )
    return PathMatrix(deltas, np.array(offsets, dtype=np.int64), scale * bias + float(biases[0]))
