"""Training set: history replayed through the ONLINE feature code against a scratch key prefix.

Invariant 2 (zero training/serving skew): the matrix a model is trained on is produced by
``FeatureEngine`` + ``RedisFeatureState``, the very objects the enrich function runs, in
batches like the stream. Give the transactions in TransactionDT order (the order the live
stream approximately sees them) and a fresh prefix (``functions.keys.scratch_prefix``); drop it
afterwards with ``drop_state``.

    X, meta = replay_features(client, scratch_prefix(key_prefix, "train"), transactions)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any, Protocol

import numpy as np

from data.schema import Transaction
from functions.engine import FeatureEngine
from functions.features import FEATURE_NAMES
from functions.keys import FeatureKeys
from functions.velocity import FeatureTtl, RedisFeatureState


class ReplayClient(Protocol):
    """What the replay needs from a redis-py client (injected, never created here)."""

    def register_script(self, script: str) -> Any: ...

    def scan_iter(self, match: str, count: int) -> Iterable[Any]: ...

    def unlink(self, *names: Any) -> Any: ...


@dataclass(frozen=True)
class ReplayMeta:
    """Per-row facts of the replayed transactions (same row order as X)."""

    transaction_id: np.ndarray  # int64
    transaction_dt: np.ndarray  # int64
    amount: np.ndarray  # float64
    is_fraud: np.ndarray  # int8, -1 where the label is unknown

    def __len__(self) -> int:
        return len(self.transaction_id)


def replay_features(
    redis_client: ReplayClient,
    key_prefix: str,
    transactions: Iterable[Transaction],
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
    one_slot: bool = False,
) -> tuple[np.ndarray, ReplayMeta]:
    """X float32 [n, len(FEATURE_NAMES)] and meta, computed by the online feature code.

    ``progress(k)`` is called after each batch with the number of rows it added. ``one_slot``: on a
    Redis Cluster, with ``key_prefix`` one hash tag: the state of every entity under it, absent
    entities named by a placeholder key of that slot (as a cluster's per-slot calls name them).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    keys = FeatureKeys(key_prefix, (key_prefix,) if one_slot else ())
    engine = FeatureEngine(RedisFeatureState(redis_client, keys, FeatureTtl()))
    blocks: list[np.ndarray] = []
    ids: list[int] = []
    dts: list[int] = []
    amounts: list[float] = []
    labels: list[int] = []
    iterator = iter(transactions)
    while batch := list(islice(iterator, batch_size)):
        blocks.append(engine.compute(batch).astype(np.float32))
        for tx in batch:
            ids.append(tx.TransactionID)
            dts.append(tx.TransactionDT)
            amounts.append(tx.TransactionAmt)
            labels.append(-1 if tx.isFraud is None else tx.isFraud)
        if progress is not None:
            progress(len(batch))
    matrix = np.concatenate(blocks) if blocks else np.empty((0, len(FEATURE_NAMES)), dtype=np.float32)
    meta = ReplayMeta(
        transaction_id=np.array(ids, dtype=np.int64),
        transaction_dt=np.array(dts, dtype=np.int64),
        amount=np.array(amounts, dtype=np.float64),
        is_fraud=np.array(labels, dtype=np.int8),
    )
    return matrix, meta


def drop_state(redis_client: ReplayClient, key_prefix: str) -> int:
    """Delete every feature-state key under ``key_prefix``; returns how many."""
    removed = 0
    batch: list[Any] = []
    for key in redis_client.scan_iter(match=f"{FeatureKeys(key_prefix).root}*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            redis_client.unlink(*batch)
            removed += len(batch)
            batch = []
    if batch:
        redis_client.unlink(*batch)
        removed += len(batch)
    return removed
