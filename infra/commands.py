"""CLI commands that run local infrastructure (composition roots for the services)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from contextlib import suppress
from pathlib import Path

import click

from core.errors import SentinelError
from core.settings import get_settings
from infra.services import running_services

log = logging.getLogger(__name__)


@click.command()
def services() -> None:
    """Run Redis and the Kafka-compatible broker until Ctrl-C or SIGTERM.

    Services configured with SENTINEL_REDIS_URL / SENTINEL_KAFKA_BOOTSTRAP are used
    as they are; the others are started here and stopped on exit.
    """
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with running_services(get_settings()) as live:
        click.echo(f"redis: {live.redis.url}")
        click.echo(f"kafka: {live.kafka.bootstrap}")
        with suppress(KeyboardInterrupt):
            stop.wait()
    click.echo("services stopped")


@click.command()
@click.option("--detach", is_flag=True, help="Run in the background; `sentinel down` stops it.")
def up(detach: bool) -> None:
    """Run the whole local stack: Redis, broker, mirror, functions, gateway, jobs, simulator.

    The first run generates synthetic data (or uses the IEEE-CIS files in data/raw/) and
    trains and promotes a model; later runs reuse both. Prints the URLs and API keys.
    """
    from infra import stack

    settings = get_settings()
    try:
        if detach:
            gateway = stack.start_detached(settings)
            click.echo(f"Sentinel is running in the background: {gateway}  (log: {stack.log_path(settings)})")
            click.echo(f"API keys: {stack.state_file(settings, 'api-keys')}; `sentinel down` stops it.")
            return
        raise SystemExit(stack.run_stack(settings))
    except SentinelError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
def down() -> None:
    """Stop the local stack started by `sentinel up` (in this state directory)."""
    from infra import stack

    if stack.stop_stack(get_settings()):
        click.echo("Sentinel stopped")
    else:
        click.echo("Sentinel is not running")


@click.command()
def prepare() -> None:
    """Make the stack ready to run: topics, data, a champion model if none is registered, the job schedule.

    Uses the configured Redis and broker (compose runs it once before the services).
    """
    from infra import stack

    settings = get_settings()
    try:
        with running_services(settings) as live:
            transactions, identity = stack.dataset(live)
            split = stack.periods(transactions, live.local.stream_fraction, live.local.rate)
            env = stack.child_env(live, stack.api_keys(live), transactions, identity, split)
            stack.ensure_model(live, env, transactions, identity, split.train_rows)
            stack.install_schedule(live)
    except SentinelError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command()
@click.option("--build-only", is_flag=True, help="Build the frontend (when needed) and exit.")
def dashboard(build_only: bool) -> None:
    """Serve the analyst dashboard (frontend/, Reflex, production mode) on local.dashboard_port.

    The first start builds the frontend (node and bun from .tools/js); later starts reuse the
    build. The dashboard reads the gateway only.
    """
    settings = get_settings()
    serve = Path(__file__).resolve().parents[1] / "frontend" / "serve.py"
    if not serve.exists():
        raise click.ClickException(f"{serve} not found: the dashboard needs the source checkout")
    gateway_host = "127.0.0.1" if settings.gateway.host in ("0.0.0.0", "::") else settings.gateway.host
    env = {
        **os.environ,
        "SENTINEL_DASHBOARD_PORT": str(settings.local.dashboard_port),
        "SENTINEL_DASHBOARD_HOST": settings.local.dashboard_host,
        "SENTINEL_DASHBOARD_GATEWAY_URL": settings.local.dashboard_gateway_url
        or f"http://{gateway_host}:{settings.gateway.port}",
    }
    argv = [sys.executable, str(serve), *(["--build-only"] if build_only else [])]
    os.execve(sys.executable, argv, env)
