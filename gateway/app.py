"""Gateway app: settings + wiring -> the Litestar app (routes, auth, errors, CORS, limits, docs).

``create_app(settings, wiring)`` builds the whole HTTP API; its lifespan opens the clients
and services (``gateway.services.open_services``) when the server starts and closes them when
it stops, so nothing connects at import time. The process's composition root, the factory
granian calls in every worker, is ``infra.gateway:app_from_environment``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

from core.settings import Settings
from gateway.auth import (
    API_KEY_HEADER,
    SECURITY_SCHEME,
    FailedAuthLimiter,
    KeyRing,
    parse_api_keys,
)
from gateway.body import BodyRequest
from gateway.controllers import CONTROLLERS
from gateway.problems import EXCEPTION_HANDLERS
from gateway.security import security_headers
from gateway.services import Services, open_services
from gateway.wiring import Wiring
from streams.keys import Shards

log = logging.getLogger(__name__)

API_VERSION = "1.0.0"


def create_app(settings: Settings, wiring: Wiring) -> Litestar:
    """The gateway for these settings, scoring with the pipeline described by ``wiring``."""
    cfg = settings.gateway
    keyring = KeyRing(parse_api_keys(cfg.api_keys.get_secret_value()))
    if not len(keyring):
        log.warning("no gateway API keys configured: every /v1 endpoint will answer 401")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_services(settings, wiring) as opened:
            # Warm before serving: the server answers nothing (not even /healthz) until then.
            await anyio.to_thread.run_sync(opened.scoring.warm)
            app.state.auth_limiter.share(opened.redis, Shards.of(settings).common_prefix)
            app.state.services = opened
            yield

    prometheus = PrometheusConfig(
        app_name="sentinel_gateway", prefix="sentinel_gateway", group_path=True, exclude=["^/metrics"]
    )
    return Litestar(
        route_handlers=[*CONTROLLERS, PrometheusMetrics, swagger_assets()],
        lifespan=[lifespan],
        dependencies={"services": Provide(_services, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=BodyRequest,
        cors_config=CORSConfig(
            allow_origins=list(cfg.cors_origins),
            allow_methods=["GET", "POST", "PUT", "OPTIONS"],
            allow_headers=[API_KEY_HEADER, "Content-Type", "Last-Event-ID"],
        ),
        request_max_body_size=cfg.max_body_bytes,
        middleware=[prometheus.middleware],
        before_send=[security_headers],
        openapi_config=OpenAPIConfig(
            title="Sentinel API",
            version=API_VERSION,
            description="Real-time fraud scoring, investigation and operations.",
            path="/schema",
            render_plugins=[swagger_ui()],
            components=Components(
                security_schemes={
                    SECURITY_SCHEME: SecurityScheme(
                        type="apiKey", name=API_KEY_HEADER, security_scheme_in="header"
                    )
                }
            ),
        ),
        state=_initial_state(settings, keyring),
        debug=False,
    )


SWAGGER_ASSETS = "/schema/assets"


def swagger_assets() -> Any:
    """Swagger UI's JS, CSS and icons, served from the ``swagger-ui-bundle-v2`` package: the API
    docs work on a host with no internet access (no CDN)."""
    return create_static_files_router(
        path=SWAGGER_ASSETS, directories=[swagger_ui_path], include_in_schema=False, name="swagger-assets"
    )


def swagger_ui() -> SwaggerRenderPlugin:
    """The API docs at ``/schema`` and ``/schema/swagger``, every asset from ``SWAGGER_ASSETS``."""
    return SwaggerRenderPlugin(
        path=["/", "/swagger"],
        js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{SWAGGER_ASSETS}/favicon-32x32.png'>",
    )


class PrometheusMetrics(PrometheusController):
    """Prometheus scrape endpoint (open; not part of the documented API)."""

    include_in_schema = False


def _initial_state(settings: Settings, keyring: KeyRing) -> State:
    limiter = FailedAuthLimiter(settings.gateway.auth_max_failures, settings.gateway.auth_failure_window_s)
    return State({"settings": settings, "keyring": keyring, "auth_limiter": limiter})


def _services(state: State) -> Services:
    services = getattr(state, "services", None)
    if not isinstance(services, Services):
        raise RuntimeError("gateway services are not open (lifespan did not run)")
    return services
