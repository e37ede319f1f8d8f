"""Composition of the score stage: champion model + live thresholds -> ``functions.score`` -> effects.

``build_score(ctx)`` runs once per consumer: it opens the model registry (the champion is
reloaded when a new one is promoted, no restart) and returns the handler. Per batch it reads
the live thresholds (one HMGET of the strategy hash the gateway writes; configured defaults
until someone changes them), scores, and returns the effects the runtime commits atomically
with the XACK of the inputs:

- ``tx.scored``: one ``TxScored`` per input (carrying the input's metadata, ``published_ns``);
- ``alerts``: one ``AlertRaised`` per review/decline, also published on the alerts channel;
- the result record per transaction (``FeatureKeys.result``, expiring): what the gateway,
  the label stage and forensics read;
- per-minute KPI counters (``FeatureKeys.kpi``): scored, per decision, amounts;
- ``tx.features``: one ``ScoredFeatures`` per input (the vector scored and the probabilities),
  a capped history the model lifecycle jobs read (drift, performance estimate, retraining).

No champion registered: the batch fails with ``TransientError`` (left pending, retried),
so transactions wait for a model rather than pass unscored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import msgspec

from functions.decision import AlertRaised, Thresholds, TxScored
from functions.events import TxEnriched
from functions.keys import FeatureKeys
from functions.score import score
from functions.served import FEATURES_STREAM, ScoredFeatures, encode_scored_features
from infra.errors import TransientError
from infra.stages import ALERTS, SCORED
from models.registry import ChampionSource, Registry
from streams.events import Effect, Event, HashIncr, HashSet, Publish
from streams.function import Context, Handler

log = logging.getLogger(__name__)

MODEL_CHECK_S = 2.0
KPI_TTL_S = 8 * 86_400
_encoder = msgspec.json.Encoder()


def live_thresholds(ctx: Context, keys: FeatureKeys) -> Thresholds:
    """The Strategy page's thresholds from Redis, else the configured defaults."""
    stored: Any = ctx.redis.hmget(keys.strategy, ["review", "decline"])
    review, decline = stored if stored else (None, None)
    default = ctx.settings.strategy
    return Thresholds(
        review=float(review) if review is not None else default.review_threshold,
        decline=float(decline) if decline is not None else default.decline_threshold,
    )


def result_record(tx: TxScored, published_ns: int | None) -> dict[str, str | int | float]:
    record: dict[str, str | int | float] = {
        "probability": tx.probability,
        "decision": tx.decision,
        "risk": tx.risk,
        "model_version": tx.model_version,
        "review_threshold": tx.review_threshold,
        "decline_threshold": tx.decline_threshold,
        "TransactionDT": tx.TransactionDT,
        "amount": tx.TransactionAmt,
        "card1": tx.card1,
        "uid": tx.uid,
        "reasons": _encoder.encode(tx.reasons).decode(),
        "scored_ns": time.time_ns(),
    }
    if published_ns is not None:
        record["published_ns"] = published_ns
    if tx.challenger is not None:
        record["challenger_version"] = tx.challenger.model_version
        record["challenger_probability"] = tx.challenger.probability
        record["challenger_decision"] = tx.challenger.decision
    return record


def score_effects(
    batch: Sequence[Event[TxEnriched]],
    scored: Sequence[TxScored],
    alerts: Sequence[AlertRaised],
    keys: FeatureKeys,
    result_ttl_s: int,
) -> list[Effect]:
    """The effects of a scored batch (see the module doc), in a stable order."""
    effects: list[Effect] = []
    kpi: dict[tuple[int, str], float] = {}
    minute = int(time.time() // 60)
    for event, tx in zip(batch, scored, strict=True):
        effects.append(event.emit(SCORED, _encoder.encode(tx)))
        effects.append(
            event.emit(FEATURES_STREAM, encode_scored_features(ScoredFeatures.of(event.value, tx)))
        )
        effects.append(
            HashSet(keys.result(tx.TransactionID), result_record(tx, event.published_ns), result_ttl_s)
        )
        for name, amount in (("scored", 1), (tx.decision, 1), (f"{tx.decision}_amount", tx.TransactionAmt)):
            kpi[(minute, name)] = kpi.get((minute, name), 0) + amount
    by_id = {event.value.TransactionID: event for event in batch}
    for alert in alerts:
        payload = _encoder.encode(alert)
        effects.append(by_id[alert.TransactionID].emit(ALERTS, payload))
        effects.append(Publish(keys.alerts_channel, payload))
    for (at, name), amount in kpi.items():
        effects.append(
            HashIncr(keys.kpi(at), name, amount if name.endswith("_amount") else int(amount), KPI_TTL_S)
        )
    return effects


def build_score(ctx: Context) -> Handler:
    keys = FeatureKeys(ctx.keys.prefix)
    models = ChampionSource(Registry(ctx.settings.models.registry_dir), MODEL_CHECK_S)
    result_ttl_s = ctx.settings.features.result_ttl_s

    def handler(batch: Sequence[Event[Any]]) -> list[Effect]:
        champion = models.champion()
        if champion is None:
            raise TransientError(f"no champion model in {ctx.settings.models.registry_dir}: train one first")
        scored, alerts = score(
            [event.value for event in batch], champion, live_thresholds(ctx, keys), models.challenger()
        )
        return score_effects(batch, scored, alerts, keys, result_ttl_s)

    return handler
