"""Score stage composition: the effects of a scored batch (outputs, alerts, result records, KPIs)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np
import numpy.typing as npt

from functions.decision import Thresholds
from functions.events import TxEnriched, TxScored
from functions.features import FEATURE_NAMES
from functions.keys import ScoreKeys
from functions.result import read_segment_counters
from functions.score import score
from functions.scorer import Matrix, Reason
from infra.pipeline.score import score_effects
from streams.events import PUBLISHED_NS, Emit, Event, HashIncr, HashSet, IndexAdd, Publish


class FixedModel:
    """A fake Scorer: the probability is the first feature of the row."""

    version = "test-v1"
    feature_names: Sequence[str] = FEATURE_NAMES

    def predict_proba(self, matrix: Matrix) -> npt.NDArray[np.float64]:
        return matrix[:, 0].astype(np.float64)

    def reasons(self, matrix: Matrix, top_k: int) -> list[list[Reason]]:
        return [[Reason(feature=FEATURE_NAMES[0], value=float(row[0]), contribution=1.0)] for row in matrix]


def event(tx_id: int, p: float, categories: dict[str, str] | None = None) -> Event[TxEnriched]:
    vector = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
    vector[0] = p
    tx = TxEnriched(
        TransactionID=tx_id, TransactionDT=86_400 + tx_id, TransactionAmt=10.0 * tx_id, card1=1000,
        uid="1000|None|None", ProductCD="W", categories=categories or {}, features=vector.tobytes(),
    )  # fmt: skip
    return Event(f"1-{tx_id}", tx, b"", {PUBLISHED_NS: str(1_000 + tx_id)})


def test_every_input_scored_once_and_only_review_or_decline_alerted() -> None:
    batch = [event(1, 0.1), event(2, 0.5), event(3, 0.9)]
    scored, alerts = score([e.value for e in batch], FixedModel(), Thresholds(review=0.3, decline=0.8))
    keys = ScoreKeys("t:")
    effects = score_effects(batch, scored, alerts, keys, result_ttl_s=60, history_per_entity=5)

    outputs = [e for e in effects if isinstance(e, Emit) and e.stream == "tx.scored"]
    assert [msgspec.json.decode(e.payload, type=TxScored).TransactionID for e in outputs] == [1, 2, 3]
    assert all(e.meta[PUBLISHED_NS] == str(1_000 + i) for i, e in enumerate(outputs, start=1))
    alerted = [e for e in effects if isinstance(e, Emit) and e.stream == "alerts"]
    assert [msgspec.json.decode(e.payload)["decision"] for e in alerted] == ["review", "decline"]
    assert sum(isinstance(e, Publish) and e.channel == keys.alerts_channel for e in effects) == 2

    records = {e.key: e for e in effects if isinstance(e, HashSet)}
    record = records[keys.result(3)]
    assert record.ttl_s == 60
    assert record.mapping["decision"] == "decline" and record.mapping["amount"] == 30.0
    assert record.mapping["published_ns"] == 1_003

    counters = {e.field: e.amount for e in effects if isinstance(e, HashIncr)}
    assert counters["scored"] == 3 and counters["approve"] == 1 and counters["decline"] == 1
    assert counters["review_amount"] == 20.0


def test_each_segment_counts_its_decisions_and_amounts_and_the_result_names_it() -> None:
    mobile_visa = {"ProductCD": "W", "card4": "visa", "card6": "debit", "DeviceType": "mobile"}
    batch = [event(1, 0.9, mobile_visa), event(2, 0.95, mobile_visa), event(3, 0.1)]
    scored, alerts = score([e.value for e in batch], FixedModel(), Thresholds(review=0.3, decline=0.8))
    keys = ScoreKeys("t:")
    effects = score_effects(batch, scored, alerts, keys, result_ttl_s=60, history_per_entity=5)

    records = {e.key: e.mapping for e in effects if isinstance(e, HashSet)}
    assert records[keys.result(1)]["segment"] == "W|visa|debit|mobile"
    assert records[keys.result(3)]["segment"] == "W|||"
    segments = {e.field: e.amount for e in effects if isinstance(e, HashIncr) and "kpiseg" in e.key}
    assert read_segment_counters(segments) == {
        ("W|visa|debit|mobile", "decline"): (2, 30.0),
        ("W|||", "approve"): (1, 30.0),
    }


def test_each_transaction_joins_its_card_and_client_history_bounded_and_expiring_with_its_record() -> None:
    batch = [event(1, 0.1), event(2, 0.9)]
    scored, alerts = score([e.value for e in batch], FixedModel(), Thresholds(review=0.3, decline=0.8))
    keys = ScoreKeys("t:")
    effects = score_effects(batch, scored, alerts, keys, result_ttl_s=60, history_per_entity=5)

    indexed = [e for e in effects if isinstance(e, IndexAdd)]
    assert [(e.key, e.member) for e in indexed] == [
        (keys.card_history(1000), 1),
        (keys.client_history("1000|None|None"), 1),
        (keys.card_history(1000), 2),
        (keys.client_history("1000|None|None"), 2),
    ]
    assert {(e.keep, e.ttl_s) for e in indexed} == {(5, 60)}
    records = {e.key: e.mapping for e in effects if isinstance(e, HashSet)}
    for e in indexed:  # scored by when, as the record says (ms)
        assert e.score == int(records[keys.result(int(e.member))]["scored_ns"]) // 1_000_000
