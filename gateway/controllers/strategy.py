"""Gateway: the decision strategy (thresholds read by the score stage), its history and simulations."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post, put
from litestar.params import JSONBody, QueryParameter

from gateway.auth import SECURITY_SCHEME, Role, principal_of, requires
from gateway.problems import problem_responses
from gateway.schemas.strategy import AuditEntry, Simulation, SimulationRequest, Strategy, StrategyUpdate
from gateway.services import Deps


class StrategyController(Controller):
    path = "/v1/strategy"
    tags = ("strategy",)
    security = ({SECURITY_SCHEME: []},)

    @get(
        guards=[requires(Role.ANALYST)],
        summary="Live thresholds: approve < review <= p < decline <= p",
        responses=problem_responses(401, 403),
        sync_to_thread=True,
    )
    def get_strategy(self, services: Deps) -> Strategy:
        return services.strategy.get()

    @put(
        guards=[requires(Role.ADMIN)],
        summary="Change the thresholds (review < decline); applied live, audit-logged",
        responses=problem_responses(401, 403, 422),
        sync_to_thread=True,
    )
    def put_strategy(
        self, services: Deps, request: Request[Any, Any, Any], data: JSONBody[StrategyUpdate]
    ) -> Strategy:
        return services.strategy.put(data, principal_of(request).name)

    @get(
        "/history",
        guards=[requires(Role.ANALYST)],
        summary="Who changed the thresholds, when, from what to what (newest first)",
        responses=problem_responses(401, 403),
        sync_to_thread=True,
    )
    def history(
        self, services: Deps, limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50
    ) -> list[AuditEntry]:
        return services.audit.recent(limit, action="strategy.update")

    @post(
        "/simulate",
        guards=[requires(Role.ANALYST)],
        summary="What proposed thresholds would have done on recent scored, labelled transactions",
        responses=problem_responses(401, 403, 422),
        status_code=200,
        sync_to_thread=True,
    )
    def simulate(self, services: Deps, data: JSONBody[SimulationRequest]) -> Simulation:
        return services.strategy.simulate(data)
