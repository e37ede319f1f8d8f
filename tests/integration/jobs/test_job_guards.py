"""What the jobs do when they must not (or cannot) do their work, on real Redis with real
`rq worker --burst` processes: one retrain at a time (the lock), a retrain without enough
labels says so, and a job that fails says why in its result and in the worker's log.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis
from rq.job import Job

from core.settings import Settings
from functions.keys import ModelJobKeys, OperatorKeys
from models.jobs.context import JobContext
from models.jobs.queue import JsonJob
from models.jobs.retrain import request_retrain
from models.jobs.schedule import run_now
from models.registry import Registry
from tests.integration.jobs.conftest import Traffic, run_worker, serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _retrain_job(client: redis.Redis, settings: Settings, registry: Registry) -> Job:
    ctx = JobContext(settings, client, ModelJobKeys(settings.redis.key_prefix), registry, None)
    return JsonJob.fetch(str(request_retrain(ctx, "test", force=True)), connection=client)


def test_a_retrain_does_not_run_while_another_holds_the_lock(
    registry: Registry, job_settings: Settings, redis_client: redis.Redis
) -> None:
    lock = ModelJobKeys(job_settings.redis.key_prefix).retrain_lock
    redis_client.set(lock, "other-retrain-job")
    before = registry.versions()
    job = _retrain_job(redis_client, job_settings, registry)
    run_worker(job_settings)
    assert job.get_status(refresh=True) == "finished", job.exc_info
    assert job.return_value() == {"skipped": "another retrain is running (job other-retrain-job)"}
    assert registry.versions() == before
    assert redis_client.get(lock) == b"other-retrain-job"  # not taken over, not released


def test_a_retrain_without_enough_labels_says_so_in_its_result_and_the_audit(
    traffic: Traffic, registry: Registry, job_settings: Settings, redis_client: redis.Redis
) -> None:
    champion = registry.load(registry.pointer()["champion"])
    serve(redis_client, job_settings, traffic.window, champion)  # scored, no label arrived yet
    before = registry.versions()
    job = _retrain_job(redis_client, job_settings, registry)
    run_worker(job_settings)
    outcome = job.return_value(refresh=True)
    assert outcome == {"skipped": "0 labelled rows (0 fraud): too few to train on"}
    assert registry.versions() == before
    entries: Any = redis_client.xrange(OperatorKeys(job_settings.redis.key_prefix).audit)
    assert [f[b"action"] for _, f in entries] == [b"model.retrain"]
    assert b"too few to train on" in entries[0][1][b"detail"]


def test_a_failed_job_says_why_in_its_result_and_the_log(
    traffic: Traffic, registry: Registry, job_settings: Settings, redis_client: redis.Redis
) -> None:
    champion = registry.pointer()["champion"]
    serve(redis_client, job_settings, traffic.window, registry.load(champion))
    (registry.root / champion / "reference_histograms.json").unlink()  # a damaged version
    job = run_now(job_settings, redis_client, "drift")
    done = run_worker(job_settings)  # the worker itself survives a failing job
    assert job.get_status(refresh=True) == "failed"
    reason = f"RegistryError: missing {registry.root / champion / 'reference_histograms.json'}"
    result = job.latest_result()
    assert result is not None and result.type == result.Type.FAILED
    assert reason in (result.exc_string or "")
    assert reason in done.stderr
