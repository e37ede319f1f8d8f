"""The runtime's one-off door (streams.inline) on a real Redis: a chain run once, checked, committed once,
or dry-run on scratch copies that leave the live state as it was."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import redis

from core.settings import Settings
from streams.events import Effect, Emit, Event, HashSet
from streams.function import Context, FunctionSpec, Handler, Pipeline
from streams.inline import InlineChain, emitted
from streams.keys import Keys

pytestmark = pytest.mark.integration

_COUNT = "return redis.call('INCR', KEYS[1])"  # state a function changes through a script


def build_count(ctx: Context) -> Handler:
    """Counts its inputs in a Redis key (by script, as the feature state does) and records them."""
    script = ctx.redis.register_script(_COUNT)
    counter = ctx.keys.key("counter")

    def count(batch: Sequence[Event[Any]]) -> list[Effect]:
        effects: list[Effect] = []
        for event in batch:
            n = int(script(keys=[counter]))
            effects.append(event.emit("counted", b"%d" % n, n))
            effects.append(HashSet(ctx.keys.key("record", str(event.value)), {"n": n}))
        return effects

    return count


def build_stray(ctx: Context) -> Handler:
    def stray(batch: Sequence[Event[Any]]) -> list[Effect]:
        return [Emit("not.declared", b"x") for _ in batch]

    return stray


PIPELINE = Pipeline(
    [
        FunctionSpec(name="count", input="in", group="count", outputs=("counted",), build=build_count),
        FunctionSpec(name="stray", input="in2", group="stray", outputs=("out2",), build=build_stray),
    ]
)


def _chain(settings: Settings, client: redis.Redis, name: str) -> InlineChain:
    return InlineChain(PIPELINE, [name], client, settings, f"{settings.redis.key_prefix}scratch:test:")


def test_a_run_is_committed_once_per_guard_key(settings: Settings, redis_client: redis.Redis) -> None:
    chain, keys = _chain(settings, redis_client, "count"), Keys(settings.redis.key_prefix)
    effects = chain.run("e-1", "tx1", {"origin": "test"})
    assert emitted(effects, "counted") == [1]
    guard = keys.key("record", "tx1")
    assert chain.commit(guard, effects) is True
    assert chain.commit(guard, effects) is False  # the record exists: nothing written again
    assert redis_client.xlen(keys.stream("counted")) == 1


def test_a_dry_run_leaves_the_state_it_computed_on(settings: Settings, redis_client: redis.Redis) -> None:
    chain, keys = _chain(settings, redis_client, "count"), Keys(settings.redis.key_prefix)
    redis_client.set(keys.key("counter"), 41)
    assert emitted(chain.run("e-1", "tx1", {}, dry_run=True), "counted") == [42]
    assert emitted(chain.run("e-2", "tx2", {}, dry_run=True), "counted") == [42]
    assert redis_client.get(keys.key("counter")) == b"41"
    assert not list(redis_client.scan_iter(match=f"{settings.redis.key_prefix}scratch:*"))


def test_effects_get_the_workers_check(settings: Settings, redis_client: redis.Redis) -> None:
    with pytest.raises(TypeError, match=r"undeclared stream 'not\.declared'"):
        _chain(settings, redis_client, "stray").run("e-1", "x", {})
