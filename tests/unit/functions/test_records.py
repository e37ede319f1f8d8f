"""Stage records: the result hash codec, the stream payload codecs, the live-thresholds rule."""

from __future__ import annotations

from typing import Any

import pytest

from functions.decision import Thresholds
from functions.events import (
    AlertRaised,
    LabelStored,
    ShadowScore,
    TxScored,
    decode_alert,
    decode_label_stored,
    decode_scored,
    encode_event,
)
from functions.keys import OperatorKeys
from functions.result import (
    JOINED,
    SEGMENT_COLUMNS,
    amount_field,
    from_hash,
    kpi_increments,
    split_segment,
    to_hash,
)
from functions.scorer import Reason
from functions.strategy import RedisThresholds

SCORED = TxScored(
    TransactionID=7, TransactionDT=86_500, TransactionAmt=12.5, card1=1234, uid="1234|204.0|10",
    probability=0.91, risk="high", decision="decline",
    reasons=[Reason(feature="amt_uid_24h", value=3.0, contribution=0.7)], model_version="v1",
    review_threshold=0.3, decline_threshold=0.8,
    challenger=ShadowScore(model_version="v2", probability=0.4, decision="review"),
)  # fmt: skip


def _as_redis(mapping: dict[str, Any]) -> dict[bytes, bytes]:
    return {k.encode(): str(v).encode() for k, v in mapping.items()}


def test_a_result_hash_reads_back_as_the_score_it_was_written_from() -> None:
    record = from_hash(7, _as_redis(to_hash(SCORED, published_ns=123, scored_ns=456)))
    assert (record.scored, record.published_ns, record.scored_ns) == (SCORED, 123, 456)
    without = from_hash(7, _as_redis(to_hash(SCORED, published_ns=None, scored_ns=456)))
    assert without.published_ns is None


def test_the_label_join_reads_fields_the_result_hash_has() -> None:
    assert set(JOINED) <= set(to_hash(SCORED, published_ns=1, scored_ns=2))


def test_a_segment_splits_into_its_columns_and_a_foreign_one_into_empty_values() -> None:
    assert split_segment("C|american express|debit or credit|") == {
        "ProductCD": "C", "card4": "american express", "card6": "debit or credit", "DeviceType": "",
    }  # fmt: skip
    assert split_segment("") == dict.fromkeys(SEGMENT_COLUMNS, "")


def test_an_alert_is_the_score_it_flags() -> None:
    alert = AlertRaised.of(SCORED)
    assert decode_alert(encode_event(alert)) == alert
    assert (alert.TransactionID, alert.decision, alert.reasons) == (7, "decline", SCORED.reasons)


def test_every_payload_round_trips() -> None:
    assert decode_scored(encode_event(SCORED)) == SCORED
    stored = LabelStored(TransactionID=7, isFraud=1, probability=0.91, delay_s=2.5)
    assert decode_label_stored(encode_event(stored)) == stored


def test_kpi_increments_count_and_sum_per_decision() -> None:
    counts = kpi_increments([SCORED, SCORED])
    assert counts == {"scored": 2, "decline": 2, amount_field("decline"): 25.0}


class FakeHash:
    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields

    def hmget(self, name: str, keys: list[str]) -> list[bytes | None]:
        return [self.fields[k].encode() if k in self.fields else None for k in keys]


@pytest.mark.parametrize(
    ("stored", "champion", "expected"),
    [
        ({"review": "0.2", "decline": "0.6", "updated_by": "a"}, (0.1, 0.5), (0.2, 0.6, "strategy")),
        ({}, (0.1, 0.5), (0.1, 0.5, "champion")),
        ({}, None, (0.3, 0.8, "defaults")),
        ({}, (0.5, 0.5), (0.3, 0.8, "defaults")),  # no review band: breaks the one ordering rule
        ({"review": "0.2"}, (0.1, 0.5), (0.1, 0.5, "champion")),  # half a strategy is none
    ],
)
def test_live_thresholds_come_from_strategy_then_champion_then_defaults(
    stored: dict[str, str], champion: tuple[float, float] | None, expected: tuple[float, float, str]
) -> None:
    live = RedisThresholds(FakeHash(stored), OperatorKeys("t:"), (0.3, 0.8)).live(champion)
    assert (live.thresholds.review, live.thresholds.decline, live.source) == expected


@pytest.mark.parametrize(("review", "decline"), [(0.5, 0.5), (0.8, 0.3)])
def test_one_ordering_rule_review_below_decline(review: float, decline: float) -> None:
    with pytest.raises(ValueError, match="at or above decline"):
        Thresholds(review=review, decline=decline)
