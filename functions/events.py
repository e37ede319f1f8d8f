"""Stage contracts: every payload a stage writes to a stream, with its one encoder and typed decoders.

    tx.enriched     TxEnriched     enrich -> score: a transaction with its feature vector
    tx.scored       TxScored       score: probability, decision, reasons (+ ShadowScore of the challenger)
    alerts          AlertRaised    score: a reviewed or declined TxScored (also on the alerts channel)
    labels.stored   LabelStored    label: a label joined with its score

``TxEnriched.features`` is the float32 little-endian vector in ``FEATURE_NAMES`` order (base64 in
JSON), so the score stage builds its batch matrix with one ``np.frombuffer`` (``feature_matrix``).
``feature_set`` names that order; a model trained on another order must refuse the event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

import msgspec
import numpy as np

from functions.decision import Decision, Risk
from functions.features import FEATURE_NAMES
from functions.scorer import Reason

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
    categories: dict[str, str] = {}
    """The original values of the categorical columns present: reasons show them, not their codes."""
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


class ShadowScore(msgspec.Struct, frozen=True, kw_only=True):
    """The challenger's opinion, stored beside the champion's and never acted on."""

    model_version: str
    probability: float
    decision: Decision


class _Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """What a score says of a transaction: the fields a TxScored and the AlertRaised it raises share."""

    TransactionID: int
    TransactionDT: int
    TransactionAmt: float
    card1: int
    uid: str
    probability: float
    risk: Risk
    decision: Decision


class TxScored(_Verdict, frozen=True, kw_only=True):
    """A transaction's fraud score and decision (stream ``tx.scored``)."""

    reasons: list[Reason] = []  # only for review / decline: explanations cost time
    model_version: str
    review_threshold: float
    decline_threshold: float
    challenger: ShadowScore | None = None


class AlertRaised(_Verdict, frozen=True, kw_only=True):
    """A transaction that needs action (review or decline) (stream ``alerts`` + pub/sub)."""

    reasons: list[Reason]
    model_version: str

    @classmethod
    def of(cls, scored: TxScored) -> AlertRaised:
        """The alert a reviewed or declined score raises: the score's own fields, no copy by hand."""
        return cls(**{name: getattr(scored, name) for name in cls.__struct_fields__})


class LabelStored(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A label joined with its score (stream ``labels.stored``: the label store for retraining)."""

    TransactionID: int
    isFraud: int
    TransactionDT: int | None = None
    TransactionAmt: float | None = None
    probability: float | None = None  # None: the transaction was never scored
    decision: str | None = None
    model_version: str | None = None
    delay_s: float | None = None  # label arrival - transaction publish (wall clock)
    duplicate: bool = False  # the label was already stored (redelivery): nothing counted again


_encoder = msgspec.json.Encoder()
_enriched = msgspec.json.Decoder(TxEnriched)
_scored = msgspec.json.Decoder(TxScored)
_alert = msgspec.json.Decoder(AlertRaised)
_label_stored = msgspec.json.Decoder(LabelStored)


def encode_event(event: TxEnriched | TxScored | AlertRaised | LabelStored) -> bytes:
    """The JSON payload of any stage event."""
    return _encoder.encode(event)


def decode_enriched(raw: bytes) -> TxEnriched:
    """Decode (and validate the types of) one ``tx.enriched`` payload; raises msgspec errors."""
    return _enriched.decode(raw)


def decode_scored(raw: bytes) -> TxScored:
    """Decode one ``tx.scored`` payload; raises msgspec errors."""
    return _scored.decode(raw)


def decode_alert(raw: bytes) -> AlertRaised:
    """Decode one ``alerts`` payload; raises msgspec errors."""
    return _alert.decode(raw)


def decode_label_stored(raw: bytes) -> LabelStored:
    """Decode one ``labels.stored`` payload; raises msgspec errors."""
    return _label_stored.decode(raw)
