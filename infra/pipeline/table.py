"""The pipeline table: broker topic -> stream -> group -> function -> outputs, the whole flow in one file.

``sentinel fn list`` shows this table and ``sentinel fn run NAME`` runs a row of it; ``sentinel
mirror`` copies the broker topics along ``mirror_routes`` (the runtime loads both from
``settings.streams.pipeline``). Stream names are logical (``infra.pipeline.streams``); the
runtime prefixes them (``streams.keys``). Each row's ``build`` and ``codec`` come from the
stage's adapter module (``infra.pipeline.enrich`` / ``score`` / ``label``); the functions
themselves live in ``functions/``.

    topic          input          group   function  outputs
    transactions   tx.raw         enrich  enrich    tx.enriched            features (functions.enrich)
                   tx.enriched    score   score     tx.scored, alerts,     champion model, thresholds (functions.score)
                                                            tx.features
    labels         labels         label   label     labels.stored          label store + live quality (functions.label)
                   alerts         notify  notify    (none)                 signed webhook per alert (functions.notify; optional)
                   bench.in       noop    noop      bench.out              copies entries (benchmarks, smoke tests; internal)

Outputs no group reads (``tx.scored``, ``alerts``, ``tx.features``, ``labels.stored``) are kept as a capped
history (``streams.function.history_caps``); the others are trimmed only below what
every group has consumed.

``enrich`` and ``score`` can run fused in one consumer (``sentinel fn run enrich+score``):
the outputs are the same, ``tx.enriched`` is then never written.
"""

from __future__ import annotations

from core.settings import KafkaSettings
from infra.pipeline import enrich, label, notify, score
from infra.pipeline.streams import (
    ALERTS,
    BENCH_IN,
    BENCH_OUT,
    ENRICHED,
    FEATURES,
    LABELS,
    LABELS_STORED,
    RAW,
    SCORED,
)
from streams.function import FunctionSpec, Pipeline, identity


def mirror_routes(kafka: KafkaSettings) -> dict[str, str]:
    """Broker topic -> the stream the mirror copies it into."""
    return {kafka.topic_transactions: RAW, kafka.topic_labels: LABELS}


PIPELINE = Pipeline(
    [
        FunctionSpec(
            name="enrich",
            input=RAW,
            group="enrich",
            outputs=(ENRICHED,),
            build=enrich.build,
            codec=enrich.TransactionCodec(),
            description="Transaction -> TxEnriched: entity velocity features in event time (Redis state).",
        ),
        FunctionSpec(
            name="score",
            input=ENRICHED,
            group="score",
            outputs=(SCORED, ALERTS, FEATURES),
            # records for the gateway, people and the model jobs: capped, no group reads them
            history=(SCORED, ALERTS, FEATURES),
            build=score.build,
            codec=score.EnrichedCodec(),
            description="TxEnriched -> TxScored (+ AlertRaised): calibrated probability, decision, reasons.",
        ),
        FunctionSpec(
            name="label",
            input=LABELS,
            group="label",
            outputs=(LABELS_STORED,),
            history=(LABELS_STORED,),  # the latest labels are what retraining uses
            build=label.build,
            codec=label.LabelCodec(),
            description="Label -> label store joined with its score; live precision/recall/PR-AUC, delays.",
        ),
        FunctionSpec(
            name="notify",
            input=ALERTS,
            group="notify",
            outputs=(),
            batch_size=10,  # each alert may wait out its retries: small batches, claims stay fresh
            build=notify.build,
            codec=notify.AlertCodec(),
            description="AlertRaised -> signed POST to the webhook (retried; dead letter when not delivered).",
            optional=True,  # runs only with SENTINEL_NOTIFY_WEBHOOK_URL; not part of readiness
        ),
        FunctionSpec(
            name="noop",
            input=BENCH_IN,
            group="noop",
            outputs=(BENCH_OUT,),
            build=identity(BENCH_OUT),
            description="Copies each entry unchanged (benchmarks, smoke tests).",
            internal=True,  # plumbing: not in `sentinel fn list` nor the overview's functions
        ),
    ],
    routes=mirror_routes,
)
