"""CLI commands that run local infrastructure (composition roots for the services)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress

import click

from infra.errors import SentinelError
from infra.services import broker_kind, ensure_topics, local_broker, local_redis, topic_config
from infra.settings import Settings, get_settings

log = logging.getLogger(__name__)


@contextmanager
def running_services(settings: Settings) -> Iterator[Settings]:
    """Start what is not configured (Redis, broker), create topics; yield settings pointing at them."""
    with ExitStack() as stack:
        redis_url = settings.redis.url or stack.enter_context(
            local_redis(settings.redis, settings.local.state_dir / "redis")
        )
        kafka = settings.kafka
        bootstrap, recycle = kafka.bootstrap, kafka.recycle_messages
        if not bootstrap:
            bootstrap = stack.enter_context(local_broker(kafka, settings.local.state_dir / "broker"))
            if broker_kind(kafka) == "tansu":  # it keeps every message in memory: the mirror empties it
                recycle = recycle or settings.local.broker_max_messages
        topics = [kafka.topic_transactions, kafka.topic_labels]
        ensure_topics(bootstrap, topics, kafka.partitions, config=topic_config(kafka))
        yield settings.replace(
            redis={"url": redis_url}, kafka={"bootstrap": bootstrap, "recycle_messages": recycle}
        )


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
    """Stop a local stack started by `sentinel up` (in this state directory)."""
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
            env = stack.child_env(live, stack.api_keys(live), transactions, identity)
            stack.ensure_model(live, env, transactions, identity)
            stack.install_schedule(live)
    except SentinelError as exc:
        raise click.ClickException(str(exc)) from exc
