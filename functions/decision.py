"""Score stage, decision rule: thresholds on the calibrated probability -> approve / review / decline.

Risk level and decision follow the thresholds (DESIGN.md defaults), with one ordering rule
everywhere (score stage, label stage, the gateway's Strategy API): review < decline, so
approve < review threshold <= review < decline threshold <= decline.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Decision = Literal["approve", "review", "decline"]
Risk = Literal["low", "medium", "high"]
RISK: dict[Decision, Risk] = {"approve": "low", "review": "medium", "decline": "high"}
DECISIONS: tuple[Decision, ...] = tuple(RISK)


class Thresholds(msgspec.Struct, frozen=True, kw_only=True):
    """Calibrated-probability cut-offs of the decisions (kept in Redis, set from the Strategy page)."""

    review: Probability
    decline: Probability

    def __post_init__(self) -> None:
        if not self.review < self.decline:
            raise ValueError(
                f"review threshold {self.review} is at or above decline threshold {self.decline}"
            )

    def decide(self, probability: float) -> Decision:
        if probability >= self.decline:
            return "decline"
        if probability >= self.review:
            return "review"
        return "approve"
