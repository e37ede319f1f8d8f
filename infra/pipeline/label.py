"""Label stage adapter: labels payloads -> ``functions.label`` on the Redis label store -> labels.stored.

``build(ctx)`` runs once per consumer: the label store gets the context's Redis client (the
score stage opens the same store, ``infra.pipeline.score.label_store``, to join labels waiting for a score); per
batch the live review threshold comes from the same store the score stage reads
(``infra.pipeline.score.threshold_store``), given the registry champion's own thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from data.schema import Label, decode_label
from functions.events import encode_event
from functions.keys import LabelKeys
from functions.label import LabelIn, label
from infra.pipeline.score import label_store, threshold_store
from infra.pipeline.streams import LABELS_STORED
from models.registry import Registry
from streams.events import Effect, Event, HashSet
from streams.function import Context, Handler


class LabelCodec:
    """``labels`` payloads: ``{"TransactionID": 1, "isFraud": 0}``."""

    name = "json:Label"

    def decode(self, data: bytes) -> Label:
        return decode_label(data)


def build(ctx: Context) -> Handler:
    keys = LabelKeys(ctx.keys.prefix)
    store = label_store(ctx)
    thresholds = threshold_store(ctx)
    registry = Registry(ctx.settings.models.registry_dir)

    def handler(batch: Sequence[Event[Any]]) -> list[Effect]:
        items = [LabelIn(event.value, event.published_ns) for event in batch]
        review = thresholds.live(registry.champion_thresholds()).thresholds.review
        stored, quality = label(items, store, review)
        effects: list[Effect] = [
            event.emit(LABELS_STORED, encode_event(item)) for event, item in zip(batch, stored, strict=True)
        ]
        effects.append(HashSet(keys.quality, quality.as_mapping()))
        return effects

    return handler
