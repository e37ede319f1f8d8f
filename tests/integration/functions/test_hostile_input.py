"""Hostile input through the real stages: every message is processed or dead-lettered, none stops them.

The five messages of issue 11 with good neighbours in one batch (enrich, label), then a
property test: arbitrary bytes, arbitrary JSON and corrupted transactions published to the real
broker, mirrored, enriched and labelled; each message ends as an output or a dead letter.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from confluent_kafka import Producer
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from core.settings import Settings
from data.schema import Label, encode_label, encode_transaction, transaction_to_dict
from infra.pipeline.streams import LABELS, RAW
from infra.pipeline.table import PIPELINE
from infra.services import wait_until
from streams.events import split_fields
from streams.keys import Keys, Shards
from streams.mirror import Mirror
from streams.worker import Worker
from tests.integration.functions.test_stages import transactions, xadd
from tests.poison import JSON_VALUES, POISON

pytestmark = pytest.mark.integration


def _entries(client: redis.Redis, key: str) -> list[tuple[bytes | None, dict[str, str]]]:
    rows: Any = client.xrange(key)
    return [split_fields(fields) for _, fields in rows]


def _run(settings: Settings, client: redis.Redis, name: str) -> None:
    Worker(PIPELINE.chain([name]), client, settings).run(burst=True)


def _pending(client: redis.Redis, key: str, group: str) -> int:
    summary: Any = client.xpending(key, group)
    return int(summary["pending"])


@pytest.mark.parametrize("case", list(POISON))
def test_enrich_dead_letters_a_poison_message_and_enriches_its_neighbours(
    case: str, on_backend: Settings, backend_client: redis.Redis
) -> None:
    """On one Redis, and on the cluster (shard 0 of 3; its e-mail/device/address state on all three)."""
    keys, client = Shards.of(on_backend).home, backend_client
    txs = transactions(20)
    for tx in txs[:10]:
        xadd(client, keys.stream(RAW), encode_transaction(tx), {})
    xadd(client, keys.stream(RAW), POISON[case], {"origin": "poison"})
    for tx in txs[10:]:
        xadd(client, keys.stream(RAW), encode_transaction(tx), {})

    _run(on_backend, client, "enrich")

    enriched = [
        json.loads(p or b"")["TransactionID"] for p, _ in _entries(client, keys.stream("tx.enriched"))
    ]
    assert enriched == [tx.TransactionID for tx in txs]
    letters = [meta for _, meta in _entries(client, keys.dead_letters)]
    assert len(letters) == 1 and json.loads(letters[0]["meta"]) == {"origin": "poison"}
    assert letters[0]["reason"] and "last error" not in letters[0]["reason"]
    assert _pending(client, keys.stream(RAW), "enrich") == 0


@pytest.mark.parametrize("case", list(POISON))
def test_label_dead_letters_a_poison_message_and_stores_its_neighbours(
    case: str, settings: Settings, redis_client: redis.Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    for tx_id in range(5):
        xadd(redis_client, keys.stream(LABELS), encode_label(Label(TransactionID=tx_id, isFraud=0)), {})
    xadd(redis_client, keys.stream(LABELS), POISON[case], {"origin": "poison"})
    for tx_id in range(5, 10):
        xadd(redis_client, keys.stream(LABELS), encode_label(Label(TransactionID=tx_id, isFraud=1)), {})

    _run(settings, redis_client, "label")

    stored = [
        json.loads(p or b"")["TransactionID"] for p, _ in _entries(redis_client, keys.stream("labels.stored"))
    ]
    assert stored == list(range(10))
    letters = [meta for _, meta in _entries(redis_client, keys.dead_letters)]
    assert len(letters) == 1 and json.loads(letters[0]["meta"]) == {"origin": "poison"}
    assert _pending(redis_client, keys.stream(LABELS), "label") == 0


# --- property: arbitrary messages through broker -> mirror -> enrich / label ---------------------

_COLUMNS = [*transaction_to_dict(transactions(1)[0]), "D1", "V1", "dist1", "C1", "id_01", "isFraud"]


@st.composite
def _corrupted_transaction(draw: st.DrawFn) -> bytes:
    row = transaction_to_dict(transactions(1, seed=draw(st.integers(0, 1000)))[0])
    row[draw(st.sampled_from(_COLUMNS))] = draw(JSON_VALUES)
    return json.dumps(row).encode()


@st.composite
def _corrupted_label(draw: st.DrawFn) -> bytes:
    row: dict[str, Any] = {
        "TransactionID": draw(st.integers(0, 10**6)),
        "isFraud": draw(st.sampled_from([0, 1])),
    }
    row[draw(st.sampled_from(["TransactionID", "isFraud", "extra"]))] = draw(JSON_VALUES)
    return json.dumps(row).encode()


_message = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(list(POISON.values())),
    _corrupted_transaction(),
    _corrupted_label(),
)


@dataclass
class LiveMirror:
    """Settings of a mirror running in the background, and how many messages were sent per topic."""

    settings: Settings
    producer: Producer
    sent: dict[str, int]


@pytest.fixture
def live_mirror(
    broker_settings: Settings, topic_suffix: str, redis_client: redis.Redis
) -> Iterator[LiveMirror]:
    """A mirror running for the whole test: one group join, not one per hypothesis example."""
    live = broker_settings.replace(
        streams={"mirror_group": f"mirror-{topic_suffix}", "session_timeout_ms": 2000, "claim_idle_ms": 100}
    )
    stop = threading.Event()
    thread = threading.Thread(target=Mirror(live, redis_client, stop).run, daemon=True)
    thread.start()
    producer = Producer({"bootstrap.servers": live.kafka.bootstrap, "linger.ms": 1})
    yield LiveMirror(live, producer, {live.kafka.topic_transactions: 0, live.kafka.topic_labels: 0})
    stop.set()
    thread.join(30)
    assert not thread.is_alive()


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(st.tuples(st.booleans(), _message), min_size=1, max_size=12))
def test_every_published_message_is_processed_or_dead_lettered(
    batch: list[tuple[bool, bytes]], live_mirror: LiveMirror, redis_client: redis.Redis
) -> None:
    settings, sent = live_mirror.settings, live_mirror.sent
    keys, kafka = Keys(settings.redis.key_prefix), settings.kafka
    producer = live_mirror.producer
    for to_labels, value in batch:
        topic = kafka.topic_labels if to_labels else kafka.topic_transactions
        producer.produce(topic, value)
        sent[topic] += 1
    assert producer.flush(30) == 0

    def mirrored() -> bool:
        stats: Any = redis_client.hgetall(keys.mirror_stats)
        return all(int(stats.get(f"copied:{topic}".encode(), 0)) >= n for topic, n in sent.items())

    wait_until(mirrored, timeout=30, what="the mirror to copy the batch")
    _run(settings, redis_client, "enrich")  # returns only if the consumer survived the batch
    _run(settings, redis_client, "label")

    dead = {
        (m["stream"], json.loads(m["meta"])["origin"]) for _, m in _entries(redis_client, keys.dead_letters)
    }
    done = {("tx.raw", m["origin"]) for _, m in _entries(redis_client, keys.stream("tx.enriched"))}
    done |= {("labels", m["origin"]) for _, m in _entries(redis_client, keys.stream("labels.stored"))}
    assert not dead & done  # nothing both processed and dead-lettered
    assert len(dead) + len(done) == sum(sent.values())  # every message is one or the other
    assert _pending(redis_client, keys.stream(RAW), "enrich") == 0
    assert _pending(redis_client, keys.stream(LABELS), "label") == 0


def test_implausible_values_are_dead_letters_naming_the_column(
    broker_settings: Settings, redis_client: redis.Redis, topic_suffix: str
) -> None:
    """Issue 11, item 7: every column bounded to what the data can hold (``data.schema.BOUNDS``);
    through the broker and the mirror, each bad row is a dead letter, its neighbours enriched."""
    settings = broker_settings.replace(streams={"mirror_group": f"mirror-{topic_suffix}"})
    keys = Keys(settings.redis.key_prefix)
    good, bad = transactions(6, seed=4), transactions(3, seed=5)
    implausible = [("C1", 1e308), ("D1", -1e308), ("TransactionDT", 10**10)]
    rows = [encode_transaction(tx) for tx in good[:3]]
    for tx, (column, value) in zip(bad, implausible, strict=True):
        rows.append(json.dumps({**transaction_to_dict(tx), "TransactionID": tx.TransactionID + 10**6,
                                column: value}).encode())  # fmt: skip
    rows += [encode_transaction(tx) for tx in good[3:]]
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap})
    for row in rows:
        producer.produce(settings.kafka.topic_transactions, row, key=b"1")  # one partition: in order
    assert producer.flush(30) == 0
    Mirror(settings, redis_client).run(burst=True)
    _run(settings, redis_client, "enrich")

    enriched = [
        json.loads(p or b"")["TransactionID"] for p, _ in _entries(redis_client, keys.stream("tx.enriched"))
    ]
    assert enriched == [tx.TransactionID for tx in good]
    reasons = [meta["reason"] for _, meta in _entries(redis_client, keys.dead_letters)]
    assert len(reasons) == 3
    for reason, (column, _) in zip(reasons, implausible, strict=True):
        assert f"column {column}=" in reason, reason
