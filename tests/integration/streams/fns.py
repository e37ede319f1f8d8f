"""Test functions and their pipeline table (loaded by subprocess workers via SENTINEL_STREAMS_PIPELINE).

items --double--> doubled --tag--> tagged (+ result hash, counter, publish)
gated.in --gated--> gated.out   (blocks mid-batch until the test opens a gate key)
flaky.in --flaky--> flaky.out   (TransientError / PoisonMessage for marked items)
any.in --echo--> any.out        (any JSON value; copies it)
needs.in --needs--> needs.out   (DependencyDown until the test sets a "model" key)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgspec

from core.errors import DependencyDown, PoisonMessage, TransientError
from streams.events import Effect, Event, HashIncr, HashSet, JsonCodec, Publish
from streams.function import Context, FunctionSpec, Handler, Pipeline, identity, per_event


class Item(msgspec.Struct, frozen=True, kw_only=True):
    n: int
    name: str


ITEM = JsonCodec(Item)
ANY_JSON = JsonCodec(object)  # any JSON value: the decoder's own failures reach the runtime
_encode = msgspec.json.Encoder().encode


def item(n: int, name: str = "ok") -> bytes:
    return _encode(Item(n=n, name=name))


def build_double(ctx: Context) -> Handler:
    def double(values: list[Item]) -> list[bytes | None]:
        return [item(v.n * 2, v.name) if v.name != "drop" else None for v in values]

    return per_event(double, "doubled")


def build_tag(ctx: Context) -> Handler:
    def tag(batch: Sequence[Event[Any]]) -> list[Effect]:
        effects: list[Effect] = []
        for event in batch:
            value: Item = event.value
            effects.append(event.emit("tagged", _encode({"n": value.n, "tag": f"{value.name}-{value.n}"})))
            effects.append(
                HashSet(ctx.keys.key("result", str(value.n)), {"n": value.n, "tag": value.name}, ttl_s=600)
            )
            effects.append(HashIncr(ctx.keys.key("kpi"), "count", 1))
            effects.append(HashIncr(ctx.keys.key("kpi"), "sum", float(value.n) / 2, ttl_s=600))
            effects.append(Publish(ctx.keys.key("alerts"), f"tagged {value.n}"))
        return effects

    return tag


def gate_keys(ctx_keys: Any) -> tuple[str, str]:
    return ctx_keys.key("gate", "reached"), ctx_keys.key("gate", "open")


def build_gated(ctx: Context) -> Handler:
    copy = identity("gated.out")(ctx)
    reached, opened = gate_keys(ctx.keys)

    def gated(batch: Sequence[Event[Any]]) -> Sequence[Effect]:
        ctx.redis.incr(reached)
        deadline = time.monotonic() + 60
        while not ctx.redis.exists(opened) and time.monotonic() < deadline:
            time.sleep(0.01)
        return copy(batch)

    return gated


def build_flaky(ctx: Context) -> Handler:
    def flaky(values: list[Item]) -> list[bytes | None]:
        for v in values:
            if v.name == "bad":
                raise TransientError(f"downstream timeout for {v.n}")
            if v.name == "poison":
                raise PoisonMessage(f"item {v.n} is unacceptable")
        return [item(v.n) for v in values]

    return per_event(flaky, "flaky.out")


def build_needs(ctx: Context) -> Handler:
    copy = identity("needs.out")(ctx)

    def needs(batch: Sequence[Event[Any]]) -> Sequence[Effect]:
        if not ctx.redis.exists(ctx.keys.key("model")):
            raise DependencyDown("no model yet")
        return copy(batch)

    return needs


PIPELINE = Pipeline(
    [
        FunctionSpec(
            name="double", input="items", group="double", outputs=("doubled",), build=build_double, codec=ITEM
        ),
        FunctionSpec(
            name="tag",
            input="doubled",
            group="tag",
            outputs=("tagged",),
            build=build_tag,
            codec=ITEM,
            history=("tagged",),
        ),
        FunctionSpec(
            name="gated",
            input="gated.in",
            group="gated",
            outputs=("gated.out",),
            build=build_gated,
            batch_size=10,
        ),
        FunctionSpec(
            name="flaky",
            input="flaky.in",
            group="flaky",
            outputs=("flaky.out",),
            build=build_flaky,
            codec=ITEM,
        ),
        FunctionSpec(
            name="echo",
            input="any.in",
            group="echo",
            outputs=("any.out",),
            build=identity("any.out"),
            codec=ANY_JSON,
        ),
        FunctionSpec(
            name="needs", input="needs.in", group="needs", outputs=("needs.out",), build=build_needs
        ),
    ]
)
