"""The broker -> Redis mirror on a real broker and Redis: exactly once, in order, crash-safe, paced."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest
import redis
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from core.settings import Settings
from infra.pipeline.streams import LABELS, RAW
from infra.services import ensure_topics, wait_until
from streams.keys import Keys
from streams.metrics import read_mirror_stats
from streams.mirror import Mirror, run_mirror
from tests.integration.streams.conftest import read, sentinel_env

pytestmark = pytest.mark.integration


@pytest.fixture
def mirror_settings(broker_settings: Settings, topic_suffix: str) -> Settings:
    return broker_settings.replace(
        streams={"mirror_group": f"mirror-{topic_suffix}", "session_timeout_ms": 2000, "mirror_batch": 50}
    )


def _produce(
    settings: Settings, topic: str, count: int, start: int = 0
) -> dict[int, list[tuple[int, bytes]]]:
    """Publish ``count`` messages; partition -> [(offset, value)] as the broker acknowledged them."""
    acked: dict[int, list[tuple[int, bytes]]] = {}

    def delivered(err: Any, msg: Any) -> None:
        assert err is None, err
        acked.setdefault(msg.partition(), []).append((msg.offset(), msg.value()))

    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap, "linger.ms": 5})
    for i in range(start, start + count):
        value = b'{"i": %d}' % i
        producer.produce(
            topic, value, key=str(i), headers={"published_ns": str(time.time_ns())}, on_delivery=delivered
        )
        producer.poll(0)
    assert producer.flush(30) == 0
    return acked


def _xlen(client: redis.Redis, key: str) -> int:
    length: Any = client.xlen(key)
    return int(length)


def _paused_flag(client: redis.Redis, keys: Keys, topic: str) -> Any:
    return client.hget(keys.mirror_stats, f"paused:{topic}")


def _by_partition(client: redis.Redis, stream_key: str) -> dict[int, list[tuple[int, bytes]]]:
    """partition -> [(offset, value)] in stream order, from each entry's origin."""
    seen: dict[int, list[tuple[int, bytes]]] = {}
    for _, payload, meta in read(client, stream_key):
        _, partition, offset = meta["origin"].rsplit("/", 2)
        seen.setdefault(int(partition), []).append((int(offset), payload or b""))
    return seen


def test_each_message_is_copied_once_with_its_headers(
    mirror_settings: Settings, redis_client: redis.Redis
) -> None:
    keys = Keys(mirror_settings.redis.key_prefix)
    sent = _produce(mirror_settings, mirror_settings.kafka.topic_transactions, 200)
    labels = _produce(mirror_settings, mirror_settings.kafka.topic_labels, 20)
    report = run_mirror(mirror_settings, burst=True, client=redis_client)
    assert report.copied[mirror_settings.kafka.topic_transactions] == 200
    assert _by_partition(redis_client, keys.stream(RAW)) == sent
    assert _by_partition(redis_client, keys.stream(LABELS)) == labels
    assert all(int(m["published_ns"]) > 0 for _, _, m in read(redis_client, keys.stream(RAW)))

    more = _produce(mirror_settings, mirror_settings.kafka.topic_transactions, 30, start=200)
    again = run_mirror(mirror_settings, burst=True, client=redis_client)  # resumes at the stored offsets
    assert again.copied[mirror_settings.kafka.topic_transactions] == 30
    assert again.skipped == 0
    expected = {p: sent.get(p, []) + more.get(p, []) for p in set(sent) | set(more)}
    assert _by_partition(redis_client, keys.stream(RAW)) == expected


def test_two_instances_split_the_partitions(mirror_settings: Settings, redis_client: redis.Redis) -> None:
    keys = Keys(mirror_settings.redis.key_prefix)
    stop = threading.Event()
    mirrors = [
        Mirror(mirror_settings, redis.Redis.from_url(mirror_settings.redis.url or ""), stop) for _ in range(2)
    ]
    threads = [threading.Thread(target=m.run) for m in mirrors]
    for thread in threads:
        thread.start()
    try:
        wait_until(
            lambda: all(m._assigned for m in mirrors) and sum(len(m._assigned) for m in mirrors) == 8,
            60,
            "split",
        )
        sent = _produce(mirror_settings, mirror_settings.kafka.topic_transactions, 300)
        wait_until(lambda: _xlen(redis_client, keys.stream(RAW)) >= 300, 60, "all copied")
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    topic = mirror_settings.kafka.topic_transactions
    assert all(m.report.copied[topic] > 0 for m in mirrors)
    assert sum(m.report.copied[topic] for m in mirrors) == 300
    assert _by_partition(redis_client, keys.stream(RAW)) == sent


def test_sigkill_while_copying_then_restart_copies_each_message_once_in_order(
    mirror_settings: Settings, redis_client: redis.Redis, spawn: Any
) -> None:
    keys = Keys(mirror_settings.redis.key_prefix)
    total = 3000
    sent = _produce(mirror_settings, mirror_settings.kafka.topic_transactions, total)
    env = sentinel_env(
        mirror_settings,
        SENTINEL_STREAMS_MIRROR_GROUP=mirror_settings.streams.mirror_group,
        SENTINEL_STREAMS_SESSION_TIMEOUT_MS="2000",
        SENTINEL_STREAMS_MIRROR_BATCH="1",  # one script call per message: slow enough to be caught mid-copy
    )
    first = spawn(["mirror"], env)
    wait_until(lambda: _xlen(redis_client, keys.stream(RAW)) >= 300, 60, "mirror copying")
    first.send_signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    at_kill = _xlen(redis_client, keys.stream(RAW))
    assert 300 <= at_kill < total

    second = spawn(["mirror", "--burst"], env)
    assert second.wait(90) == 0
    assert _xlen(redis_client, keys.stream(RAW)) == total
    assert _by_partition(redis_client, keys.stream(RAW)) == sent  # every partition: 0..n-1, in order


def test_backpressure_pauses_and_resumes(mirror_settings: Settings, redis_client: redis.Redis) -> None:
    settings = mirror_settings.replace(streams={"backlog_limit": 100, "mirror_batch": 10})
    keys = Keys(settings.redis.key_prefix)
    stream = keys.stream(RAW)
    redis_client.xgroup_create(stream, "consumer", id="0", mkstream=True)
    sent = _produce(settings, settings.kafka.topic_transactions, 400)
    stop = threading.Event()
    mirror = Mirror(settings, redis.Redis.from_url(settings.redis.url or ""), stop)
    thread = threading.Thread(target=mirror.run)
    thread.start()
    topic = settings.kafka.topic_transactions
    try:
        wait_until(lambda: topic in mirror.paused, 60, "mirror paused")
        at_pause = _xlen(redis_client, stream)
        assert 100 < at_pause <= 100 + 10 + 10  # limit + the batch that crossed it (+ one in flight)
        assert _paused_flag(redis_client, keys, topic) == b"1"
        consumed = 0
        deadline = time.monotonic() + 60
        while consumed < 400 and time.monotonic() < deadline:  # a consumer drains; the mirror resumes
            reply: Any = redis_client.xreadgroup("consumer", "c", {stream: ">"}, count=50, block=100)
            for _, entries in reply or []:
                redis_client.xack(stream, "consumer", *[e for e, _ in entries])
                consumed += len(entries)
        wait_until(lambda: topic not in mirror.paused, 30, "mirror resumed")  # the backlog is drained
    finally:
        stop.set()
        thread.join(30)
    assert consumed == 400
    assert mirror.report.pauses >= 1 and mirror.report.resumes >= 1
    assert mirror.report.copied[topic] == 400  # it resumed and copied the rest
    assert _paused_flag(redis_client, keys, topic) == b"0"
    stats = read_mirror_stats(redis_client, keys)
    assert stats[f"copied:{topic}"] == 400 and stats[f"pauses:{topic}"] == mirror.report.pauses
    assert _by_partition(redis_client, stream) == sent


def _recreate(settings: Settings, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap or ""})
    for future in admin.delete_topics([topic], operation_timeout=10).values():
        future.result(10)
    ensure_topics(settings.kafka.bootstrap or "", [topic], settings.kafka.partitions)


def test_a_recreated_topic_is_copied_from_its_start(
    mirror_settings: Settings, redis_client: redis.Redis
) -> None:
    """Stored offsets belong to one incarnation of a topic (e.g. an in-memory broker restarted)."""
    keys, topic = Keys(mirror_settings.redis.key_prefix), mirror_settings.kafka.topic_transactions
    first = _produce(mirror_settings, topic, 40)
    assert run_mirror(mirror_settings, burst=True, client=redis_client).copied[topic] == 40
    _recreate(mirror_settings, topic)
    second = _produce(mirror_settings, topic, 10, start=40)  # offsets 0.. again, below the stored ones
    assert run_mirror(mirror_settings, burst=True, client=redis_client).copied[topic] == 10
    copied = _by_partition(redis_client, keys.stream(RAW))
    expected = {p: first.get(p, []) + second.get(p, []) for p in set(first) | set(second)}
    assert copied == expected
