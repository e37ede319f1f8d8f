"""Gateway: the model registry (analyst reads; admin promotes and rolls back)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.params import FromPath, JSONBody

from gateway.auth import SECURITY_SCHEME, Role, principal_of, requires
from gateway.problems import problem_responses
from gateway.schemas.drift import RetrainQueued, RetrainRequest
from gateway.schemas.models import ModelDetail, ModelPointer, ModelSummary, Promote
from gateway.services import Deps


class ModelsController(Controller):
    path = "/v1/models"
    tags = ("models",)
    security = ({SECURITY_SCHEME: []},)

    @get(
        guards=[requires(Role.ANALYST)],
        summary="Registered model versions, newest first, with roles and test metrics",
        responses=problem_responses(401, 403, 503),
        sync_to_thread=True,
    )
    def list_models(self, services: Deps) -> list[ModelSummary]:
        return services.models.list()

    @get(
        "/pointer",
        guards=[requires(Role.ANALYST)],
        summary="Champion, challenger and the history of changes",
        responses=problem_responses(401, 403, 503),
        sync_to_thread=True,
    )
    def pointer(self, services: Deps) -> ModelPointer:
        return services.models.pointer()

    @post(
        "/retrain",
        guards=[requires(Role.ADMIN)],
        summary="Enqueue a retrain on the labels known now (RQ job); a better candidate becomes challenger",
        responses=problem_responses(401, 403, 503),
        status_code=202,
        sync_to_thread=True,
    )
    def retrain(
        self, services: Deps, request: Request[Any, Any, Any], data: JSONBody[RetrainRequest | None] = None
    ) -> RetrainQueued:
        reason = data.reason if data is not None else "on demand"
        return services.drift.retrain(principal_of(request).name, reason)

    @get(
        "/{version:str}",
        guards=[requires(Role.ANALYST)],
        summary="One version: thresholds, metrics, parameters, features",
        responses=problem_responses(401, 403, 404, 503),
        sync_to_thread=True,
    )
    def show_model(self, services: Deps, version: FromPath[str]) -> ModelDetail:
        return services.models.show(version)

    @get(
        "/{version:str}/report",
        guards=[requires(Role.ANALYST)],
        summary="One version's training report: metrics, PR/ROC, reliability, cost, importance (HTML)",
        responses=problem_responses(401, 403, 404, 503),
        media_type=MediaType.HTML,
        sync_to_thread=True,
    )
    def report(self, services: Deps, version: FromPath[str]) -> Response[bytes]:
        return Response(services.models.report(version), media_type=MediaType.HTML)

    @post(
        "/{version:str}/promote",
        guards=[requires(Role.ADMIN)],
        summary="Make a version champion (or challenger, scored in shadow); audit-logged",
        responses=problem_responses(401, 403, 404, 409, 503),
        status_code=200,
        sync_to_thread=True,
    )
    def promote(
        self,
        services: Deps,
        request: Request[Any, Any, Any],
        version: FromPath[str],
        data: JSONBody[Promote | None] = None,
    ) -> ModelPointer:
        role = data.role if data is not None else "champion"
        return services.models.promote(version, role, principal_of(request).name)

    @post(
        "/rollback",
        guards=[requires(Role.ADMIN)],
        summary="Make the previous champion champion again; audit-logged",
        responses=problem_responses(401, 403, 409, 503),
        status_code=200,
        sync_to_thread=True,
    )
    def rollback(self, services: Deps, request: Request[Any, Any, Any]) -> ModelPointer:
        return services.models.rollback(principal_of(request).name)
