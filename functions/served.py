"""Score stage, monitoring output: ``ScoredFeatures``, what a score was computed from (stream ``tx.features``).

One record per scored transaction (MessagePack): the feature vector the scorer saw
(``FEATURE_NAMES`` order, float32 little-endian, as in ``TxEnriched``), the calibrated probability
and, when a challenger runs in shadow, its probability. The stream is a capped history
(``streams.history_stream_entries``); the model lifecycle jobs read it: drift checks compare
its vectors with the champion's reference histograms, performance estimation uses its
probabilities, and retraining joins it with the labels that have arrived, so a retrained
model learns from exactly the features serving computed (no skew by construction).
"""

from __future__ import annotations

import msgspec

from functions.events import TxEnriched, TxScored

FEATURES_STREAM = "tx.features"


class ScoredFeatures(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A scored transaction's features and scores (stream ``tx.features``)."""

    TransactionID: int
    TransactionDT: int
    TransactionAmt: float
    probability: float
    model_version: str
    challenger_probability: float | None = None
    challenger_version: str | None = None
    features: bytes = b""

    @classmethod
    def of(cls, enriched: TxEnriched, scored: TxScored) -> ScoredFeatures:
        shadow = scored.challenger
        return cls(
            TransactionID=scored.TransactionID,
            TransactionDT=scored.TransactionDT,
            TransactionAmt=scored.TransactionAmt,
            probability=scored.probability,
            model_version=scored.model_version,
            challenger_probability=None if shadow is None else shadow.probability,
            challenger_version=None if shadow is None else shadow.model_version,
            features=enriched.features,
        )


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(ScoredFeatures)
_json_decoder = msgspec.json.Decoder(ScoredFeatures)


def encode_scored_features(record: ScoredFeatures) -> bytes:
    """MessagePack: the vector stays binary (≈ 2.3 kB a record, not 3.9 kB of JSON with the vector
    in base64), which every scored event pays to pack, send and store."""
    return _encoder.encode(record)


def decode_scored_features(raw: bytes) -> ScoredFeatures:
    """A record of either encoding: those written as JSON (before MessagePack) stay in the capped
    stream after an upgrade, and a JSON object starts with ``{``, never a MessagePack map."""
    if raw[:1] == b"{":
        return _json_decoder.decode(raw)
    return _decoder.decode(raw)
