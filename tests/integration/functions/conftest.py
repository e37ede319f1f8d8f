"""Fixtures of the pipeline-function tests: a small generated IEEE-CIS dataset, the live stream path."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis

from core.connect import redis_client as connect
from core.settings import Settings
from data.loader import DataFiles, iter_json
from data.schema import Transaction, decode_transaction
from data.simulator import simulate
from data.synthetic import generate
from functions.events import decode_enriched, feature_matrix
from infra.pipeline.table import PIPELINE
from infra.services import ensure_topics
from streams.events import split_fields
from streams.keys import Shards
from streams.mirror import run_mirror
from streams.worker import Worker
from tests.integration.streams.conftest import spawn  # noqa: F401 - the subprocess fixture, here too
from tests.keyspace import delete_prefix

ROWS = 3_000


@dataclass(frozen=True)
class Dataset:
    raw: list[bytes]  # joined rows as JSON, TransactionDT order (what the simulator publishes)
    transactions: list[Transaction]


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """A few thousand generated rows with every planted fraud mechanism (seconds to make)."""
    out = tmp_path_factory.mktemp("synth")
    generate(ROWS, seed=11, out_dir=out)
    raw = list(chain.from_iterable(iter_json(DataFiles.in_dir(Path(out)))))
    return Dataset(raw, [decode_transaction(r) for r in raw])


def with_partitions(settings: Settings, partitions: int) -> Settings:
    """``settings`` with fresh topics (named after the test's) of ``partitions`` partitions."""
    kafka = settings.kafka
    live = settings.replace(
        kafka={
            "partitions": partitions,
            "topic_transactions": f"{kafka.topic_transactions}-p{partitions}",
            "topic_labels": f"{kafka.topic_labels}-p{partitions}",
        }
    )
    kafka = live.kafka
    assert kafka.bootstrap
    ensure_topics(kafka.bootstrap, [kafka.topic_transactions, kafka.topic_labels], partitions)
    return live


@dataclass(frozen=True)
class LiveRun:
    ids: list[int]  # TransactionIDs in the order enrich saw them (tx.raw order)
    features: np.ndarray  # float32 [n, len(FEATURE_NAMES)] as emitted on tx.enriched


def stream_entries(client: redis.Redis, key: str) -> list[tuple[bytes | None, dict[str, str]]]:
    rows: Any = client.xrange(key)
    return [split_fields(fields) for _, fields in rows]


def run_live_enrich(settings: Settings, client: redis.Redis, raw: Sequence[bytes]) -> LiveRun:
    """Simulator -> broker -> mirror -> tx.raw -> enrich (real runtime) -> tx.enriched.

    With stream shards (a cluster), one enrich consumer per shard, shard after shard: the
    transactions are enriched in the order of the shards' tx.enriched streams, concatenated."""
    summary = simulate(settings, raw, rate=1e9)
    assert summary.sent == len(raw) and summary.errors == 0
    run_mirror(settings, burst=True, client=client)
    events = []
    for shard, keys in enumerate(Shards.of(settings)):
        Worker(PIPELINE.chain(["enrich"]), client, settings, shard=shard).run(burst=True)
        events += [decode_enriched(p or b"") for p, _ in stream_entries(client, keys.stream("tx.enriched"))]
    return LiveRun([e.TransactionID for e in events], feature_matrix(events))


@pytest.fixture(params=["redis", "cluster"])
def backend(request: pytest.FixtureRequest) -> str:
    """Where a pipeline test runs: one Redis, or the session's three-master Redis Cluster with
    three stream shards (``on_backend``)."""
    return str(request.param)


@pytest.fixture
def on_backend(settings: Settings, backend: str, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """``settings`` on the test's backend: one Redis, or the cluster with 3 stream shards."""
    if backend == "redis":
        yield settings
        return
    url = request.getfixturevalue("redis_cluster_url")
    yield settings.replace(redis={"url": url}, streams={"shards": 3})
    delete_prefix(url, settings.redis.key_prefix)


@pytest.fixture
def broker_on_backend(broker_settings: Settings, on_backend: Settings) -> Settings:
    """``broker_settings`` on the test's backend."""
    return broker_settings.replace(
        redis={"url": on_backend.redis.url}, streams={"shards": on_backend.streams.shards}
    )


@pytest.fixture
def backend_client(on_backend: Settings) -> Iterator[redis.Redis]:
    client = connect(on_backend.redis.url or "")
    yield client
    client.close()


def train_champion(
    settings: Settings, client: redis.Redis, tmp: Path, rows: int = 8_000, seed: int = 5
) -> str:
    """A small real LightGBM champion, trained on replayed features of generated data (seconds)."""
    from models.dataset import read_transactions, replay_training_set
    from models.registry import Registry
    from models.training import register, train

    generate(rows, seed=seed, out_dir=tmp)
    files = DataFiles.in_dir(tmp)
    data = replay_training_set(client, settings.redis.key_prefix, read_transactions(files))
    cfg = settings.models.model_copy(update={"rounds": 60})
    result = train(data, "lightgbm", cfg)
    registry = Registry(settings.models.registry_dir)
    version = register(registry, result, [files.transactions])
    registry.promote(version)
    return version
