"""The consumer loop on a real Redis: outputs with metadata, side effects, poison, retries, metrics."""

from __future__ import annotations

import json
import threading
from typing import Any

import msgspec
import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest

from core.settings import Settings
from infra.services import wait_until
from streams.events import PUBLISHED_NS
from streams.keys import Keys
from streams.metrics import StreamsCollector, read_function_stats
from tests.integration.streams.conftest import make_worker, pending_count, read
from tests.integration.streams.fns import item

pytestmark = pytest.mark.integration


def _add(client: redis.Redis, keys: Keys, stream: str, payload: bytes, **meta: str) -> str:
    fields: Any = {"d": payload, **meta}
    entry_id: Any = client.xadd(keys.stream(stream), fields)
    return str(entry_id.decode())


def test_outputs_carry_the_input_metadata(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    for n in range(25):
        _add(redis_client, keys, "items", item(n), published_ns=str(1_000 + n), origin=f"t/0/{n}")
    report = make_worker(rt_settings, redis_client, "double").run(burst=True)
    out = read(redis_client, keys.stream("doubled"))
    assert [msgspec.json.decode(p or b"")["n"] for _, p, _ in out] == [2 * n for n in range(25)]
    assert [m[PUBLISHED_NS] for _, _, m in out] == [str(1_000 + n) for n in range(25)]
    assert [m["origin"] for _, _, m in out] == [f"t/0/{n}" for n in range(25)]
    assert report.processed == 25
    assert pending_count(redis_client, keys.stream("items"), "double") == 0


def test_side_effects_commit_with_the_outputs(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    pubsub: Any = redis_client.pubsub()  # type: ignore[no-untyped-call]
    pubsub.subscribe(keys.key("alerts"))
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    for n in range(4):
        _add(redis_client, keys, "doubled", item(n, "x"))
    make_worker(rt_settings, redis_client, "tag").run(burst=True)
    assert redis_client.hgetall(keys.key("result", "3")) == {b"n": b"3", b"tag": b"x"}
    assert 0 < int(redis_client.ttl(keys.key("result", "3"))) <= 600  # type: ignore[arg-type]
    assert redis_client.hgetall(keys.key("kpi")) == {b"count": b"4", b"sum": b"3"}
    messages = [pubsub.get_message(timeout=5) for _ in range(4)]
    assert [m["data"] for m in messages if m] == [f"tagged {n}".encode() for n in range(4)]
    pubsub.close()


def test_poison_entries_are_dead_lettered_and_the_good_ones_processed(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    bad = {
        _add(redis_client, keys, "items", b"{not json"): "not JSON",
        _add(
            redis_client, keys, "items", b'{"n": "seven", "name": "x"}'
        ): "Expected `int`, got `str` - at `$.n`",
        _add(redis_client, keys, "items", b'{"n": 7}'): "missing required field `name`",
        _add(
            redis_client, keys, "items", b'{"n": 1, "name": "' + b"x" * 2000 + b'"}'
        ): "oversized: 2020 bytes > max_event_bytes 1000",
    }
    no_payload: Any = redis_client.xadd(keys.stream("items"), {"published_ns": "5"})
    bad[no_payload.decode()] = "missing payload field 'd'"
    good = [_add(redis_client, keys, "items", item(n)) for n in range(10)]
    redis_client.xadd(keys.stream("items"), {"d": b"[1,2"})  # one more after the good ones
    report = make_worker(rt_settings, redis_client, "double").run(burst=True)

    out = read(redis_client, keys.stream("doubled"))
    assert sorted(msgspec.json.decode(p or b"")["n"] for _, p, _ in out) == [2 * n for n in range(10)]
    letters = read(redis_client, keys.dead_letters)
    reasons = {m["entry_id"]: m["reason"] for _, _, m in letters}
    assert len(letters) == 6 == report.dead_lettered
    for entry_id, expected in bad.items():
        assert expected in reasons[entry_id], reasons[entry_id]
    assert all(m["function"] == "double" and m["stream"] == "items" for _, _, m in letters)
    assert json.loads(next(m["meta"] for _, _, m in letters if m["entry_id"] == no_payload.decode())) == {
        "published_ns": "5"
    }
    assert not set(good) & set(reasons)
    assert pending_count(redis_client, keys.stream("items"), "double") == 0


def test_failures_are_retried_then_dead_lettered(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    settings = rt_settings.replace(streams={"max_deliveries": 2, "claim_idle_ms": 100})
    ids = {}
    for n in range(12):
        name = {3: "bad", 7: "poison"}.get(n, "ok")
        ids[n] = _add(redis_client, keys, "flaky.in", item(n, name))
    report = make_worker(settings, redis_client, "flaky").run(burst=True)

    out = read(redis_client, keys.stream("flaky.out"))
    assert sorted(msgspec.json.decode(p or b"")["n"] for _, p, _ in out) == [
        n for n in range(12) if n not in (3, 7)
    ]
    reasons = {m["entry_id"]: m["reason"] for _, _, m in read(redis_client, keys.dead_letters)}
    assert set(reasons) == {ids[3], ids[7]}
    assert "rejected by flaky: item 7 is unacceptable" in reasons[ids[7]]
    assert "delivered 3 times (max 2)" in reasons[ids[3]]
    assert "downstream timeout for 3" in reasons[ids[3]]
    assert report.failed == 2  # two deliveries of item 3 failed before it was dead-lettered
    assert pending_count(redis_client, keys.stream("flaky.in"), "flaky") == 0


def test_stats_are_readable_and_exported(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    for n in range(30):
        _add(redis_client, keys, "items", item(n))
    _add(redis_client, keys, "items", b"nope")
    make_worker(rt_settings.replace(streams={"batch_size": 8}), redis_client, "double").run(burst=True)
    for n in range(5):  # unread entries are the group's lag
        _add(redis_client, keys, "items", item(n))

    stats = read_function_stats(redis_client, keys, "double", "items", "double")
    assert (stats.processed, stats.dead_lettered, stats.failed) == (30, 1, 0)
    assert stats.batches == 4
    assert stats.lag == 5 and stats.pending == 0
    assert stats.latency_p50_ms is not None and stats.latency_p99_ms is not None
    assert 0 < stats.latency_p50_ms <= stats.latency_p99_ms

    registry = CollectorRegistry()
    registry.register(StreamsCollector(redis_client, keys, [("double", "items", "double")]))
    text = generate_latest(registry).decode()
    assert 'sentinel_function_processed_total{function="double"} 30.0' in text
    assert 'sentinel_function_dead_lettered_total{function="double"} 1.0' in text
    assert 'sentinel_function_lag{function="double"} 5.0' in text
    assert 'sentinel_function_batch_latency_ms{function="double",quantile="0.99"}' in text


def test_events_wait_for_a_missing_dependency_and_are_never_dead_lettered_for_it(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    settings = rt_settings.replace(streams={"max_deliveries": 2, "claim_idle_ms": 500})
    ids = [_add(redis_client, keys, "needs.in", item(n)) for n in range(5)]
    stop = threading.Event()
    waiting = make_worker(settings, redis_client, "needs", stop=stop, consumer="a")
    other = make_worker(settings, redis_client, "needs", stop=stop, consumer="b")  # would reclaim them
    threads = [threading.Thread(target=w.run, daemon=True) for w in (waiting, other)]
    for thread in threads:
        thread.start()
    try:
        # longer than max_deliveries x claim_idle_ms: without the hold they would be dead letters
        wait_until(lambda: waiting.dependency.attempts + other.dependency.attempts >= 5, 30, "retries")
        assert not (waiting.ready and other.ready)
        assert redis_client.xlen(keys.dead_letters) == 0
        pending: Any = redis_client.xpending_range(keys.stream("needs.in"), "needs", "-", "+", 10)
        assert [p["times_delivered"] for p in pending] == [1] * 5  # the wait is not a delivery
        redis_client.set(keys.key("model"), "v1")  # the model arrives
        wait_until(lambda: len(read(redis_client, keys.stream("needs.out"))) == 5, 30, "all processed")
        wait_until(lambda: waiting.ready and other.ready, 30, "ready again")
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert [m.get("origin") for _, _, m in read(redis_client, keys.stream("needs.out"))] == [None] * 5
    assert redis_client.xlen(keys.dead_letters) == 0 and len(ids) == 5
    assert pending_count(redis_client, keys.stream("needs.in"), "needs") == 0


class _ArrivalsWhileWaiting(threading.Event):
    """A worker's stop event that is never set; the first time the worker waits on it, ``late``
    entries arrive in its input (as if published while it lingers)."""

    def __init__(self, client: redis.Redis, keys: Keys, late: list[bytes]) -> None:
        super().__init__()
        self.client, self.keys, self.late = client, keys, late

    def wait(self, timeout: float | None = None) -> bool:
        while self.late:
            _add(self.client, self.keys, "items", self.late.pop(0))
        return False


@pytest.mark.parametrize(("linger_ms", "processed"), [(50, 7), (0, 3)])
def test_a_short_batch_lingers_once_for_what_arrives_meanwhile(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys, linger_ms: int, processed: int
) -> None:
    """With batch_linger_ms, a read shorter than a batch waits once and takes the entries that
    arrived meanwhile into the same batch; without it, nothing waits (and here nothing arrives)."""
    for n in range(3):
        _add(redis_client, keys, "items", item(n))
    stop = _ArrivalsWhileWaiting(redis_client, keys, [item(n) for n in range(3, 7)])
    settings = rt_settings.replace(streams={"batch_linger_ms": linger_ms})
    report = make_worker(settings, redis_client, "double", stop=stop).run(burst=True)
    assert (report.batches, report.processed) == (1, processed)
    out = read(redis_client, keys.stream("doubled"))
    assert [msgspec.json.decode(p or b"")["n"] for _, p, _ in out] == [2 * n for n in range(processed)]
    assert pending_count(redis_client, keys.stream("items"), "double") == 0
