"""Score stage, contracts: thresholds, and the facts it emits (``TxScored``, ``AlertRaised``).

Risk level and decision follow the thresholds (DESIGN.md defaults):
approve < review threshold <= review < decline threshold <= decline.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from functions.scorer import Reason

Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Decision = Literal["approve", "review", "decline"]
Risk = Literal["low", "medium", "high"]
RISK: dict[Decision, Risk] = {"approve": "low", "review": "medium", "decline": "high"}


class Thresholds(msgspec.Struct, frozen=True, kw_only=True):
    """Calibrated-probability cut-offs of the decisions (kept in Redis, set from the Strategy page)."""

    review: Probability
    decline: Probability

    def __post_init__(self) -> None:
        if self.review > self.decline:
            raise ValueError(f"review threshold {self.review} is above decline threshold {self.decline}")

    def decide(self, probability: float) -> Decision:
        if probability >= self.decline:
            return "decline"
        if probability >= self.review:
            return "review"
        return "approve"


class ShadowScore(msgspec.Struct, frozen=True, kw_only=True):
    """The challenger's opinion, stored beside the champion's and never acted on."""

    model_version: str
    probability: float
    decision: Decision


class TxScored(msgspec.Struct, frozen=True, kw_only=True):
    """A transaction's fraud score and decision (stream ``tx.scored``)."""

    TransactionID: int
    TransactionDT: int
    TransactionAmt: float
    card1: int
    uid: str
    probability: float
    risk: Risk
    decision: Decision
    reasons: list[Reason] = []  # only for review / decline: explanations cost time
    model_version: str
    review_threshold: float
    decline_threshold: float
    challenger: ShadowScore | None = None


class AlertRaised(msgspec.Struct, frozen=True, kw_only=True):
    """A transaction that needs action (review or decline) (stream ``alerts`` + pub/sub)."""

    TransactionID: int
    TransactionDT: int
    TransactionAmt: float
    card1: int
    uid: str
    probability: float
    risk: Risk
    decision: Decision
    reasons: list[Reason]
    model_version: str
