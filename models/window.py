"""Monitoring step: the recent window of scored transactions, and the labels that have arrived for it.

The score stage writes one ``ScoredFeatures`` per scored transaction to the capped history
stream ``tx.features``; a window is its latest ``size`` entries, put in event-time
(TransactionDT) order. Labels are the label stage's per-transaction hashes
(``LabelKeys.label``): what is known now, nothing more.

With stream shards (a Redis Cluster) every shard's score stage writes its own ``tx.features``:
the window is the latest ``size`` entries of all of them (by entry id, the time each was
written: each shard's latest ``size`` are read, then the newest ``size`` kept), and each row
remembers its shard, where the label stage stores its label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from functions.events import feature_matrix
from functions.keys import LabelKeys
from functions.served import FEATURES_STREAM, decode_scored_features
from streams.events import PAYLOAD
from streams.keys import KeySets, key_sets

UNKNOWN = -1
_CHUNK = 5_000
_PAYLOAD = PAYLOAD.encode()


@dataclass(frozen=True)
class Window:
    """Scored transactions in TransactionDT order (all arrays share that row order)."""

    ids: npt.NDArray[np.int64]
    times: npt.NDArray[np.int64]
    amounts: npt.NDArray[np.float64]
    probs: npt.NDArray[np.float64]
    versions: list[str]
    challenger_probs: npt.NDArray[np.float64]  # NaN where no challenger scored the row
    challenger_versions: list[str | None]
    matrix: npt.NDArray[np.float32]  # FEATURE_NAMES order
    shards: npt.NDArray[np.int16]  # the stream shard each row was scored on (0 on one Redis)

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, mask: npt.NDArray[np.bool_]) -> Window:
        index = np.flatnonzero(mask)
        return Window(
            self.ids[index],
            self.times[index],
            self.amounts[index],
            self.probs[index],
            [self.versions[i] for i in index],
            self.challenger_probs[index],
            [self.challenger_versions[i] for i in index],
            self.matrix[index],
            self.shards[index],
        )


def _latest(client: Any, key: str, size: int) -> list[tuple[tuple[int, int], bytes]]:
    """The latest ``size`` entries of a stream, newest first: (entry id as numbers, payload)."""
    found: list[tuple[tuple[int, int], bytes]] = []
    upper = "+"
    while len(found) < size:
        entries = client.xrevrange(key, max=upper, count=min(_CHUNK, size - len(found)))
        if not entries:
            break
        for entry_id, fields in entries:
            ms, _, seq = entry_id.decode().partition("-")
            found.append(((int(ms), int(seq)), fields[_PAYLOAD]))
        upper = "(" + entries[-1][0].decode()
    return found


def read_window(client: Any, keys: KeySets, size: int) -> Window:
    """The latest ``size`` entries of ``tx.features`` over every stream shard of ``keys`` (fewer if
    the streams hold fewer)."""
    shards = key_sets(keys)
    latest = [
        (entry_id, shard, payload)
        for shard, shard_keys in enumerate(shards)
        for entry_id, payload in _latest(client, shard_keys.stream(FEATURES_STREAM), size)
    ]
    if len(shards) > 1:
        latest = sorted(latest, key=lambda row: row[0], reverse=True)[:size]
    rows = [(decode_scored_features(payload), shard) for _, shard, payload in latest]
    rows.sort(key=lambda row: (row[0].TransactionDT, row[0].TransactionID))
    records = [record for record, _ in rows]
    return Window(
        ids=np.array([r.TransactionID for r in records], dtype=np.int64),
        times=np.array([r.TransactionDT for r in records], dtype=np.int64),
        amounts=np.array([r.TransactionAmt for r in records], dtype=np.float64),
        probs=np.array([r.probability for r in records], dtype=np.float64),
        versions=[r.model_version for r in records],
        challenger_probs=np.array(
            [np.nan if r.challenger_probability is None else r.challenger_probability for r in records],
            dtype=np.float64,
        ),
        challenger_versions=[r.challenger_version for r in records],
        matrix=feature_matrix(records),
        shards=np.array([shard for _, shard in rows], dtype=np.int16),
    )


def arrived_labels(client: Any, keys: KeySets, window: Window) -> npt.NDArray[np.int8]:
    """isFraud per row of ``window`` whose label has arrived (read on the row's shard), ``UNKNOWN``
    (-1) for the others."""
    labels = [LabelKeys(shard.prefix) for shard in key_sets(keys)]
    ids, shards = window.ids, window.shards
    out = np.full(len(ids), UNKNOWN, dtype=np.int8)
    for start in range(0, len(ids), _CHUNK):
        pipe = client.pipeline(transaction=False)
        for tx_id, shard in zip(ids[start : start + _CHUNK], shards[start : start + _CHUNK], strict=True):
            pipe.hget(labels[shard].label(int(tx_id)), "isFraud")
        for i, raw in enumerate(pipe.execute()):
            if raw is not None:
                out[start + i] = int(raw)
    return out
