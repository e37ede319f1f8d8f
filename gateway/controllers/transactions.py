"""Gateway: transactions in (asynchronous scoring, scorer role) and out (investigation, analyst role)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody, QueryParameter

from data.schema import Transaction
from gateway.auth import SECURITY_SCHEME, Role, requires
from gateway.problems import Invalid, problem_responses
from gateway.schemas.common import Decision, TransactionId, check_id
from gateway.schemas.investigation import Forensics, TransactionPage
from gateway.schemas.scoring import Accepted
from gateway.services import Deps
from gateway.services.pages import CURSOR_PATTERN, valid_cursor
from gateway.services.transactions import TransactionFilter

Risk = str
Batch = Annotated[list[Transaction], msgspec.Meta(min_length=1, description="Up to max_batch transactions.")]


class TransactionsController(Controller):
    path = "/v1/transactions"
    tags = ("transactions",)
    security = ({SECURITY_SCHEME: []},)

    @post(
        guards=[requires(Role.SCORER)],
        summary="Accept one transaction or a batch (JSON array) for asynchronous scoring",
        description="Published to the transactions topic (key card1); 202 with the TransactionIDs "
        "once the broker acknowledged them. Results appear in /v1/transactions and /v1/events.",
        responses=problem_responses(401, 403, 413, 422, 503),
        status_code=202,
        sync_to_thread=True,
    )
    def submit(self, services: Deps, data: JSONBody[Transaction | Batch]) -> Accepted:
        batch = data if isinstance(data, list) else [data]
        if not batch:  # Litestar's body parsing drops Batch's min_length
            raise Invalid("data", "a batch holds at least one transaction")
        limit = services.settings.gateway.max_batch
        if len(batch) > limit:
            raise HTTPException(status_code=413, detail=f"at most {limit} transactions per request")
        for tx in batch:
            check_id(tx)
        ids = services.publisher.publish(batch)
        return Accepted(accepted=len(ids), transaction_ids=ids, topic=services.publisher.topic)

    @get(
        guards=[requires(Role.ANALYST)],
        summary="Recently scored transactions, newest first; filter by risk level, decision, time, card, client",
        responses=problem_responses(401, 403, 422),
        sync_to_thread=True,
    )
    def list_transactions(
        self,
        services: Deps,
        risk_level: Annotated[Risk | None, QueryParameter(pattern="^(low|medium|high)$")] = None,
        decision: Annotated[Decision | None, QueryParameter()] = None,
        since: Annotated[
            float | None, QueryParameter(ge=0, le=1e11, description="Scored at or after (unix s)")
        ] = None,
        until: Annotated[
            float | None, QueryParameter(ge=0, le=1e11, description="Scored at or before (unix s)")
        ] = None,
        card1: Annotated[int | None, QueryParameter(ge=0, le=2**31, description="One card's")] = None,
        uid: Annotated[
            str | None, QueryParameter(min_length=1, max_length=100, description="One client's (uid)")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: Annotated[str | None, QueryParameter(pattern=CURSOR_PATTERN)] = None,
    ) -> TransactionPage:
        if cursor is not None and not valid_cursor(cursor):
            raise Invalid("cursor", "not a cursor returned by this endpoint", source="query")
        flt = TransactionFilter(
            risk_level=risk_level,
            decision=decision,
            since_ms=None if since is None else int(since * 1000),
            until_ms=None if until is None else int(until * 1000),
            card1=card1,
            uid=uid,
        )
        return services.transactions.list(flt, min(limit, services.settings.gateway.page_max), cursor)

    @get(
        "/{transaction_id:int}",
        guards=[requires(Role.ANALYST)],
        summary="Forensics record: score, reasons, features, challenger score, label when known",
        responses=problem_responses(401, 403, 404),
        sync_to_thread=True,
    )
    def forensics(self, services: Deps, transaction_id: FromPath[TransactionId]) -> Forensics:
        return services.transactions.forensics(transaction_id)
