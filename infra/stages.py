"""Composition of the pipeline's stages: each factory turns the runtime's Context into a handler.

The runtime calls ``build(ctx)`` once per consumer; here the Redis client of the context is
injected into the functions' ports (feature state, label store), so ``functions/`` never
opens a connection. Codecs validate at decode: a malformed event becomes a dead letter that
names the field (``InvalidRow`` is a ``PoisonMessage``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from core.errors import PoisonMessage
from data.schema import Label, Transaction, decode_label, decode_transaction
from functions.engine import FeatureEngine
from functions.enrich import enrich
from functions.events import FEATURE_SET, TxEnriched, decode_enriched, encode_enriched
from functions.features import FEATURE_NAMES
from functions.keys import FeatureKeys
from functions.label import LabelIn, label
from functions.label_store import RedisLabelStore
from functions.velocity import FeatureTtl, RedisFeatureState
from streams.events import Effect, Event, HashSet
from streams.function import Context, Handler

RAW = "tx.raw"
ENRICHED = "tx.enriched"
SCORED = "tx.scored"
ALERTS = "alerts"
LABELS = "labels"
LABELS_STORED = "labels.stored"

_encoder = msgspec.json.Encoder()


class TransactionCodec:
    """``tx.raw`` payloads: one joined IEEE-CIS row as JSON."""

    name = "json:Transaction"

    def decode(self, data: bytes) -> Transaction:
        return decode_transaction(data)


class LabelCodec:
    """``labels`` payloads: ``{"TransactionID": 1, "isFraud": 0}``."""

    name = "json:Label"

    def decode(self, data: bytes) -> Label:
        return decode_label(data)


class EnrichedCodec:
    """``tx.enriched`` payloads; a vector of another feature set (an old enrich) is a dead letter."""

    name = "json:TxEnriched"

    def decode(self, data: bytes) -> TxEnriched:
        try:
            event = decode_enriched(data)
        except msgspec.MsgspecError as exc:
            raise PoisonMessage(f"invalid TxEnriched: {exc}") from exc
        if event.feature_set != FEATURE_SET or len(event.features) != 4 * len(FEATURE_NAMES):
            raise PoisonMessage(
                f"feature_set {event.feature_set} with {len(event.features) // 4} features; "
                f"this scorer reads {FEATURE_SET} with {len(FEATURE_NAMES)}"
            )
        return event


def feature_engine(ctx: Context) -> FeatureEngine:
    """The online feature engine on the context's Redis, under the runtime's key prefix."""
    features = ctx.settings.features
    ttl = FeatureTtl(state_s=features.state_ttl_s, vector_s=features.vector_ttl_s)
    return FeatureEngine(RedisFeatureState(ctx.redis, FeatureKeys(ctx.keys.prefix), ttl))


def build_enrich(ctx: Context) -> Handler:
    """Enrich, and keep each transaction as received (``FeatureKeys.received``) for forensics."""
    engine = feature_engine(ctx)
    keys = FeatureKeys(ctx.keys.prefix)
    ttl_s = ctx.settings.features.result_ttl_s

    def handler(batch: Sequence[Event[Any]]) -> list[Effect]:
        effects: list[Effect] = []
        for event, tx in zip(batch, enrich([e.value for e in batch], engine), strict=True):
            effects.append(event.emit(ENRICHED, encode_enriched(tx)))
            effects.append(HashSet(keys.received(tx.TransactionID), {"raw": event.payload}, ttl_s))
        return effects

    return handler


def review_threshold(ctx: Context) -> float:
    """The live review threshold (Strategy page, in Redis), else the configured default."""
    stored: Any = ctx.redis.hget(FeatureKeys(ctx.keys.prefix).strategy, "review")
    return float(stored) if stored is not None else ctx.settings.strategy.review_threshold


def build_label(ctx: Context) -> Handler:
    keys = FeatureKeys(ctx.keys.prefix)
    store = RedisLabelStore(ctx.redis, keys, ctx.settings.features.label_ttl_s)

    def handler(batch: Sequence[Event[Any]]) -> list[Effect]:
        items = [LabelIn(event.value, event.published_ns) for event in batch]
        stored, quality = label(items, store, review_threshold(ctx))
        effects: list[Effect] = [
            event.emit(LABELS_STORED, _encoder.encode(item))
            for event, item in zip(batch, stored, strict=True)
        ]
        effects.append(HashSet(keys.label_quality, quality.as_mapping()))
        return effects

    return handler
