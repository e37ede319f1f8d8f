"""Trimming below what every group consumed, fused == unfused outputs, dead-letter replay."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from core.settings import Settings
from infra.services import wait_until
from streams import dlq
from streams.groups import ensure_group, prune_consumers, trim_consumed
from streams.keys import Keys
from tests.integration.streams.conftest import make_worker, read
from tests.integration.streams.fns import item

pytestmark = pytest.mark.integration


def test_trimming_never_removes_an_unacknowledged_entry(redis_client: redis.Redis, keys: Keys) -> None:
    stream = keys.stream("trimmed")
    ids = [str(redis_client.xadd(stream, {"d": b"%d" % n}).decode()) for n in range(20)]  # type: ignore[union-attr]
    assert trim_consumed(redis_client, stream) == 0  # no group has consumed anything yet
    ensure_group(redis_client, stream, "a")
    ensure_group(redis_client, stream, "a")  # idempotent
    ensure_group(redis_client, stream, "b")
    redis_client.xreadgroup("a", "c1", {stream: ">"}, count=20)
    redis_client.xack(stream, "a", *ids[:10])
    redis_client.xreadgroup("b", "c2", {stream: ">"}, count=15)
    redis_client.xack(stream, "b", *ids[:5], ids[7])  # 5, 6, 8..14 still pending in b

    assert trim_consumed(redis_client, stream) == 5
    left = [entry_id for entry_id, _, _ in read(redis_client, stream)]
    assert left == ids[5:]
    pending: Any = redis_client.xpending_range(stream, "b", min="-", max="+", count=100)
    assert {p["message_id"].decode() for p in pending} <= set(left)

    redis_client.xack(stream, "b", *ids[5:15])
    assert trim_consumed(redis_client, stream) == 5  # a still has 10..19 pending
    assert [e for e, _, _ in read(redis_client, stream)] == ids[10:]
    redis_client.xack(stream, "a", *ids[10:])
    redis_client.xreadgroup("b", "c2", {stream: ">"}, count=20)
    redis_client.xack(stream, "b", *ids[15:])
    trim_consumed(redis_client, stream)
    assert redis_client.xlen(stream) == 0


def test_a_worker_trims_its_input_but_keeps_what_another_group_needs(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    stream = keys.stream("items")
    ids = [str(redis_client.xadd(stream, {"d": item(n)}).decode()) for n in range(10)]  # type: ignore[union-attr]
    ensure_group(redis_client, stream, "audit")
    redis_client.xreadgroup("audit", "x", {stream: ">"}, count=4)
    redis_client.xack(stream, "audit", *ids[:2])
    make_worker(rt_settings.replace(streams={"trim_interval_ms": 1}), redis_client, "double").run(burst=True)
    assert [e for e, _, _ in read(redis_client, stream)] == ids[2:]


def _run(settings: Settings, client: redis.Redis, fused: bool) -> tuple[list[Any], dict[bytes, bytes]]:
    keys = Keys(settings.redis.key_prefix)
    for n in range(40):
        name = "drop" if n % 9 == 0 else f"c{n % 3}"
        client.xadd(
            keys.stream("items"),
            {"d": item(n, name), "published_ns": str(10**18 + n), "origin": f"t/{n % 4}/{n}"},
        )
    client.xadd(keys.stream("items"), {"d": b"garbage"})
    if fused:
        make_worker(settings, client, "double", "tag").run(burst=True)
    else:
        make_worker(settings, client, "double").run(burst=True)
        make_worker(settings, client, "tag").run(burst=True)
    outputs = [(payload, meta) for _, payload, meta in read(client, keys.stream("tagged"))]
    kpi: Any = client.hgetall(keys.key("kpi"))
    return outputs, kpi


def test_fused_and_unfused_runs_give_identical_outputs(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    unfused = _run(rt_settings, redis_client, fused=False)
    other = rt_settings.replace(redis={"key_prefix": rt_settings.redis.key_prefix + "fused:"})
    fused = _run(other, redis_client, fused=True)
    assert len(unfused[0]) == 40 - 5  # items 0, 9, 18, 27, 36 are dropped by double
    assert fused == unfused
    assert not redis_client.exists(Keys(other.redis.key_prefix).stream("doubled"))  # skipped in memory
    assert (
        redis_client.xlen(keys.dead_letters)
        == redis_client.xlen(Keys(other.redis.key_prefix).dead_letters)
        == 1
    )


def test_dead_letters_can_be_listed_shown_and_replayed(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    redis_client.xadd(keys.stream("items"), {"d": b'{"n": 1}', "published_ns": "77"})
    redis_client.xadd(keys.stream("items"), {"d": b"oops"})
    make_worker(rt_settings, redis_client, "double").run(burst=True)
    letters = dlq.list_dead_letters(redis_client, keys)
    assert [d.reason[:8] for d in letters] == ["not JSON", "invalid "]
    missing_name = letters[1]
    assert dlq.get_dead_letter(redis_client, keys, missing_name.id) == missing_name
    assert missing_name.meta == {"published_ns": "77"} and missing_name.payload == b'{"n": 1}'

    new_ids = dlq.replay(redis_client, keys, [missing_name.id])
    assert dlq.count_dead_letters(redis_client, keys) == 1
    replayed = [r for r in read(redis_client, keys.stream("items")) if r[0] == new_ids[0]]
    assert replayed == [(new_ids[0], b'{"n": 1}', {"published_ns": "77"})]


def test_exited_consumers_with_nothing_pending_are_pruned(redis_client: redis.Redis, keys: Keys) -> None:
    stream = keys.stream("pruned")
    redis_client.xadd(stream, {"d": b"1"})
    done: Any = redis_client.xadd(stream, {"d": b"2"})
    ensure_group(redis_client, stream, "g")
    redis_client.xreadgroup("g", "holds-one", {stream: ">"}, count=1)
    redis_client.xreadgroup("g", "idle-empty", {stream: ">"}, count=1)
    redis_client.xack(stream, "g", done)
    assert prune_consumers(redis_client, stream, "g", idle_ms=10_000) == 0  # nobody idle that long
    wait_until(lambda: prune_consumers(redis_client, stream, "g", idle_ms=50) == 1, 10, "prune")
    consumers: Any = redis_client.xinfo_consumers(stream, "g")
    assert [c["name"] for c in consumers] == [b"holds-one"]  # the one with a pending entry stays


def test_history_outputs_are_capped_and_group_read_streams_are_not(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    settings = rt_settings.replace(streams={"history_max_entries": 100, "batch_size": 50})
    for n in range(1000):
        redis_client.xadd(keys.stream("items"), {"d": item(n)})
    make_worker(settings, redis_client, "double").run(burst=True)
    assert redis_client.xlen(keys.stream("doubled")) == 1000  # read by the tag group: never capped
    make_worker(settings, redis_client, "tag").run(burst=True)

    tagged = read(redis_client, keys.stream("tagged"))
    assert 100 <= len(tagged) < 300  # MAXLEN ~ trims whole nodes, so "about" 100
    assert tagged[-1][1] is not None and b'"n":1998' in tagged[-1][1]  # the newest entries are kept
