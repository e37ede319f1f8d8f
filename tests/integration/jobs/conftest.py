"""Model-job fixtures: generated traffic replayed through the online features, a trained champion,
served-feature records written as the score stage writes them, and real `rq worker --burst` runs.

Each test gets its own key prefix, registry directory and RQ queue name, so tests never share
jobs or reports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import redis

from core.settings import ModelSettings, Settings
from data.loader import DataFiles
from data.schema import Transaction
from data.shift import Shift
from data.synthetic import generate
from functions.decision import RISK, Thresholds
from functions.events import TxScored
from functions.features import FEATURE_NAMES
from functions.keys import ScoreKeys, scratch_prefix
from functions.replay import ReplayMeta, drop_state, replay_features
from functions.result import to_hash
from functions.score import model_matrix
from functions.served import FEATURES_STREAM, ScoredFeatures, encode_scored_features
from models.dataset import TrainingSet, read_transactions
from models.jobs.queue import JOB_CLASS, QUEUE_CLASS, SERIALIZER
from models.loaded import LoadedModel
from models.registry import Registry
from models.training import register, train
from streams.events import PAYLOAD
from streams.keys import Keys

ROWS, WINDOW = 28_000, 10_000
ROUNDS = 120


@dataclass(frozen=True)
class Replayed:
    """Online features of a stream of transactions (TransactionDT order) and their facts."""

    matrix: np.ndarray
    meta: ReplayMeta

    def rows(self, start: int, stop: int) -> Replayed:
        m = self.meta
        return Replayed(
            self.matrix[start:stop],
            ReplayMeta(
                m.transaction_id[start:stop],
                m.transaction_dt[start:stop],
                m.amount[start:stop],
                m.is_fraud[start:stop],
            ),
        )

    def latest(self, count: int) -> Replayed:
        return self.rows(len(self.meta) - count, len(self.meta))

    def training_set(self) -> TrainingSet:
        return TrainingSet.from_replay(self.matrix, FEATURE_NAMES, self.meta)


def replay(redis_url: str, transactions: Iterable[Transaction]) -> Replayed:
    client = redis.Redis.from_url(redis_url)
    prefix = scratch_prefix(f"test:{uuid.uuid4().hex[:8]}:", "jobs")
    try:
        matrix, meta = replay_features(client, prefix, transactions)
    finally:
        drop_state(client, prefix)
        client.close()
    return Replayed(matrix, meta)


@dataclass(frozen=True)
class Traffic:
    """One draw of the generator, replayed through the online features."""

    files: DataFiles
    transactions: list[Transaction]
    plain: Replayed

    @property
    def window(self) -> Replayed:
        """The latest WINDOW rows."""
        return self.plain.latest(WINDOW)

    @property
    def window_start_dt(self) -> int:
        return int(self.window.meta.transaction_dt[0])

    def shifted(self, redis_url: str, shift: Shift) -> Replayed:
        """The same draw with ``shift`` injected, replayed."""
        return replay(redis_url, shift.stream(self.transactions))


def _draw(redis_url: str, seed: int, out: Path) -> Traffic:
    summary = generate(ROWS, seed=seed, out_dir=out)
    files = DataFiles(summary.transaction_file, summary.identity_file)
    transactions = list(read_transactions(files))
    return Traffic(files, transactions, replay(redis_url, transactions))


@pytest.fixture(scope="session")
def traffic(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Traffic:
    """The champion's training data; its latest WINDOW rows are also served as live traffic.

    A stationary stream has to come from the period the reference describes: the generator's
    volume grows over its six months (so later rows move every windowed count), and another
    seed draws another world (other email domains, cards). The reference is the latest training
    rows (calibration + test), which the window covers.
    """
    return _draw(redis_url, 5, tmp_path_factory.mktemp("jobs-traffic"))


def _registry_with_champion(data: Replayed, root: Path, files: DataFiles) -> Path:
    result = train(data.training_set(), "lightgbm", ModelSettings(rounds=ROUNDS))
    registry = Registry(root)
    registry.promote(register(registry, result, [files.transactions]))
    return registry.root


@pytest.fixture(scope="session")
def champion_dir(traffic: Traffic, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry whose champion was trained on all of ``traffic`` (copied per test)."""
    return _registry_with_champion(traffic.plain, tmp_path_factory.mktemp("jobs-models"), traffic.files)


@pytest.fixture(scope="session")
def early_champion_dir(traffic: Traffic, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry whose champion was trained on the rows before the latest WINDOW only: what
    happens in the window is its future."""
    early = traffic.plain.rows(0, ROWS - WINDOW)
    return _registry_with_champion(early, tmp_path_factory.mktemp("jobs-early-models"), traffic.files)


@pytest.fixture
def registry(champion_dir: Path, tmp_path: Path) -> Registry:
    return Registry(Path(shutil.copytree(champion_dir, tmp_path / "models")))


@pytest.fixture
def job_settings(settings: Settings, registry: Registry) -> Settings:
    return settings.replace(
        models={"registry_dir": registry.root, "rounds": ROUNDS},
        jobs={"queue": f"test-{uuid.uuid4().hex[:10]}", "drift_window": WINDOW},
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a worker process needs to see ``settings`` (the non-default values)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    defaults = Settings()
    for (variable, value, _, _), (_, default, _, _) in zip(
        settings.describe(), defaults.describe(), strict=True
    ):
        if value != default:
            env[variable] = value
    if settings.gateway.api_keys.get_secret_value():
        env["SENTINEL_GATEWAY_API_KEYS"] = settings.gateway.api_keys.get_secret_value()
    return env


def worker_argv(settings: Settings, *extra: str) -> list[str]:
    return [
        str(Path(sys.executable).with_name("rq")),
        "worker",
        "--url",
        str(settings.redis.url),
        "--serializer",
        SERIALIZER,
        "--job-class",
        JOB_CLASS,
        "--queue-class",
        QUEUE_CLASS,
        *extra,
        settings.jobs.queue,
    ]


def run_worker(settings: Settings, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """A real RQ worker process in burst mode: runs what is queued, then exits."""
    done = subprocess.run(
        worker_argv(settings, "--burst"),
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def serve(
    client: redis.Redis,
    settings: Settings,
    traffic: Replayed,
    champion: LoadedModel,
    challenger: LoadedModel | None = None,
) -> np.ndarray:
    """Write what the score stage writes per row (its ScoredFeatures on tx.features and its result
    record, which a label joins); the probabilities."""
    probs = champion.predict_proba(model_matrix(traffic.matrix, champion.feature_names))
    shadow = None
    if challenger is not None:
        shadow = challenger.predict_proba(model_matrix(traffic.matrix, challenger.feature_names))
    key = Keys(settings.redis.key_prefix).stream(FEATURES_STREAM)
    results = ScoreKeys(settings.redis.key_prefix)
    thresholds = Thresholds(review=0.3, decline=0.8)
    pipe = client.pipeline(transaction=False)
    m = traffic.meta
    for i in range(len(m)):
        record = ScoredFeatures(
            TransactionID=int(m.transaction_id[i]),
            TransactionDT=int(m.transaction_dt[i]),
            TransactionAmt=float(m.amount[i]),
            probability=float(probs[i]),
            model_version=champion.version,
            challenger_probability=None if shadow is None else float(shadow[i]),
            challenger_version=None if challenger is None else challenger.version,
            features=np.ascontiguousarray(traffic.matrix[i], dtype="<f4").tobytes(),
        )
        pipe.xadd(key, {PAYLOAD: encode_scored_features(record)})
        decision = thresholds.decide(record.probability)
        scored = TxScored(
            TransactionID=record.TransactionID,
            TransactionDT=record.TransactionDT,
            TransactionAmt=record.TransactionAmt,
            card1=0,
            uid="",
            probability=record.probability,
            risk=RISK[decision],
            decision=decision,
            model_version=champion.version,
            review_threshold=thresholds.review,
            decline_threshold=thresholds.decline,
        )
        pipe.hset(results.result(record.TransactionID), mapping=to_hash(scored, None, 0))
        if i % 2_000 == 1_999:
            pipe.execute()
    pipe.execute()
    return np.asarray(probs)


def deliver_labels(client: redis.Redis, settings: Settings, traffic: Replayed) -> None:
    """The labels of ``traffic`` arrive, through the label stage's store."""
    from data.schema import Label
    from functions.keys import LabelKeys, ScoreKeys
    from functions.label import LabelIn
    from functions.label_store import RedisLabelStore

    store = RedisLabelStore(
        client, LabelKeys(settings.redis.key_prefix), ScoreKeys(settings.redis.key_prefix)
    )
    m = traffic.meta
    batch = [
        LabelIn(Label(TransactionID=int(i), isFraud=1 if y == 1 else 0), None)
        for i, y in zip(m.transaction_id, m.is_fraud, strict=True)
    ]
    for start in range(0, len(batch), 500):
        store.store(batch[start : start + 500])
