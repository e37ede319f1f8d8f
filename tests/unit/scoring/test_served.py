"""``tx.features`` records: MessagePack with the vector binary; records written as JSON still read."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from functions.features import FEATURE_NAMES
from functions.served import ScoredFeatures, decode_scored_features, encode_scored_features

RECORD = ScoredFeatures(
    TransactionID=7,
    TransactionDT=86_400,
    TransactionAmt=12.5,
    probability=0.25,
    model_version="v1",
    challenger_probability=0.5,
    challenger_version="v2",
    features=np.arange(len(FEATURE_NAMES), dtype="<f4").tobytes(),
)


def test_a_record_round_trips_with_its_vector_binary() -> None:
    raw = encode_scored_features(RECORD)
    assert decode_scored_features(raw) == RECORD
    assert len(raw) < len(RECORD.features) + 200  # not base64: 4 bytes a feature and the field names


def test_a_record_written_as_json_before_still_reads() -> None:
    assert decode_scored_features(msgspec.json.encode(RECORD)) == RECORD


@pytest.mark.parametrize("raw", [b"", b"{", b"\x81\xa1x", b"\xc1garbage"])
def test_a_damaged_record_raises_a_decode_error(raw: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_scored_features(raw)
