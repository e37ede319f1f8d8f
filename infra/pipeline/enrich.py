"""Enrich stage adapter: tx.raw payloads -> ``functions.enrich`` on Redis feature state -> tx.enriched.

``build(ctx)`` runs once per consumer: the Redis client of the context is injected into the
feature state port, so ``functions/`` never opens a connection. The codec validates at decode:
a malformed row becomes a dead letter that names the field (``InvalidRow`` is a ``PoisonMessage``).
"""

from __future__ import annotations

from data.schema import Transaction, decode_transaction
from functions.engine import FeatureEngine
from functions.enrich import enrich
from functions.events import encode_event
from functions.keys import FeatureKeys
from functions.velocity import FeatureTtl, RedisFeatureState
from infra.pipeline.streams import ENRICHED
from streams.function import Context, Handler, per_event


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
    engine = feature_engine(ctx)

    def run(batch: list[Transaction]) -> list[bytes | None]:
        return [encode_event(tx) for tx in enrich(batch, engine)]

    return per_event(run, ENRICHED)
