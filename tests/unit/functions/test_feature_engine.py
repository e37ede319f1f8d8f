"""Feature engine, pure part: names and layout, calendar features, raw columns and their codes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from data.schema import Transaction
from functions.engine import FeatureEngine, category_code
from functions.enrich import enrich
from functions.events import TxEnriched, decode_enriched, encode_event, feature_matrix
from functions.features import FEATURE_INDEX, FEATURE_NAMES, STATE_FEATURES


class ZeroState:
    """A fake FeatureState: stateful features all 7.0, and it records what it was given."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def apply(self, batch: Sequence[Transaction]) -> np.ndarray:
        self.batches.append([tx.TransactionID for tx in batch])
        return np.full((len(batch), len(STATE_FEATURES)), 7.0)


def tx(i: int = 1, **kw: Any) -> Transaction:
    base: dict[str, Any] = {
        "TransactionID": i,
        "TransactionDT": 86_400 * 3 + 5 * 3600 + 17,
        "TransactionAmt": 49.99,
        "ProductCD": "W",
        "card1": 1234,
    }
    return Transaction(**{**base, **kw})


def test_feature_names_are_unique_and_exclude_keys_and_label() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    for forbidden in ("TransactionID", "isFraud", "TransactionDT"):
        assert forbidden not in FEATURE_INDEX
    assert FEATURE_NAMES[: len(STATE_FEATURES)] == STATE_FEATURES


def test_calendar_features_from_event_time_and_amount() -> None:
    row = FeatureEngine(ZeroState()).compute([tx(D1=10.0, D4=None)])[0]
    assert row[FEATURE_INDEX["hour"]] == 5
    assert row[FEATURE_INDEX["dow"]] == 3 % 7
    assert abs(row[FEATURE_INDEX["cents"]] - 0.99) < 1e-9
    assert row[FEATURE_INDEX["D1_minus_day"]] == 10.0 - 3
    assert np.isnan(row[FEATURE_INDEX["D4_minus_day"]])


def test_raw_columns_numbers_as_floats_missing_as_nan() -> None:
    row = FeatureEngine(ZeroState()).compute([tx(card2=321.0, V17=2.5)])[0]
    assert row[FEATURE_INDEX["card1"]] == 1234
    assert row[FEATURE_INDEX["card2"]] == 321.0
    assert row[FEATURE_INDEX["V17"]] == 2.5
    assert row[FEATURE_INDEX["TransactionAmt"]] == 49.99
    assert np.isnan(row[FEATURE_INDEX["V18"]])


def test_categoricals_get_a_deterministic_code_independent_of_the_batch() -> None:
    engine = FeatureEngine(ZeroState())
    alone = engine.compute([tx(P_emaildomain="gmail.com", M4="M2")])[0]
    mixed = FeatureEngine(ZeroState()).compute(
        [tx(2, P_emaildomain="yahoo.com"), tx(P_emaildomain="gmail.com", M4="M2")]
    )[1]
    for name in ("P_emaildomain", "M4", "ProductCD"):
        assert alone[FEATURE_INDEX[name]] == mixed[FEATURE_INDEX[name]]
    assert alone[FEATURE_INDEX["P_emaildomain"]] == category_code("gmail.com")
    assert np.isnan(alone[FEATURE_INDEX["R_emaildomain"]])
    assert category_code("gmail.com") != category_code("yahoo.com")
    assert category_code("gmail.com") < 2**24  # exact in float32


def test_state_features_come_from_the_port_in_batch_order() -> None:
    state = ZeroState()
    out = FeatureEngine(state).compute([tx(5), tx(3)])
    assert state.batches == [[5, 3]]
    assert (out[:, : len(STATE_FEATURES)] == 7.0).all()


def test_enriched_event_round_trips_its_float32_vector() -> None:
    vector = np.arange(len(FEATURE_NAMES), dtype=np.float32)
    event = TxEnriched(
        TransactionID=1,
        TransactionDT=86_400,
        TransactionAmt=1.0,
        card1=1000,
        uid="u",
        ProductCD="W",
        features=vector.tobytes(),
    )
    back = decode_enriched(encode_event(event))
    assert back == event
    assert np.array_equal(feature_matrix([back, back]), np.vstack([vector, vector]))


def test_enrich_carries_the_client_uid_and_the_original_categories() -> None:
    (event,) = enrich([tx(card1=6838, D1=31.0, card4="visa")], FeatureEngine(ZeroState()))
    assert event.uid == "6838||-28.0"  # no address: an empty part, not the text None
    assert event.categories == {"ProductCD": "W", "card4": "visa"}
