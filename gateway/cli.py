"""`sentinel gateway`: run the HTTP API on granian (production ASGI server), one process per worker."""

from __future__ import annotations

import logging

import click

from core.settings import get_settings

log = logging.getLogger(__name__)

APP_FACTORY = "infra.gateway:app_from_environment"  # the composition root (imported by granian)


@click.command()
@click.option("--host", default=None, help="Bind address [default: SENTINEL_GATEWAY_HOST].")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Port [default: SENTINEL_GATEWAY_PORT]."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes [default: SENTINEL_GATEWAY_WORKERS].",
)
@click.option("--access-log/--no-access-log", default=False, help="Log every request.")
def gateway(host: str | None, port: int | None, workers: int | None, access_log: bool) -> None:
    """Serve the Sentinel HTTP API (scoring, investigation, strategy, models, live events).

    Configuration comes from SENTINEL_* settings (Redis URL, API keys, CORS origins, limits);
    the OpenAPI docs are at /schema. Runs until Ctrl-C or SIGTERM.
    """
    from granian import Granian
    from granian.constants import Interfaces

    cfg = get_settings().gateway
    if not get_settings().redis.url:
        raise click.UsageError("set SENTINEL_REDIS_URL (the gateway keeps no state of its own)")
    host, port, workers = host or cfg.host, port or cfg.port, workers or cfg.workers
    click.echo(
        f"gateway on http://{host}:{port} ({workers} worker{'s' if workers > 1 else ''}); docs at /schema"
    )
    Granian(
        APP_FACTORY,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        log_access=access_log,
        backlog=2048,
    ).serve()
