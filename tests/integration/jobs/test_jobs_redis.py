"""RQ beside a Redis Cluster: the job queues on one plain Redis (SENTINEL_JOBS_REDIS_URL), the
jobs' reads and writes of the pipeline's data on the cluster: the scored window and the labels of
every stream shard, and the training replay (`sentinel train`) in one slot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
import redis

from core.connect import redis_client as connect
from core.errors import ConfigError
from core.settings import Settings
from data.schema import Label, encode_label, encode_transaction
from functions.keys import ModelJobKeys
from infra.pipeline.streams import LABELS, RAW
from infra.pipeline.table import PIPELINE
from models.dataset import replay_training_set
from models.jobs.context import JobContext
from models.jobs.drift import recent_reports
from models.jobs.queue import JsonJob, jobs_url
from models.jobs.retrain import request_retrain
from models.jobs.schedule import run_now
from models.jobs.staging import burst_worker
from models.registry import Registry
from models.window import UNKNOWN, arrived_labels, read_window
from streams.events import PUBLISHED_NS, entry_fields
from streams.keys import Shards
from streams.worker import Worker
from tests.integration.jobs.conftest import Traffic

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


def test_the_jobs_read_the_scored_window_and_labels_of_every_shard(
    split: Settings, data: redis.Redis, redis_client: redis.Redis, traffic: Traffic, registry: Registry
) -> None:
    """Transactions scored by every shard's enrich+score workers and labels stored by every shard's
    label stage: the window that the drift check, the shadow judge and retraining read holds all of
    them with each label read on its shard, and a real worker's drift check reports the whole window."""
    n, shards_n = 1_500, 3
    live = split.replace(
        streams={"shards": shards_n},
        models={"registry_dir": registry.root},
        jobs={"drift_window": n, "drift_min_rows": 100},
    )
    shards = Shards.of(live)
    sent = traffic.transactions[-n:]
    labelled: dict[int, Literal[0, 1]] = {tx.TransactionID: 1 if tx.isFraud else 0 for tx in sent[: n // 2]}
    home = {}
    for tx in sent:  # as the mirror routes the card's partition
        home[tx.TransactionID] = shards.of_key(str(tx.card1).encode(), live.kafka.partitions)
        fields: Any = entry_fields(encode_transaction(tx), {PUBLISHED_NS: "1"})
        data.xadd(shards.keys(home[tx.TransactionID]).stream(RAW), fields)
    for shard in range(shards_n):
        Worker(PIPELINE.chain(["enrich", "score"]), data, live, shard=shard).run(burst=True)
    for tx_id, fraud in labelled.items():
        label: Any = entry_fields(
            encode_label(Label(TransactionID=tx_id, isFraud=fraud)), {PUBLISHED_NS: "1"}
        )
        data.xadd(shards.keys(home[tx_id]).stream(LABELS), label)
    for shard in range(shards_n):
        Worker(PIPELINE.chain(["label"]), data, live, shard=shard).run(burst=True)
    assert set(home.values()) == {0, 1, 2}

    window = read_window(data, shards, n)  # what drift, shadow and retrain read
    assert sorted(window.ids.tolist()) == sorted(home)
    assert [home[int(i)] for i in window.ids] == window.shards.tolist()
    labels = arrived_labels(data, shards, window)
    assert {int(i): int(y) for i, y in zip(window.ids, labels, strict=True) if y != UNKNOWN} == labelled

    job = run_now(live, redis_client, "drift")
    done = burst_worker(live)
    assert done.returncode == 0, done.stderr[-3000:]
    assert job.get_status(refresh=True) == "finished", job.latest_result()
    (report,) = recent_reports(data, ModelJobKeys(live.redis.key_prefix).drift_reports, 5)
    assert report.rows == n
    assert report.pending is not None and report.pending.rows == n - len(labelled)


def test_the_training_replay_runs_on_a_cluster_as_on_one_redis(
    split: Settings, data: redis.Redis, redis_client: redis.Redis, traffic: Traffic
) -> None:
    """`sentinel train` against a cluster URL: the replay's scratch state is one hash tag (its
    feature scripts touch many entities at once), and the features equal one Redis's."""
    rows = traffic.transactions[:1_000]
    on_cluster = replay_training_set(data, split.redis.key_prefix, rows)
    on_one = replay_training_set(redis_client, split.redis.key_prefix, rows)
    assert on_cluster.matrix.shape[0] == 1_000
    np.testing.assert_array_equal(on_cluster.matrix, on_one.matrix)
