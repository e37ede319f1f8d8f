"""Gateway DTOs of live events (Server-Sent Events on /v1/events): scored transactions and alerts."""

from __future__ import annotations

from typing import Literal

import msgspec

from gateway.schemas.common import Decision, Reason

EventType = Literal["scored", "alert"]


class LiveEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The ``data`` of one SSE message (``event:`` is ``scored`` or ``alert``, ``id:`` resumes)."""

    type: EventType
    transaction_id: int
    transaction_dt: int
    amount: float
    probability: float
    risk_level: str
    decision: Decision
    model_version: str
    reasons: list[Reason] = []
