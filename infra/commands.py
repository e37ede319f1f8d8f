"""CLI commands that run local infrastructure (composition roots for the services)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress

import click

from infra.services import ensure_topics, local_broker, local_redis
from infra.settings import Settings, get_settings

log = logging.getLogger(__name__)


@contextmanager
def running_services(settings: Settings) -> Iterator[Settings]:
    """Start what is not configured (Redis, broker), create topics; yield settings pointing at them."""
    with ExitStack() as stack:
        redis_url = settings.redis.url or stack.enter_context(
            local_redis(settings.redis, settings.local.state_dir / "redis")
        )
        bootstrap = settings.kafka.bootstrap or stack.enter_context(
            local_broker(settings.kafka, settings.local.state_dir / "broker")
        )
        kafka = settings.kafka
        ensure_topics(bootstrap, [kafka.topic_transactions, kafka.topic_labels], kafka.partitions)
        yield settings.replace(redis={"url": redis_url}, kafka={"bootstrap": bootstrap})


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
