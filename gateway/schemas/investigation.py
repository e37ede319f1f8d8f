"""Gateway DTOs of investigation: scored transactions, the forensics record, alerts and verdicts."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from gateway.schemas.common import Decision, Probability, Reason, TransactionId, Verdict
from gateway.schemas.scoring import ChallengerScore


class TransactionSummary(msgspec.Struct, frozen=True, kw_only=True):
    transaction_id: TransactionId
    scored_at: float  # unix seconds
    amount: float
    probability: Probability
    risk_level: str
    decision: Decision
    model_version: str
    card1: int | None = None
    uid: str | None = None


class TransactionPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[TransactionSummary]
    next_cursor: str | None = None


class Forensics(msgspec.Struct, frozen=True, kw_only=True):
    """Everything recorded about one transaction: its key fields, entity features, scores, label."""

    transaction_id: TransactionId
    scored_at: float  # unix seconds
    published_at: float | None = None  # when it entered Sentinel (unix seconds)
    raw: dict[str, Any]  # the transaction as received, every column present (kept as long as the result)
    uid: str  # the client identity the entity features aggregate over
    features: dict[str, float | None]  # the stateful entity features computed for it
    probability: Probability
    risk_level: str
    decision: Decision
    reasons: list[Reason]
    model_version: str
    review_threshold: float
    decline_threshold: float
    challenger: ChallengerScore | None = None
    label: int | None = None  # isFraud once known (chargeback or analyst verdict)


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    alert_id: str
    transaction_id: TransactionId
    raised_at: float
    amount: float
    probability: Probability
    risk_level: str
    decision: Decision
    reasons: list[Reason]
    card1: int | None = None
    uid: str | None = None
    model_version: str | None = None
    status: str  # open | resolved
    verdict: Verdict | None = None
    resolved_by: str | None = None
    resolved_at: str | None = None


class AlertPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Alert]
    next_cursor: str | None = None


class AlertQueue(msgspec.Struct, frozen=True, kw_only=True):
    """One page of the sorted, filtered alert queue, with the queue's own KPIs."""

    items: list[Alert]
    total: int  # alerts matching the filters
    offset: int
    open: int  # open alerts in the queue (whatever the filters)
    resolved: int
    oldest_open_age_s: float | None  # age of the oldest open alert
    median_time_to_verdict_s: float | None  # over the latest resolved alerts


Note = Annotated[str, msgspec.Meta(max_length=500, description="Why (kept in the audit log).")]


class Resolve(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    verdict: Verdict
    note: Note | None = None


class Resolution(msgspec.Struct, frozen=True, kw_only=True):
    """An analyst's verdict on an alert; it is also sent to the label stage as ``label``."""

    transaction_id: TransactionId
    verdict: Verdict
    label: int
    resolved_by: str
    resolved_at: str
