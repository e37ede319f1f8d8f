"""Label stage adapter: labels payloads -> ``functions.label`` on the Redis label store -> labels.stored.

``build(ctx)`` runs once per consumer: the label store gets the context's Redis client (the
score stage opens the same store, ``infra.pipeline.score.label_store``, to join labels waiting
for a score). The live quality is not computed here but where it is read (the gateway).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from data.schema import Label, decode_label
from functions.events import encode_event
from functions.label import LabelIn, label
from infra.pipeline.score import label_store
from infra.pipeline.streams import LABELS_STORED
from streams.events import Effect, Event
from streams.function import Context, Handler


class LabelCodec:
    """``labels`` payloads: ``{"TransactionID": 1, "isFraud": 0}``."""

    name = "json:Label"

    def decode(self, data: bytes) -> Label:
        return decode_label(data)


def build(ctx: Context) -> Handler:
    store = label_store(ctx)

    def handler(batch: Sequence[Event[Any]]) -> list[Effect]:
        stored = label([LabelIn(event.value, event.published_ns) for event in batch], store)
        return [
            event.emit(LABELS_STORED, encode_event(item)) for event, item in zip(batch, stored, strict=True)
        ]

    return handler
