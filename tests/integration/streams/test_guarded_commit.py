"""Sync-path commit on a real Redis: all effects or none, at most once per guard, history capped."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from streams.commit import GuardedCommitter
from streams.events import Effect, Emit, HashIncr, HashSet
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
    committer = GuardedCommitter(redis_client, keys, {"history": 100})
    for n in range(600):
        committer.commit(keys.key("result", str(n)), [Emit("history", b"x"), Emit("kept", b"y")])
    assert redis_client.xlen(keys.stream("kept")) == 600
    history: Any = redis_client.xlen(keys.stream("history"))
    assert 100 <= history < 300  # MAXLEN ~ trims whole nodes
