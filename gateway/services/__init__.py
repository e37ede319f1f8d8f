"""Gateway services: small classes that call into the other packages' public functions.

``open_services(settings)`` is the one place the gateway's clients are created (Redis, the
broker producer, the model source); controllers only ever see the ``Services`` bundle. The
services use a synchronous Redis client (the other packages' functions take one) and run
in Litestar's thread pool or, for the short scoring path, inline; live events use an
asyncio client so a waiting stream costs no thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeAlias

import redis
import redis.asyncio as aioredis
from litestar.di import NamedDependency
from prometheus_client import REGISTRY

from core.connect import async_redis_client, is_cluster, redis_client
from core.errors import ConfigError
from core.settings import Settings
from functions.keys import LabelKeys, OperatorKeys
from functions.strategy import RedisThresholds
from gateway.services.alerts import AlertService
from gateway.services.audit import AuditLog
from gateway.services.breakdown import BreakdownService
from gateway.services.drift import DriftService
from gateway.services.events import EventService
from gateway.services.health import HealthService
from gateway.services.metrics import MetricsService
from gateway.services.models import ModelService
from gateway.services.outbox import LabelOutbox
from gateway.services.prometheus import PipelineCollector
from gateway.services.publisher import Publisher
from gateway.services.queue import QueueService
from gateway.services.scoring import ScoreService
from gateway.services.strategy import DeclineCost, StrategyService
from gateway.services.transactions import TransactionService
from gateway.wiring import Wiring
from models.registry import Registry
from streams.keys import Shards


@dataclass(frozen=True)
class Services:
    settings: Settings
    redis: redis.Redis
    aredis: aioredis.Redis
    health: HealthService
    models: ModelService
    strategy: StrategyService
    events: EventService
    scoring: ScoreService
    alerts: AlertService
    queue: QueueService
    transactions: TransactionService
    publisher: Publisher
    metrics: MetricsService
    breakdown: BreakdownService
    audit: AuditLog
    drift: DriftService


def build_services(
    settings: Settings,
    wiring: Wiring,
    client: redis.Redis,
    aclient: aioredis.Redis,
    jobs_client: redis.Redis | None = None,
    scoring_client: redis.Redis | None = None,
) -> Services:
    """Wire the services around open Redis clients (``scoring_client``: the synchronous scoring's
    own connection, else ``client``)."""
    shards = Shards.of(settings)  # the read side sums / merges every stream shard
    operators = OperatorKeys(shards.common_prefix)  # one slot on a cluster: strategy + audit in one MULTI
    audit = AuditLog(client, operators.audit)
    scoring = ScoreService(scoring_client or client, settings, wiring)
    outbox = LabelOutbox(client, operators, shards, wiring.labels_stream, settings.features.label_ttl_s)
    queue = QueueService(client, shards, operators, wiring.alerts_stream, outbox)
    registry = Registry(settings.models.registry_dir)
    defaults = (settings.strategy.review_threshold, settings.strategy.decline_threshold)
    strategy = StrategyService(
        client,
        RedisThresholds(client, operators, defaults),
        registry.champion_thresholds,
        [LabelKeys(shard.prefix) for shard in shards],
        audit,
        DeclineCost(settings.models.decline_fee, settings.models.decline_amount_share),
    )
    return Services(
        settings=settings,
        redis=client,
        aredis=aclient,
        health=HealthService(
            client,
            shards,
            [(spec.input, spec.group) for spec in wiring.pipeline if not spec.optional],
            settings.gateway.ready_max_lag,
            scoring.unavailable,
        ),
        models=ModelService(registry, client, audit),
        strategy=strategy,
        events=EventService(
            aclient,
            {
                "scored": [shard.stream(wiring.scored_stream) for shard in shards],
                "alert": [shard.stream(wiring.alerts_stream) for shard in shards],
            },
            settings.gateway.events_max_clients,
            settings.gateway.events_max_seconds,
        ),
        scoring=scoring,
        transactions=TransactionService(client, shards, wiring.scored_stream),
        publisher=Publisher(settings, client),
        metrics=MetricsService(
            client,
            shards,
            [(s.name, s.input, s.group) for s in wiring.pipeline.user_facing()],
            lambda: strategy.get().review_threshold,
        ),
        breakdown=BreakdownService(client, shards),
        alerts=AlertService(
            client,
            shards,
            operators,
            wiring.alerts_stream,
            wiring.labels_stream,
            audit,
            settings.features.label_ttl_s,
            queue.index,
            outbox,
        ),
        queue=queue,
        audit=audit,
        drift=DriftService(settings, client, registry, audit, jobs_client),
    )


@asynccontextmanager
async def open_services(settings: Settings, wiring: Wiring) -> AsyncIterator[Services]:
    if not settings.redis.url:
        raise ConfigError("the gateway needs SENTINEL_REDIS_URL (it keeps no state of its own)")
    client = redis_client(settings.redis.url, health_check_interval=30)
    aclient = async_redis_client(settings.redis.url, health_check_interval=30)
    # RQ's own Redis when it is not the pipeline's (SENTINEL_JOBS_REDIS_URL: with a Redis Cluster)
    jobs = redis_client(settings.jobs.redis_url) if settings.jobs.redis_url else None
    # Synchronous scoring runs on the event loop's thread, one request at a time: a connection of
    # its own, held, costs no pool check-out and check-in (and their socket poll) per command.
    # A cluster client takes no such option (it holds a connection per node): scoring shares it.
    scoring = (
        None
        if is_cluster(settings.redis.url)
        else redis_client(settings.redis.url, health_check_interval=30, single_connection_client=True)
    )
    try:
        services = build_services(settings, wiring, client, aclient, jobs, scoring)
        pipeline = PipelineCollector(
            client,
            Shards.of(settings),
            [(s.name, s.input, s.group) for s in wiring.pipeline.user_facing()],
            services.metrics,
            Registry(settings.models.registry_dir),
        )
        REGISTRY.register(pipeline)  # the gateway's /metrics serves the default registry
        try:
            yield services
        finally:
            REGISTRY.unregister(pipeline)
            services.publisher.close()
    finally:
        client.close()
        if scoring is not None:
            scoring.close()
        if jobs is not None:
            jobs.close()
        await aclient.aclose()


Deps: TypeAlias = NamedDependency[Services]
"""How a handler asks for the services: ``def handler(self, services: Deps)``."""
