"""Fixtures of the streams runtime tests: test pipeline, settings, stream readers, subprocess env.

``backend`` is "redis" (one server); a module that parametrizes it with "cluster" too runs its
tests a second time on the session's Redis Cluster (one stream shard, ``{s0}``): ``rt_settings``,
``redis_client`` and ``keys`` follow it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from core.connect import redis_client as connect
from core.settings import Settings
from streams.events import split_fields
from streams.keys import Keys, Shards
from streams.worker import Worker
from tests.integration.streams.fns import PIPELINE
from tests.keyspace import delete_prefix

ROOT = Path(__file__).resolve().parents[3]
PIPELINE_PATH = "tests.integration.streams.fns:PIPELINE"


@pytest.fixture
def backend() -> str:
    return "redis"


@pytest.fixture
def rt_settings(settings: Settings, backend: str, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings for runtime tests: the test pipeline, quick reclaim, small events."""
    live = settings.replace(
        streams={"pipeline": PIPELINE_PATH, "claim_idle_ms": 200, "block_ms": 50, "max_event_bytes": 1_000}
    )
    if backend == "redis":
        yield live
        return
    url = request.getfixturevalue("redis_cluster_url")
    yield live.replace(redis={"url": url})
    delete_prefix(url, live.redis.key_prefix)


@pytest.fixture
def redis_client(rt_settings: Settings) -> Iterator[redis.Redis]:
    client = connect(rt_settings.redis.url or "")
    yield client
    client.close()


@pytest.fixture
def keys(rt_settings: Settings) -> Keys:
    """The keys a worker of ``rt_settings`` uses (shard 0: the plain names on one Redis)."""
    return Shards.of(rt_settings).home


def make_worker(settings: Settings, client: redis.Redis, *names: str, **kwargs: Any) -> Worker:
    return Worker(PIPELINE.chain(names), client, settings, **kwargs)


def read(client: redis.Redis, key: str) -> list[tuple[str, bytes | None, dict[str, str]]]:
    """(entry id, payload, metadata) of every entry of a stream, in order."""
    rows: Any = client.xrange(key)
    out = []
    for entry_id, fields in rows:
        payload, meta = split_fields(fields)
        out.append((entry_id.decode(), payload, meta))
    return out


def pending_count(client: redis.Redis, key: str, group: str) -> int:
    summary: Any = client.xpending(key, group)
    return int(summary["pending"])


def sentinel_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "SENTINEL_REDIS_URL": settings.redis.url or "",
            "SENTINEL_REDIS_KEY_PREFIX": settings.redis.key_prefix,
            "SENTINEL_STREAMS_PIPELINE": settings.streams.pipeline,
            "SENTINEL_STREAMS_CLAIM_IDLE_MS": str(settings.streams.claim_idle_ms),
            "SENTINEL_STREAMS_BLOCK_MS": str(settings.streams.block_ms),
        }
    )
    if settings.kafka.bootstrap:
        env.update(
            {
                "SENTINEL_KAFKA_BOOTSTRAP": settings.kafka.bootstrap,
                "SENTINEL_KAFKA_TOPIC_TRANSACTIONS": settings.kafka.topic_transactions,
                "SENTINEL_KAFKA_TOPIC_LABELS": settings.kafka.topic_labels,
            }
        )
    env.update(extra)
    return env


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Any]:
    """Start `sentinel ARGS` as a real subprocess; every one still running is killed afterwards."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        sentinel = str(Path(sys.executable).parent / "sentinel")
        with (tmp_path / f"proc-{len(procs)}.log").open("wb") as log:
            proc = subprocess.Popen(
                [sentinel, "-v", *args], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def log_of(tmp_path: Path, index: int) -> str:
    return (tmp_path / f"proc-{index}.log").read_text(errors="replace")
