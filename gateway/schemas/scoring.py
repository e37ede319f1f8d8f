"""Gateway DTOs of scoring: the synchronous score result and the asynchronous submission receipt."""

from __future__ import annotations

import msgspec

from gateway.schemas.common import Decision, Probability, Reason, TransactionId


class ChallengerScore(msgspec.Struct, frozen=True, kw_only=True):
    """What the challenger model would have decided (shadow mode; never acted upon)."""

    model_version: str
    probability: Probability
    decision: Decision


class ScoreResult(msgspec.Struct, frozen=True, kw_only=True):
    """The decision for one transaction."""

    transaction_id: TransactionId
    probability: Probability
    risk_level: str = msgspec.field(name="risk_level")
    decision: Decision
    reasons: list[Reason]
    model_version: str
    challenger: ChallengerScore | None = None
    latency_ms: float = msgspec.field(default=0.0)
    dry_run: bool = False
    replayed: bool = False  # True: this TransactionID was scored before; the recorded result is returned


class Accepted(msgspec.Struct, frozen=True, kw_only=True):
    """Transactions accepted for asynchronous scoring (published to the broker)."""

    accepted: int
    transaction_ids: list[int]
    topic: str
