"""Score stage, records: the result hash of each transaction and the per-minute KPI counters.

The score stage writes both in the atomic commit of each batch (``ScoreKeys.result`` /
``ScoreKeys.kpi``, and the per-segment counters ``ScoreKeys.segments``). This module is the one
owner of their fields: the label stage joins a result by the names in ``JOINED`` (its Lua reads
them), the gateway reads results back with ``from_hash``, the counters with ``SCORED`` /
``count_field`` / ``amount_field`` and the breakdown with ``read_segment_counters``.

A transaction's *segment* is its values of the breakdown dimensions (``SEGMENT_COLUMNS``:
product, card network, card type, device type), one short string. Each column holds a closed
set of values (``data.schema``), so there are at most a few hundred segments; one counter per
segment and decision keeps the score stage's cost to about two counter updates per batch and
segment, and the label join copies the segment so that labelled fraud can be broken down too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from functions.decision import Decision
from functions.events import TxEnriched, TxScored
from functions.scorer import Reason

Scalar = str | int | float

JOINED = ("TransactionDT", "amount", "probability", "decision", "model_version", "published_ns", "segment")
"""The result fields the label stage joins onto a label, in the order its script reads them."""

_encode_reasons = msgspec.json.Encoder().encode
_decode_reasons = msgspec.json.Decoder(list[Reason]).decode


class ResultRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A transaction's result as stored: the score, when it was scored and when it was published."""

    scored: TxScored
    scored_ns: int
    published_ns: int | None = None


def to_hash(tx: TxScored, published_ns: int | None, scored_ns: int, segment: str = "") -> dict[str, Scalar]:
    """The result hash of a scored transaction (``published_ns``: the input's publish time, if known;
    ``segment``: ``segment_of`` its enriched event)."""
    record: dict[str, Scalar] = {
        "probability": tx.probability,
        "decision": tx.decision,
        "risk": tx.risk,
        "model_version": tx.model_version,
        "review_threshold": tx.review_threshold,
        "decline_threshold": tx.decline_threshold,
        "TransactionDT": tx.TransactionDT,
        "amount": tx.TransactionAmt,
        "card1": tx.card1,
        "uid": tx.uid,
        "reasons": _encode_reasons(tx.reasons).decode(),
        "scored_ns": scored_ns,
        "segment": segment,
    }
    if published_ns is not None:
        record["published_ns"] = published_ns
    if tx.challenger is not None:
        record["challenger_version"] = tx.challenger.model_version
        record["challenger_probability"] = tx.challenger.probability
        record["challenger_decision"] = tx.challenger.decision
    return record


def from_hash(tx_id: int, found: Mapping[bytes, bytes]) -> ResultRecord:
    """The record a result hash (as HGETALL returns it) was written from; raises msgspec errors."""
    raw = {key.decode(): value.decode() for key, value in found.items()}
    challenger = None
    if "challenger_version" in raw:
        challenger = {
            "model_version": raw["challenger_version"],
            "probability": float(raw["challenger_probability"]),
            "decision": raw["challenger_decision"],
        }
    scored = msgspec.convert(
        {
            "TransactionID": tx_id,
            "TransactionDT": int(raw["TransactionDT"]),
            "TransactionAmt": float(raw["amount"]),
            "card1": int(raw["card1"]),
            "uid": raw.get("uid", ""),
            "probability": float(raw["probability"]),
            "risk": raw["risk"],
            "decision": raw["decision"],
            "reasons": _decode_reasons(raw.get("reasons", "[]")),
            "model_version": raw["model_version"],
            "review_threshold": float(raw["review_threshold"]),
            "decline_threshold": float(raw["decline_threshold"]),
            "challenger": challenger,
        },
        TxScored,
    )
    published = raw.get("published_ns")
    return ResultRecord(
        scored=scored,
        scored_ns=int(raw.get("scored_ns", 0)),
        published_ns=int(published) if published is not None else None,
    )


SCORED = "scored"
"""KPI counter: transactions scored in the minute."""


def count_field(decision: Decision) -> str:
    """KPI counter: transactions with this decision in the minute."""
    return decision


def amount_field(decision: Decision) -> str:
    """KPI counter: the amount of the transactions with this decision in the minute."""
    return f"{decision}_amount"


def kpi_increments(batch: Sequence[TxScored]) -> dict[str, int | float]:
    """What a scored batch adds to its minute's counters (counts are integers, amounts floats)."""
    counts: dict[str, int | float] = {}
    for tx in batch:
        for name, amount in (
            (SCORED, 1),
            (count_field(tx.decision), 1),
            (amount_field(tx.decision), tx.TransactionAmt),
        ):
            counts[name] = counts.get(name, 0) + amount
    return counts


SEGMENT_COLUMNS = ("ProductCD", "card4", "card6", "DeviceType")
"""The breakdown dimensions, in the order a segment string holds their values."""
_SEP = "|"
_AMOUNT = "$"


def segment_of(tx: TxEnriched) -> str:
    """The transaction's segment: its values of ``SEGMENT_COLUMNS`` joined by "|" (missing: empty)."""
    c = tx.categories
    return f"{tx.ProductCD}|{c.get('card4', '')}|{c.get('card6', '')}|{c.get('DeviceType', '')}"


def split_segment(segment: str) -> dict[str, str]:
    """Column -> value of a segment string (an older or malformed one: every value empty)."""
    values = segment.split(_SEP)
    if len(values) != len(SEGMENT_COLUMNS):
        values = [""] * len(SEGMENT_COLUMNS)
    return dict(zip(SEGMENT_COLUMNS, values, strict=True))


def segment_increments(batch: Sequence[tuple[str, TxScored]]) -> dict[str, int | float]:
    """What a scored batch of (segment, score) adds to its minute's per-segment counters:
    ``<decision>:<segment>`` counts, ``<decision>$:<segment>`` amounts."""
    counts: dict[tuple[str, str], int] = {}
    amounts: dict[tuple[str, str], float] = {}
    for segment, tx in batch:  # field names are built once per (decision, segment), not per event
        key = (tx.decision, segment)
        counts[key] = counts.get(key, 0) + 1
        amounts[key] = amounts.get(key, 0.0) + tx.TransactionAmt
    out: dict[str, int | float] = {}
    for (decision, segment), n in counts.items():
        out[f"{decision}:{segment}"] = n
        out[f"{decision}{_AMOUNT}:{segment}"] = amounts[(decision, segment)]
    return out


def read_segment_counters(counters: Mapping[str, float]) -> dict[tuple[str, str], tuple[int, float]]:
    """(segment, decision) -> (count, amount) of summed per-segment counters (``segment_increments``)."""
    out: dict[tuple[str, str], tuple[int, float]] = {}
    for name, value in counters.items():
        head, _, segment = name.partition(":")
        decision = head.removesuffix(_AMOUNT)
        count, amount = out.get((segment, decision), (0, 0.0))
        if head.endswith(_AMOUNT):
            out[(segment, decision)] = (count, amount + value)
        else:
            out[(segment, decision)] = (count + int(value), amount)
    return out
