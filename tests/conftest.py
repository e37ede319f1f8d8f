"""Shared fixtures: real Redis and a real Kafka-compatible broker for the whole session.

Backend per session (SENTINEL_TEST_SERVICES): ``containers`` uses testcontainers (Redis,
Redpanda), ``local`` starts redis-server and the local broker as child processes, ``auto``
(default) picks containers when a Docker engine answers. Each test gets its own key prefix
and topic names, so tests never see each other's data.

Tests that ask for ``redis_cluster_url`` / ``cluster_settings`` also get a real three-master Redis
Cluster (local redis-server processes in either backend), started once per session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from core.settings import KafkaSettings, RedisSettings, Settings
from infra.services import ensure_topics, local_broker, local_redis, local_redis_cluster
from tests.keyspace import delete_prefix


def _docker_available() -> bool:
    # docker-py leaks a socket when the engine is absent, so look for one first.
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
    except Exception:  # noqa: BLE001 - any failure means "no usable engine"
        return False
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001
        return False
    finally:
        client.close()


def _use_containers() -> bool:
    backend = os.environ.get("SENTINEL_TEST_SERVICES", "auto")
    if backend not in ("auto", "containers", "local"):
        raise pytest.UsageError(f"SENTINEL_TEST_SERVICES={backend}: expected auto, containers or local")
    return backend == "containers" or (backend == "auto" and _docker_available())


@pytest.fixture(scope="session")
def use_containers() -> bool:
    return _use_containers()


@pytest.fixture(scope="session")
def redis_url(use_containers: bool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Redis server that lives for the whole test session."""
    if use_containers:
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7.4") as container:
            host, port = container.get_container_host_ip(), container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
        return
    with local_redis(RedisSettings(appendonly=False), tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def kafka_bootstrap(use_containers: bool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a Kafka-compatible broker that lives for the whole test session."""
    if use_containers:
        from testcontainers.kafka import RedpandaContainer

        with RedpandaContainer() as container:
            yield container.get_bootstrap_server()
        return
    with local_broker(KafkaSettings(broker="tansu"), tmp_path_factory.mktemp("broker")) as bootstrap:
        yield bootstrap


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_prefix(redis_url, prefix)


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis+cluster://`` URL of a three-master Redis Cluster on free ports, for the whole session."""
    with local_redis_cluster(
        RedisSettings(appendonly=False), tmp_path_factory.mktemp("redis-cluster")
    ) as url:
        yield url


@pytest.fixture
def cluster_settings(settings: Settings, redis_cluster_url: str) -> Iterator[Settings]:
    """``settings`` on the session's Redis Cluster (same key prefix; its keys there deleted after)."""
    yield settings.replace(redis={"url": redis_cluster_url})
    delete_prefix(redis_cluster_url, settings.redis.key_prefix)


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def topic_suffix() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def settings(redis_url: str, key_prefix: str, tmp_path: Path) -> Settings:
    """Settings for one test: the session Redis, its own key prefix and state directory.

    Tests that also need the broker ask for ``broker_settings``.
    """
    return Settings().replace(
        redis={"url": redis_url, "key_prefix": key_prefix},
        local={"state_dir": tmp_path / "state"},
        models={"registry_dir": tmp_path / "models"},
    )


@pytest.fixture
def broker_settings(settings: Settings, kafka_bootstrap: str, topic_suffix: str) -> Settings:
    """``settings`` plus the session broker and topics of this test only (created)."""
    live = settings.replace(
        kafka={
            "bootstrap": kafka_bootstrap,
            "topic_transactions": f"transactions-{topic_suffix}",
            "topic_labels": f"labels-{topic_suffix}",
        }
    )
    ensure_topics(
        kafka_bootstrap, [live.kafka.topic_transactions, live.kafka.topic_labels], live.kafka.partitions
    )
    return live
