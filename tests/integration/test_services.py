"""Real local services: Redis and broker round trips, topics, clean shutdown."""

from __future__ import annotations

import uuid
from pathlib import Path

import psutil
import pytest
import redis
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource

from core.settings import KafkaSettings, RedisSettings
from infra.services import ensure_topics, free_port, local_broker, local_redis, topic_config

pytestmark = pytest.mark.integration


def test_redis_round_trip(redis_client: redis.Redis, key_prefix: str) -> None:
    stream = f"{key_prefix}roundtrip"
    entry_id = redis_client.xadd(stream, {"payload": "hello"})
    entries = redis_client.xrange(stream)
    assert entries == [(entry_id, {b"payload": b"hello"})]


def test_broker_produce_consume_round_trip(kafka_bootstrap: str, topic_suffix: str) -> None:
    topic = f"roundtrip-{topic_suffix}"
    ensure_topics(kafka_bootstrap, [topic], partitions=2)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    sent = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(20)}
    for key, value in sent.items():
        producer.produce(topic, key=key, value=value, headers={"published_ns": b"1"})
    assert producer.flush(10) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"g-{topic_suffix}",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
        }
    )
    consumer.subscribe([topic])
    received: dict[bytes, bytes] = {}
    try:
        for _ in range(300):
            if len(received) == len(sent):
                break
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            received[message.key() or b""] = message.value() or b""
            assert dict(message.headers() or [])["published_ns"] == b"1"
    finally:
        consumer.close()
    assert received == sent


def test_ensure_topics_is_idempotent_and_sets_retention(kafka_bootstrap: str, topic_suffix: str) -> None:
    names = [f"a-{topic_suffix}", f"b-{topic_suffix}"]
    config = topic_config(KafkaSettings(retention_ms=3_600_000, retention_bytes=1 << 28))
    ensure_topics(kafka_bootstrap, names, partitions=4, config=config)
    ensure_topics(kafka_bootstrap, names, partitions=4, config=config)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    topics = admin.list_topics(timeout=5).topics
    assert {name: len(topics[name].partitions) for name in names} == {name: 4 for name in names}
    described = admin.describe_configs([ConfigResource("topic", names[0])])
    entries = next(iter(described.values())).result(10)
    assert {k: entries[k].value for k in config} == {
        "retention.ms": "3600000",
        "retention.bytes": str(1 << 28),
    }


def _children_named(fragment: str) -> set[int]:
    me = psutil.Process()
    return {p.pid for p in me.children(recursive=True) if fragment in " ".join(p.cmdline())}


def test_start_and_stop_leave_no_process_behind(tmp_path: Path) -> None:
    redis_port, broker_port = free_port(), free_port()
    with (
        local_redis(RedisSettings(port=redis_port), tmp_path / "redis") as url,
        local_broker(KafkaSettings(broker="tansu", port=broker_port), tmp_path / "broker") as bootstrap,
    ):
        started = _children_named(str(redis_port)) | _children_named(str(broker_port))
        assert len(started) >= 2
        key = uuid.uuid4().hex
        client = redis.Redis.from_url(url)
        client.set(key, "1")
        assert client.get(key) == b"1"
        client.close()
        assert bootstrap.endswith(str(broker_port))
    assert (tmp_path / "redis" / "appendonlydir").is_dir()  # the data directory was used
    for pid in started:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    listening = {c.laddr.port for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    assert redis_port not in listening
    assert broker_port not in listening


def test_embedded_redis_and_rq_dashboard_listen_on_loopback_only(tmp_path: Path) -> None:
    """Neither has authentication of its own: by default they are reachable from this host only."""
    with local_redis(RedisSettings(appendonly=False), tmp_path / "redis") as url:
        client = redis.Redis.from_url(url)
        try:
            bind = client.config_get("bind")
            assert isinstance(bind, dict) and bind["bind"] == "127.0.0.1"
        finally:
            client.close()
    procfile = (Path(__file__).parents[2] / "infra" / "Procfile").read_text()
    rq_dashboard = next(line for line in procfile.splitlines() if line.startswith("rqdashboard:"))
    assert "--bind 127.0.0.1 " in rq_dashboard
