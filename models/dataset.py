"""Training step: the training set (online features + labels) and its time-based split.

The matrix comes from replaying history through the online feature code, so training and
serving share one implementation (invariant 2). Rows are ordered by TransactionDT; the
split never lets a later row inform an earlier decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np
import numpy.typing as npt
from redis.cluster import RedisCluster

from data.loader import DataFiles, iter_json
from data.schema import Transaction, decode_transaction
from functions.features import FEATURE_NAMES
from functions.keys import scratch_prefix
from functions.replay import ReplayClient, ReplayMeta, drop_state, replay_features

Matrix = npt.NDArray[np.float32]
EARLY_STOP_SHARE = 0.15


@dataclass(frozen=True)
class TrainingSet:
    matrix: Matrix
    names: tuple[str, ...]
    ids: npt.NDArray[np.int64]
    times: npt.NDArray[np.int64]
    amounts: npt.NDArray[np.float64]
    labels: npt.NDArray[np.int_]

    @classmethod
    def build(cls, matrix: Matrix, names: Sequence[str], meta: Mapping[str, npt.ArrayLike]) -> TrainingSet:
        """From a feature matrix and its meta arrays (TransactionID/DT/Amt, isFraud), time-ordered."""
        times = np.asarray(meta["TransactionDT"], dtype=np.int64)
        labels = np.asarray(meta["isFraud"], dtype=np.float64)
        if np.isnan(labels).any() or (labels < 0).any():
            raise ValueError("training needs isFraud on every row")
        order = np.argsort(times, kind="stable")
        return cls(
            matrix=np.ascontiguousarray(np.asarray(matrix, dtype=np.float32)[order]),
            names=tuple(names),
            ids=np.asarray(meta["TransactionID"], dtype=np.int64)[order],
            times=times[order],
            amounts=np.asarray(meta["TransactionAmt"], dtype=np.float64)[order],
            labels=labels[order].astype(np.int_),
        )

    @classmethod
    def from_replay(cls, matrix: Matrix, names: Sequence[str], meta: ReplayMeta) -> TrainingSet:
        """From ``functions.replay.replay_features`` output (the online feature code)."""
        return cls.build(
            matrix,
            names,
            {
                "TransactionID": meta.transaction_id,
                "TransactionDT": meta.transaction_dt,
                "TransactionAmt": meta.amount,
                "isFraud": meta.is_fraud,
            },
        )

    def subset(self, names: Sequence[str]) -> TrainingSet:
        """The same rows with only some feature columns (e.g. a raw-columns baseline)."""
        position = {name: j for j, name in enumerate(self.names)}
        columns = [position[name] for name in names]
        return TrainingSet(
            np.ascontiguousarray(self.matrix[:, columns]),
            tuple(names),
            self.ids,
            self.times,
            self.amounts,
            self.labels,
        )


@dataclass(frozen=True)
class Split:
    """Row ranges, in time order: fit | early-stop | calibration | test."""

    fit: slice
    stop: slice
    calibration: slice
    test: slice

    def sizes(self) -> dict[str, int]:
        return {name: s.stop - s.start for name, s in vars(self).items()}


def time_split(rows: int, test_fraction: float, calibration_fraction: float) -> Split:
    test_start = round(rows * (1 - test_fraction))
    calibration_start = round(test_start * (1 - calibration_fraction))
    stop_start = round(calibration_start * (1 - EARLY_STOP_SHARE))
    if min(stop_start, calibration_start - stop_start, test_start - calibration_start) < 10:
        raise ValueError(f"{rows} rows are too few to split into fit/stop/calibration/test")
    return Split(
        fit=slice(0, stop_start),
        stop=slice(stop_start, calibration_start),
        calibration=slice(calibration_start, test_start),
        test=slice(test_start, rows),
    )


def read_transactions(files: DataFiles, limit: int | None = None) -> Iterator[Transaction]:
    """The files' joined rows in TransactionDT order, decoded as the live stream decodes them."""
    rows = (decode_transaction(raw) for chunk in iter_json(files) for raw in chunk)
    return islice(rows, limit)


def replay_training_set(
    client: ReplayClient,
    key_prefix: str,
    transactions: Iterable[Transaction],
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> TrainingSet:
    """Replay labelled history through the online feature code on a scratch prefix (then dropped).

    On a Redis Cluster the scratch prefix is one hash tag (``scratch_prefix(..., one_slot=True)``):
    the replay's feature scripts touch keys of many entities at once, all in that one slot (one
    master does the replay's Redis work)."""
    one_slot = isinstance(client, RedisCluster)
    scratch = scratch_prefix(key_prefix, "train", one_slot=one_slot)
    try:
        matrix, meta = replay_features(client, scratch, transactions, batch_size, progress, one_slot)
    finally:
        drop_state(client, scratch)
    return TrainingSet.from_replay(matrix, FEATURE_NAMES, meta)
