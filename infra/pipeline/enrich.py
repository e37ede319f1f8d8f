"""Enrich stage adapter: tx.raw payloads -> ``functions.enrich`` on Redis feature state -> tx.enriched.

``build(ctx)`` runs once per consumer: the Redis client of the context is injected into the
feature state port, so ``functions/`` never opens a connection. The codec validates at decode:
a malformed row becomes a dead letter that names the field (``InvalidRow`` is a ``PoisonMessage``).
Each transaction is also kept as received (``FeatureKeys.received``, as long as its result
record): the forensics record shows it whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from data.schema import Transaction, decode_transaction, encode_transaction
from functions.engine import FeatureEngine
from functions.enrich import enrich
from functions.events import encode_event
from functions.keys import FeatureKeys
from functions.velocity import FeatureTtl, RedisFeatureState
from infra.pipeline.streams import ENRICHED
from streams.events import Effect, Event, HashSet
from streams.function import Context, Handler


class TransactionCodec:
    """``tx.raw`` payloads: one joined IEEE-CIS row as JSON."""

    name = "json:Transaction"

    def decode(self, data: bytes) -> Transaction:
        return decode_transaction(data)


def feature_engine(ctx: Context) -> FeatureEngine:
    """The online feature engine on the context's Redis, under the runtime's key prefix."""
    features = ctx.settings.features
    ttl = FeatureTtl(state_s=features.state_ttl_s, vector_s=features.vector_ttl_s)
    return FeatureEngine(RedisFeatureState(ctx.redis, FeatureKeys(ctx.keys.prefix), ttl))


def build(ctx: Context) -> Handler:
    """Enrich, and keep each transaction as received (``FeatureKeys.received``) for forensics."""
    engine = feature_engine(ctx)
    keys = FeatureKeys(ctx.keys.prefix)
    ttl_s = ctx.settings.features.result_ttl_s  # as long as its result record

    def handler(batch: Sequence[Event[Any]]) -> list[Effect]:
        effects: list[Effect] = []
        for event, tx in zip(batch, enrich([e.value for e in batch], engine), strict=True):
            effects.append(event.emit(ENRICHED, encode_event(tx)))
            # the gateway's inline door hands over the decoded row only: its canonical JSON then
            raw = event.payload or encode_transaction(event.value)
            effects.append(HashSet(keys.received(tx.TransactionID), {"raw": raw}, ttl_s))
        return effects

    return handler
