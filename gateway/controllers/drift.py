"""Gateway: drift reports of the champion (analyst): the latest, and the history."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from gateway.auth import SECURITY_SCHEME, Role, requires
from gateway.problems import problem_responses
from gateway.schemas.drift import DriftSummary
from gateway.services import Deps
from models.monitoring import DriftReport

Count = Annotated[int, QueryParameter(ge=1, le=500, description="How many recent reports, newest first.")]


class DriftController(Controller):
    path = "/v1/drift"
    tags = ("monitoring",)
    security = ({SECURITY_SCHEME: []},)

    @get(
        guards=[requires(Role.ANALYST)],
        summary="Latest drift report: PSI per model input and of the score, status, estimated vs realised",
        responses=problem_responses(401, 403, 404),
        sync_to_thread=True,
    )
    def latest(self, services: Deps) -> DriftReport:
        return services.drift.latest()

    @get(
        "/history",
        guards=[requires(Role.ANALYST)],
        summary="Recent drift checks, newest first: status, score PSI, the inputs that moved most",
        responses=problem_responses(401, 403),
        sync_to_thread=True,
    )
    def history(self, services: Deps, count: Count = 50) -> list[DriftSummary]:
        return services.drift.history(count)
