"""Monitoring step: the recent window of scored transactions, and the labels that have arrived for it.

The score stage writes one ``ScoredFeatures`` per scored transaction to the capped history
stream ``tx.features``; a window is its latest ``size`` entries, put in event-time
(TransactionDT) order. Labels are the label stage's per-transaction hashes
(``LabelKeys.label``): what is known now, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from functions.events import feature_matrix
from functions.keys import LabelKeys
from functions.served import FEATURES_STREAM, ScoredFeatures, decode_scored_features
from streams.events import PAYLOAD
from streams.keys import Keys

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
        )


def read_window(client: Any, prefix: str, size: int) -> Window:
    """The latest ``size`` entries of ``tx.features`` (fewer if the stream holds fewer)."""
    key = Keys(prefix).stream(FEATURES_STREAM)
    records: list[ScoredFeatures] = []
    upper = "+"
    while len(records) < size:
        entries = client.xrevrange(key, max=upper, count=min(_CHUNK, size - len(records)))
        if not entries:
            break
        records.extend(decode_scored_features(fields[_PAYLOAD]) for _, fields in entries)
        upper = "(" + entries[-1][0].decode()
    records.sort(key=lambda r: (r.TransactionDT, r.TransactionID))
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
    )


def arrived_labels(client: Any, prefix: str, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int8]:
    """isFraud per transaction whose label has arrived, ``UNKNOWN`` (-1) for the others."""
    keys = LabelKeys(prefix)
    out = np.full(len(ids), UNKNOWN, dtype=np.int8)
    for start in range(0, len(ids), _CHUNK):
        pipe = client.pipeline(transaction=False)
        for tx_id in ids[start : start + _CHUNK]:
            pipe.hget(keys.label(int(tx_id)), "isFraud")
        for i, raw in enumerate(pipe.execute()):
            if raw is not None:
                out[start + i] = int(raw)
    return out
