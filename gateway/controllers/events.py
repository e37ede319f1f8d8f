"""Gateway: live Server-Sent Events of scored transactions and alerts (analyst)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent

from gateway.auth import SECURITY_SCHEME, Role, requires
from gateway.problems import problem_responses
from gateway.schemas.events import EventType
from gateway.services import Deps


class EventsController(Controller):
    path = "/v1/events"
    tags = ("events",)
    security = ({SECURITY_SCHEME: []},)

    @get(
        guards=[requires(Role.ANALYST)],
        summary="Server-Sent Events: `scored` and `alert` messages as they happen (resume with Last-Event-ID)",
        description=(
            "Each message's data is a LiveEvent JSON document. The stream ends after `max_seconds` "
            "(bounded by the server's limit); EventSource reconnects and resumes from the last id."
        ),
        responses=problem_responses(401, 403, 503),
        media_type="text/event-stream",
    )
    async def events(
        self,
        services: Deps,
        types: Annotated[
            list[EventType] | None, QueryParameter(description="Which events (default: all).")
        ] = None,
        max_seconds: Annotated[float | None, QueryParameter(gt=0, le=86_400)] = None,
        last_event_id: Annotated[str | None, HeaderParameter(name="Last-Event-ID", max_length=200)] = None,
    ) -> ServerSentEvent:
        kinds: set[EventType] = set(types or ("scored", "alert"))
        return ServerSentEvent(services.events.open(kinds, last_event_id, max_seconds))
