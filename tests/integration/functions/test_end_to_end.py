"""End to end on the real stack: simulate N transactions -> broker -> mirror -> enrich -> score -> label.

Every transaction is scored exactly once, the high-risk ones raise alerts (stream and result
record agree), and every label is counted and joined with its score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis

from core.settings import Settings
from data.simulator import simulate
from functions.events import AlertRaised, TxScored
from functions.keys import LabelKeys, ScoreKeys
from functions.label import live_quality
from functions.label_store import RedisLabelStore
from infra.pipeline.table import PIPELINE
from streams.keys import Keys
from streams.mirror import run_mirror
from streams.worker import Worker
from tests.integration.functions.conftest import Dataset, stream_entries, train_champion

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_simulated_transactions_are_scored_once_alerted_and_labelled(
    broker_settings: Settings, redis_client: redis.Redis, synth: Dataset, tmp_path: Path
) -> None:
    settings = broker_settings
    version = train_champion(settings, redis_client, tmp_path / "train")
    summary = simulate(settings, synth.raw, rate=1e9, label_delay_s=0.0)
    assert summary.sent == summary.labels_sent == len(synth.raw)
    run_mirror(settings, burst=True, client=redis_client)
    for name in ("enrich", "score", "label"):
        Worker(PIPELINE.chain([name]), redis_client, settings).run(burst=True)
    Worker(PIPELINE.chain(["enrich", "score"]), redis_client, settings).run(burst=True)  # nothing left

    prefix = settings.redis.key_prefix
    keys, results, labels = Keys(prefix), ScoreKeys(prefix), LabelKeys(prefix)
    scored = [
        msgspec.json.decode(p or b"", type=TxScored)
        for p, _ in stream_entries(redis_client, keys.stream("tx.scored"))
    ]
    expected_ids = sorted(tx.TransactionID for tx in synth.transactions)
    assert sorted(s.TransactionID for s in scored) == expected_ids  # each exactly once
    assert {s.model_version for s in scored} == {version}

    alerts = [
        msgspec.json.decode(p or b"", type=AlertRaised)
        for p, _ in stream_entries(redis_client, keys.stream("alerts"))
    ]
    flagged = {s.TransactionID for s in scored if s.probability >= s.review_threshold}
    assert {a.TransactionID for a in alerts} == flagged and len(alerts) == len(flagged)
    assert all(a.reasons for a in alerts)
    fraud = {tx.TransactionID for tx in synth.transactions if tx.isFraud == 1}
    assert flagged & fraud, "the model flags none of the planted fraud"
    some = scored[len(scored) // 2]
    record: Any = redis_client.hgetall(results.result(some.TransactionID))
    assert float(record[b"probability"]) == some.probability and record[b"decision"].decode() == some.decision

    stats: Any = redis_client.hgetall(labels.stats)
    assert int(stats[b"labels"]) == len(synth.raw)
    assert int(stats[b"fraud"]) == len(fraud)
    assert int(stats.get(b"unscored", 0)) == 0
    assert int(stats[b"delay_n"]) == len(synth.raw)
    quality = live_quality(RedisLabelStore(redis_client, labels, results), 0.5)
    assert quality.window == len(synth.raw)
    assert 0 < quality.pr_auc <= 1
