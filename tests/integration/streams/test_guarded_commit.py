"""Sync-path commit on a real Redis: all effects or none, at most once per guard, history capped,
indexes bounded."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from streams.commit import INDEX_CHUNK, GuardedCommitter, HistoryCap
from streams.events import Effect, Emit, HashIncr, HashSet, IndexAdd
from streams.keys import Keys

pytestmark = pytest.mark.integration


def test_applies_every_effect_once_per_guard(redis_client: redis.Redis, key_prefix: str) -> None:
    keys = Keys(key_prefix)
    committer = GuardedCommitter(redis_client, keys)
    guard = keys.key("result", "1")
    effects: list[Effect] = [
        Emit("out", b"payload", {"published_ns": "5"}),
        HashSet(guard, {"probability": 0.25, "decision": "review"}, ttl_s=60),
        HashIncr(keys.key("kpi"), "scored", 1),
        HashIncr(keys.key("kpi"), "review_amount", 12.5),
    ]
    assert committer.commit(guard, effects) is True
    assert committer.commit(guard, effects) is False  # the guard exists: nothing written again
    entries: Any = redis_client.xrange(keys.stream("out"))
    assert [fields for _, fields in entries] == [{b"d": b"payload", b"published_ns": b"5"}]
    assert redis_client.hgetall(guard) == {b"probability": b"0.25", b"decision": b"review"}
    ttl: Any = redis_client.ttl(guard)
    assert 0 < ttl <= 60
    assert redis_client.hgetall(keys.key("kpi")) == {b"scored": b"1", b"review_amount": b"12.5"}


def test_history_streams_are_capped(redis_client: redis.Redis, key_prefix: str) -> None:
    keys = Keys(key_prefix)
    committer = GuardedCommitter(redis_client, keys, {"history": HistoryCap(100)})
    for n in range(600):
        committer.commit(keys.key("result", str(n)), [Emit("history", b"x"), Emit("kept", b"y")])
    assert redis_client.xlen(keys.stream("kept")) == 600
    history: Any = redis_client.xlen(keys.stream("history"))
    assert 100 <= history < 300  # MAXLEN ~ trims whole nodes


@pytest.mark.parametrize("max_age_s", [0, 60])
def test_history_streams_drop_entries_older_than_their_age_cap(
    redis_client: redis.Redis, key_prefix: str, max_age_s: int
) -> None:
    keys = Keys(key_prefix)
    history = keys.stream("history")
    for n in range(1, 301):  # entries from 1970: older than any age cap
        redis_client.xadd(history, {"d": b"old"}, id=f"{n}-0")
    committer = GuardedCommitter(redis_client, keys, {"history": HistoryCap(10_000, max_age_s)})
    committer.commit(keys.key("result", "new"), [Emit("history", b"new")])
    length: Any = redis_client.xlen(history)
    if max_age_s == 0:
        assert length == 301  # bounded by length only
    else:
        assert length <= 100  # MINID ~ drops whole nodes (100 entries) of old entries
        newest: Any = redis_client.xrevrange(history, count=1)
        assert newest[0][1] == {b"d": b"new"}


def test_an_index_keeps_its_highest_scored_members_and_expires(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    committer = GuardedCommitter(redis_client, keys)
    index, other = keys.key("hist", "card", "7"), keys.key("hist", "card", "8")
    scores = [5, 1, 9, 3, 7, 2, 8, 6, 4, 10]  # out of order: the index keeps the highest, not the latest
    for n, score in enumerate(scores):
        effects: list[Effect] = [IndexAdd(index, 100 + n, score, keep=4, ttl_s=60)]
        if n == 0:  # two in one commit, and another index in the same one
            effects += [IndexAdd(index, 99, 0.5, keep=4, ttl_s=60), IndexAdd(other, "x", 1.0, keep=4)]
        committer.commit(keys.key("result", str(n)), effects)
    kept: Any = redis_client.zrevrange(index, 0, -1, withscores=True)
    assert kept == [(b"109", 10.0), (b"102", 9.0), (b"106", 8.0), (b"104", 7.0)]
    ttl: Any = redis_client.ttl(index)
    assert 0 < ttl <= 60
    assert redis_client.zrange(other, 0, -1) == [b"x"] and redis_client.ttl(other) == -1  # ttl 0: none


def _calls(client: redis.Redis, *commands: str) -> dict[str, int]:
    stats: Any = client.info("commandstats")
    return {c: int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in commands}


def test_a_commit_writes_each_index_once_however_many_members_it_adds(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    """A busy card's ten transactions in one batch: one ZADD, one trim and one EXPIRE of its index,
    and the same members kept as ten adds each trimmed would keep."""
    keys = Keys(key_prefix)
    committer = GuardedCommitter(redis_client, keys)
    index = keys.key("hist", "card", "9")
    effects: list[Effect] = [IndexAdd(index, 100 + n, float(n % 7), keep=4, ttl_s=60) for n in range(10)]
    commands = ("zadd", "zremrangebyrank", "expire")
    before = _calls(redis_client, *commands)
    assert committer.commit(keys.key("result", "busy"), effects) is True
    after = _calls(redis_client, *commands)
    assert {c: after[c] - before[c] for c in commands} == {"zadd": 1, "zremrangebyrank": 1, "expire": 1}
    kept: Any = redis_client.zrevrange(index, 0, -1, withscores=True)  # scores n % 7: 0..6, 0..2
    assert kept == [(b"106", 6.0), (b"105", 5.0), (b"104", 4.0), (b"103", 3.0)]
    assert 0 < redis_client.ttl(index) <= 60  # type: ignore[operator]


def test_an_index_of_more_members_than_one_zadd_takes_keeps_the_highest(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    """More members than Lua's ``unpack`` takes at once (about 8,000 values): written in chunks."""
    keys = Keys(key_prefix)
    index = keys.key("hist", "uid", "many")
    members = 4_100
    effects: list[Effect] = [IndexAdd(index, n, float(n), keep=INDEX_CHUNK + 1) for n in range(members)]
    assert GuardedCommitter(redis_client, keys).commit(keys.key("result", "many"), effects) is True
    kept: Any = redis_client.zrange(index, 0, -1)
    assert [int(m) for m in kept] == list(range(members - INDEX_CHUNK - 1, members))
