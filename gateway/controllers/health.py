"""Gateway: liveness and readiness probes (open, no API key)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from gateway.services import Deps
from gateway.services.health import Readiness


class Alive(msgspec.Struct, frozen=True, kw_only=True):
    status: str


class HealthController(Controller):
    tags = ("health",)

    @get("/healthz", summary="Liveness: the process is up", sync_to_thread=False)
    def healthz(self) -> Alive:
        return Alive(status="ok")

    @get(
        "/readyz",
        summary="Readiness: Redis reachable, model loaded, consumer lag below the limit",
        responses={
            503: ResponseSpec(data_container=Readiness, description="Not ready", generate_examples=False)
        },
    )
    async def readyz(self, services: Deps) -> Response[Readiness]:
        report = await services.health.readiness()
        return Response(report, status_code=HTTP_200_OK if report.ready else HTTP_503_SERVICE_UNAVAILABLE)
