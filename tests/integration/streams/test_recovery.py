"""Crashes, reclaims and shutdown: every input exactly once in the output, nothing left pending."""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from typing import Any

import pytest
import redis

from core.connect import redis_client as connect
from core.settings import Settings
from infra.services import wait_until
from streams.events import Effect, Event
from streams.function import Context, FunctionSpec, Handler, identity
from streams.keys import Keys
from streams.worker import Worker
from tests.integration.streams.conftest import pending_count, read, sentinel_env
from tests.integration.streams.fns import gate_keys, item

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("backend", ["redis", "cluster"])]


def _fill(client: redis.Redis, stream_key: str, count: int) -> dict[str, bytes]:
    """Append ``count`` distinct items; input entry id -> payload."""
    ids: dict[str, bytes] = {}
    for n in range(count):
        entry_id: Any = client.xadd(stream_key, {"d": item(n), "published_ns": str(n)})
        ids[entry_id.decode()] = item(n)
    return ids


def _assert_exactly_once(client: redis.Redis, inputs: dict[str, bytes], output_key: str) -> None:
    out = read(client, output_key)
    payloads = [p for _, p, _ in out]
    assert len(payloads) == len(set(payloads)) == len(inputs), "an input is missing or duplicated"
    assert sorted(p or b"" for p in payloads) == sorted(inputs.values())


def test_sigkill_mid_batch_then_a_new_worker(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys, spawn: Any
) -> None:
    source, sink = keys.stream("gated.in"), keys.stream("gated.out")
    inputs = _fill(redis_client, source, 35)
    reached, opened = gate_keys(keys)
    env = sentinel_env(rt_settings)

    first = spawn(["fn", "run", "gated"], env)
    wait_until(lambda: redis_client.exists(reached) == 1, 30, "first worker mid-batch")
    first.send_signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    assert redis_client.xlen(sink) == 0
    assert pending_count(redis_client, source, "gated") == 10  # the killed batch: read, never acked

    redis_client.set(opened, 1)
    second = spawn(["fn", "run", "gated", "--burst"], env)
    assert second.wait(60) == 0
    _assert_exactly_once(redis_client, inputs, sink)
    assert pending_count(redis_client, source, "gated") == 0
    assert sorted(int(m["published_ns"]) for _, _, m in read(redis_client, sink)) == list(range(35))


def test_sigterm_finishes_the_batch_and_exits_0(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys, spawn: Any
) -> None:
    source, sink = keys.stream("gated.in"), keys.stream("gated.out")
    inputs = _fill(redis_client, source, 10)
    reached, opened = gate_keys(keys)
    worker = spawn(["fn", "run", "gated"], sentinel_env(rt_settings))
    wait_until(lambda: redis_client.exists(reached) == 1, 30, "worker mid-batch")
    worker.send_signal(signal.SIGTERM)
    redis_client.set(opened, 1)
    assert worker.wait(30) == 0
    _assert_exactly_once(redis_client, inputs, sink)
    assert pending_count(redis_client, source, "gated") == 0


def test_a_dead_consumers_entries_are_reclaimed(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    source = keys.stream("in")
    inputs = _fill(redis_client, source, 20)
    spec = FunctionSpec(
        name="copy", input="in", group="g", outputs=("out",), build=identity("out"), batch_size=5
    )
    redis_client.xgroup_create(source, "g", id="0")
    taken: Any = redis_client.xreadgroup("g", "dead-consumer", {source: ">"}, count=7)  # then it "dies"
    assert len(taken[0][1]) == 7

    report = Worker([spec], redis_client, rt_settings, consumer="rescuer").run(burst=True)
    assert report.reclaimed == 7
    _assert_exactly_once(redis_client, inputs, keys.stream("out"))
    assert pending_count(redis_client, source, "g") == 0


class _Blocking:
    """A copy function whose first call waits until released (a slow, not dead, consumer)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls: list[list[str]] = []

    def build(self, ctx: Context) -> Handler:
        copy = identity("out")(ctx)

        def handler(batch: Sequence[Event[Any]]) -> Sequence[Effect]:
            self.calls.append([e.id for e in batch])
            if len(self.calls) == 1:
                self.entered.set()
                assert self.release.wait(30)
            return copy(batch)

        return handler


def _spec(build: Any, batch_size: int = 10) -> FunctionSpec:
    return FunctionSpec(
        name="copy", input="in", group="g", outputs=("out",), build=build, batch_size=batch_size
    )


def test_a_slow_consumer_finishing_after_a_reclaim_writes_nothing(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    source = keys.stream("in")
    inputs = _fill(redis_client, source, 10)
    slow_fn = _Blocking()
    slow = Worker(
        [_spec(slow_fn.build)],
        connect(rt_settings.redis.url or ""),
        rt_settings,
        consumer="slow",
    )
    reports: list[Any] = []
    thread = threading.Thread(target=lambda: reports.append(slow.run(burst=True)))
    thread.start()
    assert slow_fn.entered.wait(30)

    fast = Worker([_spec(identity("out"))], redis_client, rt_settings, consumer="fast").run(burst=True)
    assert fast.reclaimed == 10 and fast.processed == 10
    slow_fn.release.set()
    thread.join(30)
    assert reports and reports[0].processed == 0  # its commit found the entries owned by "fast"
    _assert_exactly_once(redis_client, inputs, keys.stream("out"))
    assert pending_count(redis_client, source, "g") == 0


def test_a_partly_reclaimed_batch_writes_only_what_it_still_owns(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    source = keys.stream("in")
    inputs = _fill(redis_client, source, 10)
    slow_fn = _Blocking()
    slow = Worker(
        [_spec(slow_fn.build)],
        connect(rt_settings.redis.url or ""),
        rt_settings,
        consumer="slow",
    )
    thread = threading.Thread(target=slow.run, kwargs={"burst": True})
    thread.start()
    assert slow_fn.entered.wait(30)
    stolen: list[Any] = list(inputs)[2:5]
    redis_client.xclaim(source, "g", "thief", min_idle_time=0, message_ids=stolen)

    slow_fn.release.set()
    wait_until(lambda: redis_client.xlen(keys.stream("out")) == 7, 30, "the slow consumer's 7 outputs")
    assert slow_fn.calls[1] == [i for i in inputs if i not in stolen]  # re-run on what it still owns
    assert sorted(p or b"" for _, p, _ in read(redis_client, keys.stream("out"))) == sorted(
        inputs[i] for i in inputs if i not in stolen
    )
    thread.join(30)  # its burst ends once the thief's entries were idle long enough to reclaim
    _assert_exactly_once(redis_client, inputs, keys.stream("out"))
    assert pending_count(redis_client, source, "g") == 0


def test_a_restart_under_the_same_name_resumes_its_own_pending_at_once(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys, spawn: Any
) -> None:
    settings = rt_settings.replace(streams={"claim_idle_ms": 600_000})  # no reclaim could help here
    source, sink = keys.stream("gated.in"), keys.stream("gated.out")
    inputs = _fill(redis_client, source, 25)
    reached, opened = gate_keys(keys)
    env = sentinel_env(settings)
    first = spawn(["fn", "run", "gated", "--consumer", "pod-a"], env)
    wait_until(lambda: redis_client.exists(reached) == 1, 30, "worker mid-batch")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    redis_client.set(opened, 1)
    again = spawn(["fn", "run", "gated", "--consumer", "pod-a", "--burst"], env)
    assert again.wait(60) == 0
    _assert_exactly_once(redis_client, inputs, sink)
    assert pending_count(redis_client, source, "gated") == 0


def test_a_pending_entry_deleted_from_the_stream_is_dead_lettered_not_dropped(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    source = keys.stream("in")
    inputs = _fill(redis_client, source, 6)
    redis_client.xgroup_create(source, "g", id="0")
    redis_client.xreadgroup("g", "dead-consumer", {source: ">"}, count=6)
    gone = list(inputs)[2]
    redis_client.xdel(source, gone)
    spec = FunctionSpec(name="copy", input="in", group="g", outputs=("out",), build=identity("out"))
    report = Worker([spec], redis_client, rt_settings, consumer="rescuer").run(burst=True)
    assert report.reclaimed == 5
    letters = read(redis_client, keys.dead_letters)
    assert [(m["entry_id"], m["reason"]) for _, _, m in letters] == [
        (gone, "entry deleted from the stream before it was processed")
    ]
    del inputs[gone]
    _assert_exactly_once(redis_client, inputs, keys.stream("out"))
    assert pending_count(redis_client, source, "g") == 0
