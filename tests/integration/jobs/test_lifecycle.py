"""Retraining, shadow and promotion on real Redis with real `rq worker` processes.

A new fraud pattern (a card1 block turns fraudulent) is learnt by a retrained candidate, which
beats the champion on the post-change labelled rows, runs in shadow, and is promoted; a
candidate trained on shuffled labels is rejected with the reason; a retrain whose worker is
SIGKILLed is retried by RQ and leaves only complete registry versions.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from rq.registry import StartedJobRegistry

from core.settings import Settings
from data.shift import Shift
from functions.features import FEATURE_NAMES
from functions.keys import ModelJobKeys, OperatorKeys
from models.dataset import TrainingSet
from models.jobs.queue import JsonJob, job_queue
from models.jobs.schedule import run_now
from models.jobs.staging import settings_env, worker_argv
from models.registry import Registry
from models.training import register, train
from tests.integration.jobs.conftest import (
    ROWS,
    Replayed,
    Traffic,
    deliver_labels,
    run_worker,
    serve,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SHADOW = 3_000  # the latest rows: scored in shadow; the rows before them: history to retrain on


@pytest.fixture(scope="module")
def new_pattern(traffic: Traffic, redis_url: str) -> Replayed:
    """The traffic replayed with a new fraud pattern in its latest WINDOW rows: 90% of a card1 block (12% of the rows)."""
    cards = np.sort(traffic.window.matrix[:, FEATURE_NAMES.index("card1")])
    low, high = (int(v) for v in np.quantile(cards, [0.35, 0.47]))
    return traffic.shifted(
        redis_url, Shift(traffic.window_start_dt, fraud_cards=(low, high), fraud_share=0.9)
    )


@pytest.fixture
def registry(early_champion_dir: Path, tmp_path: Path) -> Registry:
    """The champion knows the rows before the window; the new pattern starts with the window."""
    return Registry(Path(shutil.copytree(early_champion_dir, tmp_path / "models")))


@pytest.fixture
def lifecycle_settings(job_settings: Settings) -> Settings:
    return job_settings.replace(
        jobs={
            # recent enough that the new pattern reaches the fit slice (training fits on the earliest
            # rows of the split): 12,000 rows = 7,000 before the change and 5,000 after it
            "retrain_max_rows": 12_000,
            "retrain_min_rows": 1_000,
            "shadow_labels": 1_000,
            "bootstrap_rounds": 100,
        }
    )


def _audit(client: redis.Redis, settings: Settings) -> list[dict[str, Any]]:
    import json

    entries: Any = client.xrange(OperatorKeys(settings.redis.key_prefix).audit)
    return [{"action": f[b"action"].decode(), **json.loads(f[b"detail"])} for _, f in entries]


def _run(client: redis.Redis, settings: Settings, name: str) -> Any:
    job = run_now(settings, client, name)
    run_worker(settings)
    assert job.get_status(refresh=True) == "finished", job.exc_info
    return job.return_value()


def test_a_new_fraud_pattern_is_learnt_shadowed_and_promoted(
    new_pattern: Replayed, registry: Registry, lifecycle_settings: Settings, redis_client: redis.Redis
) -> None:
    settings, client = lifecycle_settings, redis_client
    champion = registry.load(registry.pointer()["champion"])
    before, after = new_pattern.rows(0, ROWS - SHADOW), new_pattern.rows(ROWS - SHADOW, ROWS)
    serve(client, settings, before, champion)
    deliver_labels(client, settings, before)
    result = _run(client, settings, "retrain")
    queued = JsonJob.fetch(result["retrain"], connection=client)  # the schedule entry enqueued it
    run_worker(settings)
    outcome: Any = queued.return_value(refresh=True)
    assert outcome.get("decision") == "challenger (shadow)", outcome.get("reason")
    candidate = registry.pointer()["challenger"]
    assert candidate == outcome["version"] and float(outcome["delta_low"]) > 0
    assert any(
        e["action"] == "model.challenger" and e["version"] == candidate for e in _audit(client, settings)
    )

    waiting = _run(client, settings, "shadow")
    assert "waiting" in waiting  # no labelled shadow scores yet
    serve(client, settings, after, champion, challenger=registry.load(candidate))
    deliver_labels(client, settings, after)
    judged = _run(client, settings, "shadow")
    assert judged.get("decision") == "promoted", judged.get("reason")
    assert registry.pointer()["champion"] == candidate and registry.pointer()["challenger"] is None
    promoted = [e for e in _audit(client, settings) if e["action"] == "model.promote"]
    assert promoted and float(promoted[-1]["candidate_pr_auc"]) > float(promoted[-1]["champion_pr_auc"])
    registry.rollback()  # one command back
    assert registry.pointer()["champion"] == champion.version


def test_a_candidate_trained_on_shuffled_labels_is_rejected_with_the_reason(
    new_pattern: Replayed, registry: Registry, lifecycle_settings: Settings, redis_client: redis.Redis
) -> None:
    settings, client = lifecycle_settings, redis_client
    champion = registry.load(registry.pointer()["champion"])
    before, after = new_pattern.rows(ROWS - 10_000, ROWS - SHADOW), new_pattern.rows(ROWS - SHADOW, ROWS)
    shuffled = TrainingSet.from_replay(before.matrix, FEATURE_NAMES, before.meta)
    rng = np.random.default_rng(0)
    shuffled = TrainingSet(
        shuffled.matrix,
        shuffled.names,
        shuffled.ids,
        shuffled.times,
        shuffled.amounts,
        rng.permutation(shuffled.labels),
    )
    bad = register(registry, train(shuffled, "lightgbm", settings.models), [])
    registry.promote(bad, "challenger")
    serve(client, settings, after, champion, challenger=registry.load(bad))
    deliver_labels(client, settings, after)
    judged = _run(client, settings, "shadow")
    assert judged["decision"] == "rejected", judged
    assert registry.pointer()["champion"] == champion.version and registry.pointer()["challenger"] is None
    rejected = [e for e in _audit(client, settings) if e["action"] == "model.reject"]
    assert rejected and rejected[-1]["challenger"] == bad
    assert "does not clear the margin" in rejected[-1]["reason"]
    assert float(rejected[-1]["candidate_pr_auc"]) < float(rejected[-1]["champion_pr_auc"])


def test_a_killed_retrain_is_retried_and_leaves_only_complete_versions(
    new_pattern: Replayed, registry: Registry, lifecycle_settings: Settings, redis_client: redis.Redis
) -> None:
    settings, client = lifecycle_settings, redis_client
    champion = registry.load(registry.pointer()["champion"])
    rows = new_pattern.rows(ROWS - 10_000, ROWS - SHADOW)
    serve(client, settings, rows, champion)
    deliver_labels(client, settings, rows)
    from models.jobs.context import JobContext
    from models.jobs.retrain import request_retrain

    ctx = JobContext(settings, client, ModelJobKeys(settings.redis.key_prefix), registry, None)
    job = JsonJob.fetch(str(request_retrain(ctx, "test", force=True)), connection=client)
    worker = subprocess.Popen(
        worker_argv(settings), env=settings_env(settings), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600  # a worker's start and the window's read, on a busy box
        while (job.get_meta(refresh=True).get("progress") or {}).get("step") not in (
            "training",
            "registering",
        ):
            assert time.monotonic() < deadline, "the retrain never started training"
            assert worker.poll() is None
            time.sleep(0.05)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its work horse, mid-retrain
        worker.wait()
    assert registry.versions() == [champion.version], "a killed retrain left a version"
    assert client.get(ModelJobKeys(settings.redis.key_prefix).retrain_lock) == job.id.encode()
    # RQ notices an abandoned job once its heartbeat key expires (a minute or more); a worker's
    # maintenance then retries it. Run that same cleanup as of two hours later instead of waiting.
    StartedJobRegistry(queue=job_queue(settings, client)).cleanup(timestamp=time.time() + 7_200)
    assert job.get_status(refresh=True) == "queued"  # retried: back on the queue
    run_worker(settings)
    assert job.get_status(refresh=True) == "finished", job.exc_info
    outcome: Any = job.return_value(refresh=True)
    assert outcome["version"] in registry.versions()
    for version in registry.versions():
        files = {p.name for p in (registry.root / version).iterdir()}
        assert {
            "manifest.json",
            "features.json",
            "thresholds.json",
            "metrics.json",
            "score_histogram.json",
        } <= files
        registry.load(version)
    assert client.get(ModelJobKeys(settings.redis.key_prefix).retrain_lock) is None
