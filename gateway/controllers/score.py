"""Gateway: synchronous scoring for payment systems (scorer role)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.params import JSONBody, QueryParameter

from data.schema import Transaction
from gateway.auth import SECURITY_SCHEME, Role, requires
from gateway.problems import problem_responses
from gateway.schemas.common import check_id
from gateway.schemas.scoring import ScoreResult
from gateway.services import Deps


class ScoreController(Controller):
    path = "/v1/score"
    tags = ("scoring",)
    security = ({SECURITY_SCHEME: []},)

    @post(
        guards=[requires(Role.SCORER)],
        summary="Score one transaction now: probability, risk level, decision, reasons, model version",
        description=(
            "The body is one IEEE-CIS row (original column names). The transaction is scored by the "
            "same feature and model code as the stream path and recorded in the entity state, as an "
            "authorisation would be; `dry_run=true` scores without changing any state. Idempotent by "
            "TransactionID: a repeated id returns the recorded result with `replayed: true`; another "
            "transaction (other time, amount or card) under a recorded id is refused with 409."
        ),
        responses=problem_responses(401, 403, 409, 413, 422, 503),
        status_code=200,
    )
    async def score(
        self,
        request: Request[Any, Any, Any],
        services: Deps,
        data: JSONBody[Transaction],
        dry_run: Annotated[bool, QueryParameter(description="Score without recording anything.")] = False,
    ) -> ScoreResult:
        check_id(data)
        # Inline on the event loop, not in a thread: a few hundred microseconds of CPU and Redis.
        # The body (already read, cached) is kept as received, as the stream path keeps a message.
        return services.scoring.score(data, dry_run=dry_run, raw=await request.body())
