"""Gateway: the alert queue (analyst): open alerts newest first, and verdicts that become labels."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from gateway.auth import SECURITY_SCHEME, Role, principal_of, requires
from gateway.problems import Invalid, problem_responses
from gateway.schemas.common import Decision, TransactionId
from gateway.schemas.investigation import AlertPage, AlertQueue, Resolution, Resolve
from gateway.services import Deps
from gateway.services.alerts import AlertFilter
from gateway.services.pages import CURSOR_PATTERN, valid_cursor
from gateway.services.queue import QueueFilter, Sort

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

    @get(
        "/queue",
        guards=[requires(Role.ANALYST)],
        summary="The work queue: alerts filtered by status, decision, amount and age, sorted, paged by offset",
        description="Also reports the queue's size (open, resolved), the age of the oldest open alert "
        "and the median time from alert to verdict.",
        responses=problem_responses(401, 403, 422),
        sync_to_thread=True,
    )
    def queue(
        self,
        services: Deps,
        status: Annotated[Literal["open", "resolved", "all"], QueryParameter()] = "open",
        decision: Annotated[Decision | None, QueryParameter()] = None,
        min_amount: Annotated[float | None, QueryParameter(ge=0)] = None,
        max_amount: Annotated[float | None, QueryParameter(ge=0)] = None,
        min_age_s: Annotated[
            float | None, QueryParameter(ge=0, description="Raised at least this long ago")
        ] = None,
        max_age_s: Annotated[
            float | None, QueryParameter(ge=0, description="Raised at most this long ago")
        ] = None,
        sort: Annotated[Sort, QueryParameter()] = "newest",
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 25,
    ) -> AlertQueue:
        flt = QueueFilter(
            status=status,
            decision=decision,
            min_amount=min_amount,
            max_amount=max_amount,
            min_age_s=min_age_s,
            max_age_s=max_age_s,
        )
        return services.queue.page(flt, sort, offset, min(limit, services.settings.gateway.page_max))

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
