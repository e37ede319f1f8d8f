"""Enrich stage adapter: tx.raw payloads -> ``functions.enrich`` on Redis feature state -> tx.enriched.

``build(ctx)`` runs once per consumer: the Redis client of the context is injected into the
feature state port, so ``functions/`` never opens a connection. The codec validates at decode:
a malformed row becomes a dead letter that names the field (``InvalidRow`` is a ``PoisonMessage``).
Each transaction is also kept as received (``FeatureKeys.received``, as long as its result
record): the forensics record shows it whole, and a TransactionID received again is judged
against it (``functions.enrich.resends``): an exact re-send is a replay and produces nothing
(its first copy is scored and counted, once); another transaction under that id is a dead
letter, "TransactionID reused with different content". Two copies read at the same instant by
two enrich consumers are not caught here (each sees nothing received yet); copies of one
transaction share a card, hence a broker partition, and normally reach one batch in order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from data.schema import Transaction, decode_transaction, encode_transaction
from functions.engine import FeatureEngine
from functions.enrich import REUSED, Resend, enrich, resends
from functions.events import encode_event
from functions.keys import FeatureKeys
from functions.velocity import FeatureTtl, RedisFeatureState
from infra.pipeline.streams import ENRICHED
from streams.events import Effect, Event, HashSet, Reject
from streams.function import Context, Handler
from streams.keys import Shards

log = logging.getLogger(__name__)


class TransactionCodec:
    """``tx.raw`` payloads: one joined IEEE-CIS row as JSON."""

    name = "json:Transaction"

    def decode(self, data: bytes) -> Transaction:
        return decode_transaction(data)


def feature_keys(ctx: Context) -> FeatureKeys:
    """The feature-state keys of a consumer: card-local state under its shard's prefix; with
    sharded streams (a Redis Cluster), state that spans cards spread over every shard's hash tag
    (``FeatureKeys.spread``), so the consumers of all shards share one e-mail/device/address state."""
    shards = Shards.of(ctx.settings)
    spread = tuple(keys.prefix for keys in shards) if shards.tagged else ()
    return FeatureKeys(ctx.keys.prefix, spread)


def feature_engine(ctx: Context) -> FeatureEngine:
    """The online feature engine on the context's Redis, under the runtime's key prefix."""
    features = ctx.settings.features
    ttl = FeatureTtl(state_s=features.state_ttl_s, vector_s=features.vector_ttl_s)
    return FeatureEngine(RedisFeatureState(ctx.redis, feature_keys(ctx), ttl))


def build(ctx: Context) -> Handler:
    """Enrich, and keep each transaction as received (``FeatureKeys.received``) for forensics."""
    engine = feature_engine(ctx)
    keys = FeatureKeys(ctx.keys.prefix)
    ttl_s = ctx.settings.features.result_ttl_s  # as long as its result record

    def received(batch: Sequence[Event[Any]]) -> dict[int, Transaction]:
        raws: Any
        if len(batch) == 1:  # the gateway's one transaction: a pipeline's set-up costs more than it saves
            raws = [ctx.redis.hget(keys.received(batch[0].value.TransactionID), "raw")]
        else:
            pipe = ctx.redis.pipeline(transaction=False)
            for event in batch:
                pipe.hget(keys.received(event.value.TransactionID), "raw")
            raws = pipe.execute()
        found = zip(batch, raws, strict=True)
        return {event.value.TransactionID: decode_transaction(raw) for event, raw in found if raw}

    def handler(batch: Sequence[Event[Any]]) -> list[Effect]:
        effects: list[Effect] = []
        fresh: list[Event[Any]] = []
        kinds = resends([e.value for e in batch], received(batch))
        for event, kind in zip(batch, kinds, strict=True):
            if kind is Resend.NEW:
                fresh.append(event)
            elif kind is Resend.REUSED:
                effects.append(Reject(event, f"{REUSED} (TransactionID {event.value.TransactionID})"))
        if len(fresh) < len(batch):
            log.info("resent transactions: %d replays skipped, %d reused ids dead-lettered",
                     kinds.count(Resend.REPLAY), kinds.count(Resend.REUSED))  # fmt: skip
        for event, tx in zip(fresh, enrich([e.value for e in fresh], engine), strict=True):
            effects.append(event.emit(ENRICHED, encode_event(tx), tx))  # fused: score reads ``tx``
            # as received: the broker's message, the body of POST /v1/score; else its canonical JSON
            raw = event.payload or encode_transaction(event.value)
            effects.append(HashSet(keys.received(tx.TransactionID), {"raw": raw}, ttl_s))
        return effects

    return handler
