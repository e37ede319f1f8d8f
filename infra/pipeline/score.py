"""Score stage adapter: tx.enriched -> champion model + live thresholds -> ``functions.score`` -> effects.

``build(ctx)`` runs once per consumer: it opens the model registry (the champion is reloaded
when a new one is promoted, every ``models.reload_interval_s``, no restart) and returns the
handler. Per batch it reads the live thresholds (``functions.strategy``: the operators' strategy,
else the champion's own, else the configured defaults), scores, and returns the effects the
runtime commits atomically with the XACK of the inputs:

- ``tx.scored``: one ``TxScored`` per input (carrying the input's metadata, ``published_ns``);
- ``alerts``: one ``AlertRaised`` per review/decline, also published on the alerts channel;
- the result record per transaction (``functions.result``, expiring): what the gateway, the
  label stage and forensics read;
- the card's and the client's history indexes (``ScoreKeys.card_history`` / ``client_history``:
  the newest ``features.history_per_entity`` TransactionIDs by scoring time, expiring with the
  records): a card's or client's history is one index read, however much else was scored since;
- the per-minute KPI counters (``functions.result.kpi_increments``), the publish -> scored
  latency histogram (``functions.latency``) and the per-segment counters of the overview's
  breakdown (``functions.result.segment_increments``: product, card network and type, device);
- ``tx.features``: one ``ScoredFeatures`` per input (the vector scored and the probabilities),
  a capped history the model lifecycle jobs read (drift, performance estimate, retraining).

Before each batch it also joins the labels that arrived before their score and wait for it
(``functions.label_store``): those whose result record an earlier batch committed; when the
last look found none waiting, it looks again only after ``JOIN_IDLE_S``.

No champion registered, or one that cannot be loaded: the batch fails with ``DependencyDown``
and the runtime holds it (retried with backoff, never dead-lettered for it),
so transactions wait for a model rather than pass unscored.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import msgspec

from core.errors import DependencyDown, PoisonMessage
from functions import latency
from functions.events import FEATURE_SET, AlertRaised, TxEnriched, TxScored, decode_enriched, encode_event
from functions.features import FEATURE_NAMES
from functions.keys import LabelKeys, OperatorKeys, ScoreKeys
from functions.label_store import RedisLabelStore
from functions.result import kpi_increments, segment_increments, segment_of, to_hash
from functions.score import score
from functions.served import ScoredFeatures, encode_scored_features
from functions.strategy import RedisThresholds
from infra.pipeline.streams import ALERTS, FEATURES, SCORED
from models.registry import ChampionSource, Registry
from streams.events import Effect, Event, HashIncr, HashSet, IndexAdd, Publish
from streams.function import Context, Handler
from streams.keys import Shards

KPI_TTL_S = 8 * 86_400
JOIN_IDLE_S = 1.0
"""After a batch found no label waiting for its score, the next look is at most this much later."""


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


def threshold_store(ctx: Context) -> RedisThresholds:
    """The live thresholds on the context's Redis, with the configured defaults.

    Read where the gateway writes them (``OperatorKeys`` under ``Shards.common_prefix``: the
    configured prefix on one Redis), not under the worker's stream shard (``ctx.keys``,
    hash-tagged when streams are sharded): one strategy for every shard."""
    defaults = ctx.settings.strategy
    return RedisThresholds(
        ctx.redis,
        OperatorKeys(Shards.of(ctx.settings).common_prefix),
        (defaults.review_threshold, defaults.decline_threshold),
    )


def label_store(ctx: Context) -> RedisLabelStore:
    """The label store on the context's Redis, with the configured bounds (the label stage's,
    and the score stage's to join the labels waiting for a score)."""
    features = ctx.settings.features
    return RedisLabelStore(
        ctx.redis,
        LabelKeys(ctx.keys.prefix),
        ScoreKeys(ctx.keys.prefix),
        features.label_ttl_s,
        features.label_wait_s,
        features.label_waiting_max,
    )


def score_effects(
    batch: Sequence[Event[TxEnriched]],
    scored: Sequence[TxScored],
    alerts: Sequence[AlertRaised],
    keys: ScoreKeys,
    result_ttl_s: int,
    history_per_entity: int,
) -> list[Effect]:
    """The effects of a scored batch (see the module doc), in a stable order."""
    effects: list[Effect] = []
    segments = [segment_of(event.value) for event in batch]
    for event, tx, segment in zip(batch, scored, segments, strict=True):
        effects.append(event.emit(SCORED, encode_event(tx), tx))
        served = ScoredFeatures.of(event.value, tx)
        effects.append(event.emit(FEATURES, encode_scored_features(served)))
        scored_ns = time.time_ns()
        record = to_hash(tx, event.published_ns, scored_ns, segment)
        effects.append(HashSet(keys.result(tx.TransactionID), record, result_ttl_s))
        for index in (keys.card_history(tx.card1), keys.client_history(tx.uid)):
            effects.append(
                IndexAdd(index, tx.TransactionID, scored_ns // 1_000_000, history_per_entity, result_ttl_s)
            )
    by_id = {event.value.TransactionID: event for event in batch}
    for alert in alerts:
        payload = encode_event(alert)
        effects.append(by_id[alert.TransactionID].emit(ALERTS, payload))
        effects.append(Publish(keys.alerts_channel, payload))
    now_ns = time.time_ns()
    published = [event.published_ns for event in batch]
    counters = {
        **kpi_increments(scored),
        **latency.counts([(now_ns - p) / 1e6 for p in published if p is not None]),
    }
    minute = now_ns // 60_000_000_000
    effects += [HashIncr(keys.kpi(minute), name, n, KPI_TTL_S) for name, n in counters.items()]
    by_segment = segment_increments(list(zip(segments, scored, strict=True)))
    effects += [HashIncr(keys.segments(minute), name, n, KPI_TTL_S) for name, n in by_segment.items()]
    return effects


def build(ctx: Context) -> Handler:
    keys = ScoreKeys(ctx.keys.prefix)
    models_cfg = ctx.settings.models
    # One source per process and registry, shared by the inline door's live and dry builds.
    models = ctx.shared.setdefault(
        f"models:{models_cfg.registry_dir}",
        ChampionSource(Registry(models_cfg.registry_dir), models_cfg.reload_interval_s),
    )
    thresholds = threshold_store(ctx)
    result_ttl_s = ctx.settings.features.result_ttl_s
    history_per_entity = ctx.settings.features.history_per_entity
    labels = label_store(ctx)
    next_join = 0.0

    def handler(batch: Sequence[Event[Any]]) -> list[Effect]:
        nonlocal next_join
        if time.monotonic() >= next_join:  # labels that wait for the results of earlier batches
            labels.join_waiting()
            # none waiting: look again in a second, not before every batch (the sync endpoint's
            # batch is one transaction: a round trip per request otherwise)
            next_join = 0.0 if labels.found_waiting else time.monotonic() + JOIN_IDLE_S
        try:
            champion = models.champion()
        except Exception as exc:
            raise DependencyDown(
                f"the champion in {models_cfg.registry_dir} cannot be loaded: {exc!r}"
            ) from exc
        if champion is None:
            raise DependencyDown(f"no champion model in {models_cfg.registry_dir}: train one first")
        live = thresholds.live(champion.thresholds).thresholds
        values = [event.value for event in batch]
        scored, alerts = score(values, champion, live, models.challenger(), models_cfg.max_reasons)
        return score_effects(batch, scored, alerts, keys, result_ttl_s, history_per_entity)

    return handler
