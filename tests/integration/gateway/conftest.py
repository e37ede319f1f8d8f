"""Gateway fixtures: the app on the session's real Redis (own key prefix), API keys per role."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import pytest
import redis
from litestar import Litestar
from litestar.testing import TestClient

from core.settings import ModelSettings, Settings
from data.loader import DataFiles, iter_json
from data.synthetic import generate
from infra.bench.gateway_process import GatewayProcess
from infra.gateway import gateway_app
from infra.pipeline.streams import RAW
from infra.pipeline.table import PIPELINE
from models.dataset import read_transactions, replay_training_set
from models.registry import Registry
from models.training import register, train
from streams.events import PUBLISHED_NS, entry_fields
from streams.keys import Keys
from streams.worker import Worker
from tests.keyspace import delete_prefix

Client = TestClient[Litestar]
ROWS = 4_000

KEYS = {"scorer": "k-scorer-1", "analyst": "k-analyst-1", "admin": "k-admin-1"}


def auth(role: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[role]}


@pytest.fixture
def gateway_settings(settings: Settings) -> Settings:
    spec = ",".join(f"{role}:{key}" for role, key in KEYS.items())
    return settings.replace(gateway={"api_keys": spec, "max_batch": 5, "max_body_bytes": 200_000})


@pytest.fixture
def client(gateway_settings: Settings) -> Iterator[Client]:
    with TestClient(app=gateway_app(gateway_settings)) as test_client:
        yield test_client


@contextmanager
def gateway_process(redis_url: str, trained: Trained, tmp: Path) -> Iterator[GatewayProcess]:
    """`sentinel gateway` as a real process (granian) on a free port: own key prefix (deleted
    afterwards), the trained champion, the test keys."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    live = Settings().replace(
        redis={"url": redis_url, "key_prefix": prefix},
        gateway={"api_keys": ",".join(f"{role}:{key}" for role, key in KEYS.items())},
        local={"state_dir": tmp / "state"},
        models={"registry_dir": trained.registry_dir},
    )
    try:
        with GatewayProcess(live, workers=1) as server:
            yield server
    finally:
        delete_prefix(redis_url, prefix)


@pytest.fixture(scope="module")
def gateway_server(
    redis_url: str, trained: Trained, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """A real gateway process for the module (``gateway_process``)."""
    with gateway_process(redis_url, trained, tmp_path_factory.mktemp("gateway")) as server:
        yield server


@dataclass(frozen=True)
class Trained:
    """A registry with a champion trained on generated rows, and those rows (TransactionDT order)."""

    registry_dir: Path
    version: str
    raw: list[bytes]


@pytest.fixture(scope="session")
def trained(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """A small LightGBM champion trained through the online features (seconds; shared by the session)."""
    out = tmp_path_factory.mktemp("gateway-synth")
    summary = generate(ROWS, seed=17, out_dir=out)
    files = DataFiles(summary.transaction_file, summary.identity_file)
    client = redis.Redis.from_url(redis_url)
    try:
        training_set = replay_training_set(client, f"test:{uuid.uuid4().hex[:12]}:", read_transactions(files))
    finally:
        client.close()
    result = train(training_set, "lightgbm", ModelSettings(rounds=60))
    registry = Registry(tmp_path_factory.mktemp("gateway-models"))
    version = register(registry, result, [files.transactions])
    registry.promote(version)
    raw = list(chain.from_iterable(iter_json(files)))
    return Trained(registry.root, version, raw)


@pytest.fixture
def scoring_settings(gateway_settings: Settings, trained: Trained) -> Settings:
    """``gateway_settings`` whose registry holds the trained champion."""
    return gateway_settings.replace(models={"registry_dir": trained.registry_dir})


@pytest.fixture
def scoring_client(scoring_settings: Settings) -> Iterator[Client]:
    with TestClient(app=gateway_app(scoring_settings)) as test_client:
        yield test_client


def score_on_the_stream_path(settings: Settings, client: redis.Redis, raw: list[bytes]) -> None:
    """The stream path: tx.raw -> enrich worker -> tx.enriched -> score worker -> tx.scored."""
    keys = Keys(settings.redis.key_prefix)
    for payload in raw:
        fields: Any = entry_fields(payload, {PUBLISHED_NS: "1"})
        client.xadd(keys.stream(RAW), fields)
    Worker(PIPELINE.chain(["enrich"]), client, settings).run(burst=True)
    Worker(PIPELINE.chain(["score"]), client, settings).run(burst=True)
