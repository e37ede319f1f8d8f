"""RQ beside a Redis Cluster: the job queues on one plain Redis (SENTINEL_JOBS_REDIS_URL), the
jobs' reads and writes of the pipeline's data on the cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from core.connect import redis_client as connect
from core.errors import ConfigError
from core.settings import Settings
from functions.keys import ModelJobKeys
from models.jobs.context import JobContext
from models.jobs.queue import JsonJob, jobs_url
from models.jobs.retrain import request_retrain
from models.jobs.schedule import run_now
from models.jobs.staging import burst_worker
from models.registry import Registry

pytestmark = pytest.mark.integration


@pytest.fixture
def split(cluster_settings: Settings, redis_url: str, tmp_path: Path) -> Settings:
    """The pipeline's data on the cluster, RQ on the session's plain Redis, a queue of this test."""
    return cluster_settings.replace(jobs={"redis_url": redis_url, "queue": f"q-{tmp_path.name}"})


@pytest.fixture
def data(split: Settings) -> Iterator[redis.Redis]:
    client = connect(split.redis.url or "")
    yield client
    client.close()


def test_rq_is_refused_a_cluster_and_takes_the_jobs_redis(
    cluster_settings: Settings, split: Settings
) -> None:
    with pytest.raises(ConfigError, match="SENTINEL_JOBS_REDIS_URL"):
        jobs_url(cluster_settings)
    assert jobs_url(split) == split.jobs.redis_url


def test_a_job_is_queued_on_the_jobs_redis_and_its_state_kept_on_the_cluster(
    split: Settings, data: redis.Redis, redis_client: redis.Redis, tmp_path: Path
) -> None:
    keys = ModelJobKeys(split.redis.key_prefix)
    ctx = JobContext(split, data, keys, Registry(tmp_path / "models"), None, redis_client)
    job_id = str(request_retrain(ctx, "test", force=True))
    assert JsonJob.fetch(job_id, connection=redis_client).description == "retrain (test)"
    state: Any = data.hget(keys.jobs_state, "last_trigger")
    assert state == b"test"  # the pipeline's side: on the cluster
    assert not redis_client.exists(keys.jobs_state)
    JsonJob.fetch(job_id, connection=redis_client).delete()


def test_a_real_worker_runs_a_job_from_the_jobs_redis_against_the_cluster(
    split: Settings, redis_client: redis.Redis
) -> None:
    job = run_now(split, redis_client, "drift")
    done = burst_worker(split)
    assert done.returncode == 0, done.stderr[-3000:]
    assert job.get_status(refresh=True) == "finished", job.exc_info
    assert job.return_value(refresh=True) == {"skipped": "no champion model"}
