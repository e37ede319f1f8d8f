"""The real enrich stage with a gate after its feature state is written, before its commit
(loaded by subprocess workers via SENTINEL_STREAMS_PIPELINE): a worker killed at the gate has
applied its batch to the feature state and acknowledged nothing.

    tx.raw --enrich (gated)--> tx.enriched
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from infra.pipeline import enrich
from infra.pipeline.streams import ENRICHED, RAW
from streams.events import Effect, Event
from streams.function import Context, FunctionSpec, Handler, Pipeline


def gate_keys(ctx_keys: Any) -> tuple[str, str]:
    return ctx_keys.key("gate", "reached"), ctx_keys.key("gate", "open")


def build_gated_enrich(ctx: Context) -> Handler:
    handler = enrich.build(ctx)
    reached, opened = gate_keys(ctx.keys)

    def gated(batch: Sequence[Event[Any]]) -> Sequence[Effect]:
        effects = handler(batch)  # the batch is in the feature state now
        ctx.redis.incr(reached)
        deadline = time.monotonic() + 60
        while not ctx.redis.exists(opened) and time.monotonic() < deadline:
            time.sleep(0.01)
        return effects

    return gated


PIPELINE = Pipeline(
    [
        FunctionSpec(
            name="enrich",
            input=RAW,
            group="enrich",
            outputs=(ENRICHED,),
            build=build_gated_enrich,
            codec=enrich.TransactionCodec(),
        )
    ]
)
