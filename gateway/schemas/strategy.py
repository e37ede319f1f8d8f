"""Gateway DTOs of the decision strategy: thresholds, their audit trail, and what-if simulations."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from gateway.schemas.common import Probability

SimulationSize = Annotated[
    int, msgspec.Meta(ge=1, le=100_000, description="Most recent labelled transactions.")
]


class Strategy(msgspec.Struct, frozen=True, kw_only=True):
    """Live thresholds: approve below review, review below decline, decline from decline.

    ``source``: ``strategy`` (set through this API), ``champion`` (the champion model's own
    cost-optimal thresholds, while none is set) or ``defaults`` (configured; a champion without
    thresholds, or no champion).
    """

    review_threshold: Probability
    decline_threshold: Probability
    source: Literal["strategy", "champion", "defaults"]
    updated_at: str | None = None
    updated_by: str | None = None


class StrategyUpdate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    review_threshold: Probability
    decline_threshold: Probability


class SimulationRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    review_threshold: Probability
    decline_threshold: Probability
    limit: SimulationSize = 10_000


class Simulation(msgspec.Struct, frozen=True, kw_only=True):
    """How the proposed thresholds would have done on recent scored, labelled transactions."""

    review_threshold: float
    decline_threshold: float
    transactions: int
    frauds: int
    precision: float | None  # of review+decline among labelled
    recall: float | None
    review_rate: float
    decline_rate: float
    fraud_amount_total: float
    fraud_amount_caught: float
    false_decline_cost: float


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    at: str
    actor: str
    action: str
    detail: dict[str, str]
