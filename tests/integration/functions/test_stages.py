"""Enrich and label stages run by the real streams runtime (Worker, burst mode) on a real Redis."""

from __future__ import annotations

import random
import signal
from typing import Any

import msgspec
import numpy as np
import pytest
import redis

from core.settings import Settings
from data.schema import Label, Transaction, encode_label, encode_transaction
from functions.decision import Thresholds
from functions.events import LabelStored, decode_enriched, feature_matrix
from functions.keys import LabelKeys, OperatorKeys, ScoreKeys
from functions.label import live_quality
from functions.label_store import RedisLabelStore
from functions.replay import replay_features
from functions.strategy import RedisThresholds
from infra.pipeline.score import threshold_store
from infra.pipeline.streams import LABELS, RAW
from infra.pipeline.table import PIPELINE
from infra.services import wait_until
from streams.events import PUBLISHED_NS, entry_fields, split_fields
from streams.function import Context
from streams.keys import Keys, Shards
from streams.worker import Worker
from tests.integration.functions.gated import gate_keys
from tests.integration.streams.conftest import sentinel_env

pytestmark = pytest.mark.integration


def transactions(n: int, seed: int = 3) -> list[Transaction]:
    rng = random.Random(seed)
    out, dt = [], 86_400
    for i in range(n):
        dt += rng.randrange(0, 400)
        fields: dict[str, Any] = dict(
            TransactionID=3_000_000 + i,
            TransactionDT=dt,
            TransactionAmt=round(rng.uniform(1, 300), 2),
            ProductCD=rng.choice("WCHSR"),
            card1=rng.randrange(1000, 1060),
            addr1=rng.choice([None, 204.0, 299.0, 330.0]),
            D1=rng.choice([None, 0.0, 14.0]),
            P_emaildomain=rng.choice([None, "gmail.com", "yahoo.com"]),
            DeviceInfo=rng.choice([None, None, "Windows", "iOS Device"]),
            id_31=rng.choice([None, "chrome 62.0"]),
            V5=rng.choice([None, 1.0]),
        )
        out.append(Transaction(**fields))
    return out


def xadd(client: redis.Redis, key: str, payload: bytes, meta: dict[str, str]) -> None:
    fields: Any = entry_fields(payload, meta)
    client.xadd(key, fields)


def stream(client: redis.Redis, key: str) -> list[tuple[bytes | None, dict[str, str]]]:
    rows: Any = client.xrange(key)
    return [split_fields(fields) for _, fields in rows]


def run(settings: Settings, client: redis.Redis, *names: str) -> None:
    Worker(PIPELINE.chain(names), client, settings).run(burst=True)


def test_enrich_stage_matches_the_replay_and_carries_metadata(
    settings: Settings, redis_client: redis.Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    txs = transactions(1200)
    for i, tx in enumerate(txs):
        xadd(redis_client, keys.stream(RAW), encode_transaction(tx), {PUBLISHED_NS: str(10**18 + i)})
    xadd(redis_client, keys.stream(RAW), b'{"TransactionID": 1, "card1": 5}', {})
    run(settings, redis_client, "enrich")

    out = stream(redis_client, keys.stream("tx.enriched"))
    events = [decode_enriched(payload or b"") for payload, _ in out]
    assert [e.TransactionID for e in events] == [tx.TransactionID for tx in txs]
    assert [meta[PUBLISHED_NS] for _, meta in out] == [str(10**18 + i) for i in range(len(txs))]
    expected, _ = replay_features(redis_client, f"{key_prefix}replay:", txs, batch_size=97)
    np.testing.assert_allclose(feature_matrix(events), expected, rtol=0, atol=1e-9, equal_nan=True)
    dead: Any = redis_client.xrange(keys.dead_letters)
    assert len(dead) == 1 and b"column card1=5" in b"".join(dead[0][1].values())


def test_label_stage_joins_scores_counts_once_and_keeps_the_quality_window(
    settings: Settings, redis_client: redis.Redis, key_prefix: str
) -> None:
    keys, results, labels = Keys(key_prefix), ScoreKeys(key_prefix), LabelKeys(key_prefix)
    scores = {1: 0.9, 2: 0.8, 3: 0.2, 4: 0.1, 5: 0.6}
    truth = {1: 1, 2: 0, 3: 1, 4: 0, 5: 1, 6: 0}  # 6 is not scored (yet): its label waits
    for tx_id, p in scores.items():
        redis_client.hset(
            results.result(tx_id),
            mapping={
                "probability": p,
                "decision": "review",
                "model_version": "v1",
                "TransactionDT": 86_400 + tx_id,
                "amount": 10.0 * tx_id,
                "published_ns": 1_000_000_000,
            },
        )
    for tx_id, y in truth.items():
        payload = encode_label(Label(TransactionID=tx_id, isFraud=y))  # type: ignore[arg-type]
        xadd(redis_client, keys.stream(LABELS), payload, {PUBLISHED_NS: str(4_000_000_000 + tx_id)})
    xadd(redis_client, keys.stream(LABELS), encode_label(Label(TransactionID=1, isFraud=1)), {})  # again
    run(settings, redis_client, "label")

    stored = [
        msgspec.json.decode(p or b"", type=LabelStored)
        for p, _ in stream(redis_client, keys.stream("labels.stored"))
    ]
    assert [s.TransactionID for s in stored] == [1, 2, 3, 4, 5, 6, 1]
    assert stored[0].probability == 0.9 and stored[0].delay_s == pytest.approx(3.000000001)
    assert stored[5].probability is None and not stored[5].duplicate
    assert stored[6].duplicate and stored[6].probability == 0.9
    stats: Any = redis_client.hgetall(labels.stats)
    assert int(stats[b"labels"]) == 5 and int(stats[b"fraud"]) == 3 and b"unscored" not in stats
    assert redis_client.hlen(labels.waiting) == 1
    assert int(stats[b"delay_n"]) == 5
    quality = live_quality(RedisLabelStore(redis_client, labels, results), 0.3)
    # window (label, p): (1,.9) (0,.8) (1,.2) (0,.1) (1,.6); review threshold 0.3 flags .9 .8 .6
    assert quality.window == 5 and quality.labels_waiting == 1
    assert quality.precision == pytest.approx(2 / 3)
    assert quality.recall == pytest.approx(2 / 3)
    assert quality.pr_auc == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)  # ranks 1, 3, 4
    assert float(redis_client.hget(labels.label(3), "amount") or 0) == 30.0  # type: ignore[arg-type]


def test_a_label_waits_for_its_score_within_the_bound(redis_client: redis.Redis, key_prefix: str) -> None:
    from functions.label import LabelIn
    from functions.label_store import RedisLabelStore

    labels = LabelKeys(key_prefix)
    store = RedisLabelStore(redis_client, labels, ScoreKeys(key_prefix), waiting_max=1)
    batch = [LabelIn(Label(TransactionID=tx_id, isFraud=1), None) for tx_id in (7, 8, 9)]
    assert [s.probability for s in store.store(batch)] == [None] * 3 and store.waiting() == 3
    assert store.join_waiting() == (0, 2)  # the two oldest are past the bound: stored unscored
    assert store.waiting() == 1 and redis_client.hget(labels.waiting, "9") is not None
    stats: Any = redis_client.hgetall(labels.stats)
    assert int(stats[b"labels"]) == 2 and int(stats[b"unscored"]) == 2 and int(stats[b"fraud"]) == 2
    assert [s.duplicate for s in store.store(batch)] == [True] * 3  # stored or waiting: nothing counted
    assert store.join_waiting() == (0, 0) and int(redis_client.hget(labels.stats, "labels") or 0) == 2  # type: ignore[arg-type]


def test_the_score_stage_of_every_stream_shard_reads_the_strategy_operators_set(
    settings: Settings, redis_client: redis.Redis
) -> None:
    """The gateway writes the strategy under the operators' prefix; a score worker of any shard
    (its keys hash-tagged) reads that one, not a per-shard copy that nobody writes."""
    sharded = settings.replace(streams={"shards": 3})
    operators = RedisThresholds(redis_client, OperatorKeys(Shards.of(sharded).common_prefix), (0.5, 0.9))
    pipe = redis_client.pipeline()
    operators.set(pipe, Thresholds(review=0.11, decline=0.77), "analyst", "2026-12-01T19:00:00Z")
    pipe.execute()
    for keys in Shards.of(sharded):
        live = threshold_store(Context(redis_client, sharded, keys)).live(None)
        assert (live.source, live.thresholds) == ("strategy", Thresholds(review=0.11, decline=0.77))


def test_enrich_killed_after_its_state_writes_and_before_its_commit_counts_nothing_twice(
    on_backend: Settings, backend_client: redis.Redis, redis_client: redis.Redis, spawn: Any
) -> None:
    """SIGKILL with the first batch in the feature state and unacknowledged (on the cluster, in
    the state of all three slots); a new worker takes the batch over: every transaction is
    enriched once, with exactly the features of a replay that never crashed (so the killed batch
    counted once in the state, and nothing of it was lost)."""
    live = on_backend.replace(
        streams={
            "pipeline": "tests.integration.functions.gated:PIPELINE",
            "batch_size": 10,
            "claim_idle_ms": 200,
        }
    )
    client, keys = backend_client, Shards.of(on_backend).home
    txs = transactions(40, seed=8)
    for tx in txs:
        xadd(client, keys.stream(RAW), encode_transaction(tx), {})
    reached, opened = gate_keys(keys)
    env = sentinel_env(
        live, SENTINEL_STREAMS_SHARDS=str(live.streams.shards), SENTINEL_STREAMS_BATCH_SIZE="10"
    )

    first = spawn(["fn", "run", "enrich", "--shard", "0"], env)
    wait_until(lambda: client.exists(reached) == 1, 60, "the first worker at the gate")
    first.send_signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    assert client.xlen(keys.stream("tx.enriched")) == 0
    client.set(opened, 1)
    assert spawn(["fn", "run", "enrich", "--shard", "0", "--burst"], env).wait(120) == 0

    events = [decode_enriched(p or b"") for p, _ in stream(client, keys.stream("tx.enriched"))]
    assert sorted(e.TransactionID for e in events) == [tx.TransactionID for tx in txs]  # each once
    by_id = {e.TransactionID: e for e in events}
    offline, _ = replay_features(redis_client, f"{on_backend.redis.key_prefix}clean:", txs, 10)
    live_rows = feature_matrix([by_id[tx.TransactionID] for tx in txs])
    np.testing.assert_array_equal(live_rows, offline.astype(np.float32))
