"""Gateway DTOs shared by several domains: reasons, pages, constrained scalars."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import msgspec

from data.schema import Transaction
from functions import scorer
from functions.descriptions import FEATURE_DESCRIPTIONS
from gateway.problems import Invalid

Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0, description="Calibrated probability of fraud.")]
MAX_TRANSACTION_ID = 2**63 - 1  # int64: what the broker keys, Redis and other systems can hold
TransactionId = Annotated[
    int, msgspec.Meta(ge=0, le=MAX_TRANSACTION_ID, description="IEEE-CIS TransactionID.")
]
Decision = Literal["approve", "review", "decline"]
Verdict = Literal["fraud", "legitimate"]


class Reason(msgspec.Struct, frozen=True, kw_only=True):
    """One reason behind a score: a feature, its value (a categorical column's original text),
    its push on the log-odds (path attribution), and what the feature means."""

    feature: str
    value: float | str | None
    contribution: float
    description: str = ""

    @classmethod
    def of(cls, feature: str, value: float | str | None, contribution: float) -> Reason:
        """A reason with its feature's description (``functions.descriptions``)."""
        description = FEATURE_DESCRIPTIONS.get(feature, "")
        return cls(feature=feature, value=value, contribution=contribution, description=description)


def reasons_of(reasons: Sequence[scorer.Reason]) -> list[Reason]:
    """A score's reasons (stream payloads, result records) as the API shows them."""
    return [Reason.of(r.feature, r.value, r.contribution) for r in reasons]


def check_id(tx: Transaction) -> None:
    """The schema bounds TransactionID below only; the API also bounds it above (int64)."""
    if tx.TransactionID > MAX_TRANSACTION_ID:
        raise Invalid("TransactionID", f"must be at most {MAX_TRANSACTION_ID}")
