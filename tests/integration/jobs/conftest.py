"""Model-job fixtures: generated traffic replayed through the online features, a trained champion,
served-feature records written as the score stage writes them, and real `rq worker --burst` runs.

Each test gets its own key prefix, registry directory and RQ queue name, so tests never share
jobs or reports.
"""

from __future__ import annotations

import shutil
import subprocess
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
from functions.features import FEATURE_NAMES
from functions.keys import scratch_prefix
from functions.replay import ReplayMeta, drop_state, replay_features
from models.dataset import TrainingSet, read_transactions
from models.jobs.staging import burst_worker, stage_labels, stage_scored
from models.loaded import LoadedModel
from models.registry import Registry
from models.training import register, train

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


def _draw(redis_url: str, seed: int, out: Path, *, steady: bool = False) -> Traffic:
    summary = generate(ROWS, seed=seed, out_dir=out, steady=steady)
    files = DataFiles(summary.transaction_file, summary.identity_file)
    transactions = list(read_transactions(files))
    return Traffic(files, transactions, replay(redis_url, transactions))


@pytest.fixture(scope="session")
def traffic(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Traffic:
    """The champion's training data; its latest WINDOW rows are also served as live traffic
    (shifted, or with a new fraud pattern). The generator's default volume grows over its six
    months, so this stream moves by itself; the stationary case uses ``steady_traffic``."""
    return _draw(redis_url, 5, tmp_path_factory.mktemp("jobs-traffic"))


@pytest.fixture(scope="session")
def steady_traffic(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Traffic:
    """A draw of the steady generator (the same volume and fraud rate every day): a stream that
    does not move, for the drift check's stationary case."""
    return _draw(redis_url, 5, tmp_path_factory.mktemp("jobs-steady"), steady=True)


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


@pytest.fixture(scope="session")
def steady_champion_dir(steady_traffic: Traffic, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry whose champion was trained on the steady draw's rows before its latest WINDOW."""
    early = steady_traffic.plain.rows(0, ROWS - WINDOW)
    return _registry_with_champion(early, tmp_path_factory.mktemp("jobs-steady-models"), steady_traffic.files)


@pytest.fixture
def registry(champion_dir: Path, tmp_path: Path) -> Registry:
    return Registry(Path(shutil.copytree(champion_dir, tmp_path / "models")))


@pytest.fixture
def job_settings(settings: Settings, registry: Registry) -> Settings:
    return settings.replace(
        models={"registry_dir": registry.root, "rounds": ROUNDS},
        jobs={"queue": f"test-{uuid.uuid4().hex[:10]}", "drift_window": WINDOW},
    )


def run_worker(settings: Settings, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """A real RQ worker process in burst mode: runs what is queued, then exits (successfully)."""
    done = burst_worker(settings, timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def serve(
    client: redis.Redis,
    settings: Settings,
    traffic: Replayed,
    champion: LoadedModel,
    challenger: LoadedModel | None = None,
) -> np.ndarray:
    """Write what the score stage writes per row; the probabilities."""
    return stage_scored(client, settings, traffic.matrix, traffic.meta, champion, challenger)


def deliver_labels(client: redis.Redis, settings: Settings, traffic: Replayed) -> None:
    """The labels of ``traffic`` arrive, through the label stage's store."""
    stage_labels(client, settings, traffic.meta)
