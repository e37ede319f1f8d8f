"""Gateway: the audit trail of operator actions (strategy changes, alert verdicts, model pointer)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from gateway.auth import SECURITY_SCHEME, Role, requires
from gateway.problems import problem_responses
from gateway.schemas.strategy import AuditEntry
from gateway.services import Deps


class AuditController(Controller):
    path = "/v1/audit"
    tags = ("audit",)
    security = ({SECURITY_SCHEME: []},)

    @get(
        guards=[requires(Role.ANALYST)],
        summary="Who did what and when, newest first (optionally one action, e.g. alert.resolve)",
        responses=problem_responses(401, 403),
        sync_to_thread=True,
    )
    def audit(
        self,
        services: Deps,
        action: Annotated[str | None, QueryParameter(max_length=64, pattern=r"^[a-z]+\.[a-z]+$")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    ) -> list[AuditEntry]:
        return services.audit.recent(limit, action=action)
