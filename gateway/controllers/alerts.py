"""Gateway: the alert queue (analyst): open alerts newest first, and verdicts that become labels."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from gateway.auth import SECURITY_SCHEME, Role, principal_of, requires
from gateway.problems import Invalid, problem_responses
from gateway.schemas.common import Decision, TransactionId
from gateway.schemas.investigation import AlertPage, Resolution, Resolve
from gateway.services import Deps
from gateway.services.alerts import AlertFilter
from gateway.services.pages import CURSOR_PATTERN, valid_cursor

Cursor = Annotated[
    str | None, QueryParameter(description="next_cursor of the previous page", pattern=CURSOR_PATTERN)
]


class AlertsController(Controller):
    path = "/v1/alerts"
    tags = ("alerts",)
    security = ({SECURITY_SCHEME: []},)

    @get(
        guards=[requires(Role.ANALYST)],
        summary="Alerts, newest first: open by default; filter by decision and probability; paginated",
        responses=problem_responses(401, 403, 422),
        sync_to_thread=True,
    )
    def list_alerts(
        self,
        services: Deps,
        status: Annotated[Literal["open", "resolved", "all"], QueryParameter()] = "open",
        decision: Annotated[Decision | None, QueryParameter()] = None,
        min_probability: Annotated[float | None, QueryParameter(ge=0, le=1)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Cursor = None,
    ) -> AlertPage:
        if cursor is not None and not valid_cursor(cursor):
            raise Invalid("cursor", "not a cursor returned by this endpoint", source="query")
        flt = AlertFilter(status=status, decision=decision, min_probability=min_probability)
        return services.alerts.list(flt, min(limit, services.settings.gateway.page_max), cursor)

    @post(
        "/{transaction_id:int}/resolve",
        guards=[requires(Role.ANALYST)],
        summary="Record the analyst's verdict (fraud / legitimate); it becomes a label; audit-logged",
        responses=problem_responses(401, 403, 404, 409),
        status_code=200,
        sync_to_thread=True,
    )
    def resolve(
        self,
        services: Deps,
        request: Request[Any, Any, Any],
        transaction_id: FromPath[TransactionId],
        data: JSONBody[Resolve],
    ) -> Resolution:
        return services.alerts.resolve(transaction_id, data, principal_of(request).name)
