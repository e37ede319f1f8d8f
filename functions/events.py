"""Enrich stage, output contract: ``TxEnriched``, a transaction with its feature vector.

``features`` is the float32 little-endian vector in ``FEATURE_NAMES`` order (base64 in JSON),
so the score stage builds its batch matrix with one ``np.frombuffer`` (``feature_matrix``).
``feature_set`` names that order; a model trained on another order must refuse the event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

import msgspec
import numpy as np

from functions.features import FEATURE_NAMES

FEATURE_SET = hashlib.sha256("\n".join(FEATURE_NAMES).encode()).hexdigest()[:16]
"""Identifier of the feature order: changes whenever a feature is added, removed or moved."""


class TxEnriched(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A transaction with its features (stream ``tx.enriched``)."""

    TransactionID: int
    TransactionDT: int
    TransactionAmt: float
    card1: int
    uid: str
    ProductCD: str
    P_emaildomain: str | None = None
    DeviceInfo: str | None = None
    feature_set: str = FEATURE_SET
    features: bytes = b""

    def vector(self) -> np.ndarray:
        """The features as float32 [len(FEATURE_NAMES)]."""
        return np.frombuffer(self.features, dtype="<f4")


class HasFeatures(Protocol):
    """Anything carrying a packed feature vector (``TxEnriched``, ``ScoredFeatures``)."""

    @property
    def features(self) -> bytes: ...


def feature_matrix(batch: Sequence[HasFeatures]) -> np.ndarray:
    """float32 [len(batch), len(FEATURE_NAMES)]: the events' vectors stacked, one copy."""
    if not batch:
        return np.empty((0, len(FEATURE_NAMES)), dtype=np.float32)
    matrix = np.frombuffer(b"".join(tx.features for tx in batch), dtype="<f4")
    return matrix.reshape(len(batch), len(FEATURE_NAMES))


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(TxEnriched)


def encode_enriched(tx: TxEnriched) -> bytes:
    return _encoder.encode(tx)


def decode_enriched(raw: bytes) -> TxEnriched:
    """Decode (and validate the types of) one ``tx.enriched`` payload; raises msgspec errors."""
    return _decoder.decode(raw)
