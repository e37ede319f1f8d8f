"""The commit script alone: ownership decides whether anything is written."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from streams.commit import Committer
from streams.events import Emit
from streams.groups import ensure_group
from streams.keys import Keys
from tests.integration.streams.conftest import pending_count, read

pytestmark = pytest.mark.integration


def _read_as(client: redis.Redis, key: str, consumer: str, count: int) -> list[str]:
    reply: Any = client.xreadgroup("g", consumer, {key: ">"}, count=count)
    return [entry_id.decode() for entry_id, _ in reply[0][1]]


def test_entries_owned_by_another_consumer_write_nothing(redis_client: redis.Redis, keys: Keys) -> None:
    source = keys.stream("in")
    for n in range(6):
        redis_client.xadd(source, {"d": b"%d" % n})
    ensure_group(redis_client, source, "g")
    mine = _read_as(redis_client, source, "me", 3)
    theirs = _read_as(redis_client, source, "other", 3)
    committer = Committer(redis_client, keys, "f", "in", "g", "me")

    result = committer.commit([mine[0], theirs[0]], [Emit("out", b"x")], counters={"processed": 2})
    assert not result.ok and result.owned == [mine[0]]
    assert not redis_client.exists(keys.stream("out"), keys.function_stats("f"))
    assert pending_count(redis_client, source, "g") == 6

    assert committer.commit(mine, [Emit("out", b"y", {"published_ns": "1"})], counters={"processed": 3}).ok
    assert [(p, m) for _, p, m in read(redis_client, keys.stream("out"))] == [(b"y", {"published_ns": "1"})]
    processed: Any = redis_client.hget(keys.function_stats("f"), "processed")
    assert processed == b"3"
    assert pending_count(redis_client, source, "g") == 3


def test_ownership_holds_when_many_of_our_entries_lie_in_the_batch_range(
    redis_client: redis.Redis, keys: Keys
) -> None:
    source = keys.stream("in")
    for n in range(300):
        redis_client.xadd(source, {"d": b"%d" % n})
    ensure_group(redis_client, source, "g")
    ids = _read_as(redis_client, source, "me", 300)
    redis_client.xclaim(source, "g", "other", min_idle_time=0, message_ids=[ids[150]])
    committer = Committer(redis_client, keys, "f", "in", "g", "me")

    # the range of these 3 ids holds 299 of our pending entries: more than one XPENDING page
    assert not committer.commit([ids[-1], ids[150], ids[0]], [Emit("out", b"x")]).ok
    assert committer.commit([ids[-1], ids[0]], [Emit("out", b"x")]).ok
    assert pending_count(redis_client, source, "g") == 298
