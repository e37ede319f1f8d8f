"""Gateway: who the caller is (any valid key), so a client shows only what the role may do."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get

from gateway.auth import SECURITY_SCHEME, Role, principal_of, requires
from gateway.problems import problem_responses
from gateway.schemas.me import Me


class MeController(Controller):
    path = "/v1/me"
    tags = ("auth",)
    security = ({SECURITY_SCHEME: []},)

    @get(
        guards=[requires(None)],
        summary="The caller's role and the roles it holds",
        responses=problem_responses(401),
    )
    async def me(self, request: Request[Any, Any, Any]) -> Me:
        principal = principal_of(request)
        return Me(
            name=principal.name,
            role=principal.role.value,
            roles=[role.value for role in Role if principal.holds(role)],
        )
