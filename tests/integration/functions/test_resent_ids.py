"""Duplicate TransactionIDs on the stream path (issue 11, item 4), real broker, Redis and model.

Before: every copy of a re-published TransactionID was scored again, emitted to ``tx.scored``
and counted in the KPIs; a different transaction under a reused id was scored with the first
copy's stored features and overwrote its result. Now an exact re-send is a replay (scored and
counted once) and another transaction under a received id is a dead letter with the reason,
whether the copies arrive in one batch or long after.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
import redis
from confluent_kafka import Producer

from core.settings import Settings
from data.schema import decode_transaction
from functions.enrich import REUSED
from functions.events import decode_scored
from functions.keys import ScoreKeys
from functions.result import SCORED
from infra.pipeline.streams import SCORED as SCORED_STREAM
from infra.pipeline.table import PIPELINE
from streams.keys import Keys
from streams.mirror import run_mirror
from streams.worker import Worker
from tests.integration.functions.conftest import Dataset, stream_entries, train_champion

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N = 200


def _altered(raw: bytes) -> bytes:
    """The same TransactionID with another amount."""
    row: dict[str, Any] = msgspec.json.decode(raw)
    row["TransactionAmt"] = round(float(row["TransactionAmt"]) + 1.5, 3)
    return msgspec.json.encode(row)


def _publish(settings: Settings, rows: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap, "linger.ms": 5})
    for raw in rows:
        card = str(msgspec.json.decode(raw)["card1"]).encode()
        producer.produce(settings.kafka.topic_transactions, raw, key=card)
    assert producer.flush(30) == 0


def test_a_resent_transaction_is_scored_once_and_a_reused_id_is_a_dead_letter(
    broker_settings: Settings, redis_client: redis.Redis, synth: Dataset, tmp_path: Path, topic_suffix: str
) -> None:
    settings = broker_settings.replace(streams={"mirror_group": f"mirror-{topic_suffix}"})
    train_champion(settings, redis_client, tmp_path / "train", rows=3_000)
    keys, results = Keys(settings.redis.key_prefix), ScoreKeys(settings.redis.key_prefix)
    raw = synth.raw[:N]

    def run() -> None:
        run_mirror(settings, burst=True, client=redis_client)
        Worker(PIPELINE.chain(["enrich"]), redis_client, settings).run(burst=True)
        Worker(PIPELINE.chain(["score"]), redis_client, settings).run(burst=True)

    # copies in the same publish (mostly the same batch), then long after the first was scored
    _publish(settings, [*raw, *raw[0:10], *(_altered(r) for r in raw[10:15])])
    run()
    _publish(settings, [*raw[20:30], *(_altered(r) for r in raw[30:35])])
    run()

    copied: Any = redis_client.hget(keys.mirror_stats, f"copied:{settings.kafka.topic_transactions}")
    assert int(copied) == N + 30  # every copy reached the pipeline
    scored = [decode_scored(p or b"") for p, _ in stream_entries(redis_client, keys.stream(SCORED_STREAM))]
    ids = [tx.TransactionID for tx in synth.transactions[:N]]
    assert sorted(s.TransactionID for s in scored) == sorted(ids)  # each once
    kpis: Any = [redis_client.hget(k, SCORED) for k in redis_client.scan_iter(results.kpi(0)[:-1] + "*")]
    assert sum(int(v or 0) for v in kpis) == N  # counted once

    letters = stream_entries(redis_client, keys.dead_letters)
    assert len(letters) == 10
    for payload, meta in letters:
        assert REUSED in meta["reason"], meta
        assert decode_transaction(payload or b"").TransactionID in {*ids[10:15], *ids[30:35]}
    # the first copy's result stands
    for tx in synth.transactions[10:15] + synth.transactions[30:35]:
        amount: Any = redis_client.hget(results.result(tx.TransactionID), "amount")
        assert float(amount) == pytest.approx(tx.TransactionAmt)
