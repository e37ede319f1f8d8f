"""Labels that overtake their scores (issue 11, item 6): they wait and are joined when the score exists.

Labels are published and run through the label stage *before* their transactions are enriched
and scored (a backlog): none is counted, all wait. Then enrich + score (the real runtime, real
model) and more labels: every waiting label is joined exactly once with its score, none waits,
and the live quality equals a direct computation over the result records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis

from core.settings import Settings
from data.schema import Label, encode_label
from functions.events import LabelStored
from functions.keys import LabelKeys, ScoreKeys
from functions.label import Quality, live_quality, quality
from functions.label_store import RedisLabelStore
from infra.pipeline.streams import LABELS, RAW
from infra.pipeline.table import PIPELINE
from streams.events import PUBLISHED_NS, entry_fields
from streams.keys import Keys
from streams.worker import Worker
from tests.integration.functions.conftest import Dataset, stream_entries, train_champion

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 600  # transactions labelled before they are scored
EXTRA = 50  # labelled after they are scored
REVIEW = 0.3  # the review threshold the live quality is measured at


def xadd(client: redis.Redis, key: str, payload: bytes, published_ns: int) -> None:
    fields: Any = entry_fields(payload, {PUBLISHED_NS: str(published_ns)})
    client.xadd(key, fields)


def publish_labels(client: redis.Redis, keys: Keys, labels: list[tuple[int, int]], at_ns: int) -> None:
    for tx_id, y in labels:
        xadd(client, keys.stream(LABELS), encode_label(Label(TransactionID=tx_id, isFraud=y)), at_ns)  # type: ignore[arg-type]


def test_labels_published_before_their_scores_are_joined_once_when_scored(
    settings: Settings, redis_client: redis.Redis, synth: Dataset, tmp_path: Path
) -> None:
    settings = settings.replace(streams={"batch_size": 100})
    train_champion(settings, redis_client, tmp_path / "train")
    prefix = settings.redis.key_prefix
    keys, results, label_keys = Keys(prefix), ScoreKeys(prefix), LabelKeys(prefix)
    txs = synth.transactions[: N + EXTRA]
    truth = {tx.TransactionID: int(tx.isFraud or 0) for tx in txs}
    early, late = txs[:N], txs[N:]

    def run(*names: str) -> None:
        Worker(PIPELINE.chain(list(names)), redis_client, settings).run(burst=True)

    def stats() -> dict[bytes, float]:
        raw: Any = redis_client.hgetall(label_keys.stats)
        return {k: float(v) for k, v in raw.items()}

    def live() -> Quality:  # as the gateway's overview computes it
        return live_quality(RedisLabelStore(redis_client, label_keys, results), REVIEW)

    # 1. the labels of N transactions arrive (one of them twice) before any is scored
    t0 = 10**18
    publish_labels(redis_client, keys, [(tx.TransactionID, truth[tx.TransactionID]) for tx in early], t0)
    publish_labels(redis_client, keys, [(early[0].TransactionID, truth[early[0].TransactionID])], t0)
    run("label")
    assert redis_client.hlen(label_keys.waiting) == N
    assert stats().get(b"labels", 0) == 0 and stats().get(b"unscored", 0) == 0
    assert live().labels_waiting == N and live().window == 0
    stored = [
        msgspec.json.decode(p or b"", type=LabelStored)
        for p, _ in stream_entries(redis_client, keys.stream("labels.stored"))
    ]
    assert [s.probability for s in stored] == [None] * (N + 1)
    assert [s.duplicate for s in stored] == [False] * N + [True]

    # 2. the transactions are scored (the score stage joins, before each batch, what earlier ones scored)
    for i, raw in enumerate(synth.raw[: N + EXTRA]):
        xadd(redis_client, keys.stream(RAW), raw, t0 - 10**9 + i)
    run("enrich", "score")
    assert 0 < stats()[b"late"] <= N  # joined while scoring (a last batch's labels wait for the next one)

    # 3. more labels (of transactions already scored), and the first N again (redelivered)
    publish_labels(
        redis_client, keys, [(tx.TransactionID, truth[tx.TransactionID]) for tx in late], t0 + 10**9
    )
    publish_labels(redis_client, keys, [(tx.TransactionID, truth[tx.TransactionID]) for tx in early[:20]], t0)
    run("label")

    assert redis_client.hlen(label_keys.waiting) == 0 and redis_client.zcard(label_keys.waiting_age) == 0
    counts = stats()
    assert counts[b"labels"] == N + EXTRA  # each exactly once
    assert counts[b"late"] == N and counts.get(b"unscored", 0) == 0
    assert counts[b"fraud"] == sum(truth.values())
    assert counts[b"delay_n"] == N + EXTRA
    pairs = []
    for tx_id, y in truth.items():
        probability = float(redis_client.hget(results.result(tx_id), "probability") or "nan")  # type: ignore[arg-type]
        label: Any = redis_client.hgetall(label_keys.label(tx_id))
        assert int(label[b"isFraud"]) == y and float(label[b"probability"]) == probability
        # the segment (overview breakdown) travels from the result to the label
        assert label[b"segment"] == redis_client.hget(results.result(tx_id), "segment")
        assert label[b"segment"].count(b"|") == 3
        pairs.append((y, probability))
    measured = live()
    expected = quality(pairs, REVIEW)
    assert measured.labels_waiting == 0
    assert measured.window == expected.window == N + EXTRA
    assert measured.fraud == expected.fraud
    for name in ("precision", "recall", "pr_auc"):
        assert getattr(measured, name) == pytest.approx(getattr(expected, name), nan_ok=True)
