"""Composition: the pipeline table, input stream -> group -> function -> outputs, in one place.

``sentinel fn list`` shows this table and ``sentinel fn run NAME`` runs a row of it (the
runtime loads it from ``settings.streams.pipeline``). Stream names are logical; the runtime
prefixes them (``streams.keys``). The mirror feeds ``tx.raw`` and ``labels``. The factories
(``build``) live in ``infra.stages``; the functions themselves in ``functions/``.

    input          group   function  outputs
    tx.raw         enrich  enrich    tx.enriched            features (functions.enrich)
    tx.enriched    score   score     tx.scored, alerts,     champion model, thresholds (functions.score)
                                     tx.features
    labels         label   label     labels.stored          label store + live quality (functions.label)
    bench.in       noop    noop      bench.out              copies entries (benchmarks, smoke tests)

Outputs no group reads (``tx.scored``, ``alerts``, ``tx.features``, ``labels.stored``) are kept as a capped
history (``streams.function.history_caps``); the others are trimmed only below what
every group has consumed.

``enrich`` and ``score`` can run fused in one consumer (``sentinel fn run enrich+score``):
the outputs are the same, ``tx.enriched`` is then never written.
"""

from __future__ import annotations

from functions.served import FEATURES_STREAM
from infra import score_stage, stages
from infra.stages import ALERTS, ENRICHED, LABELS, LABELS_STORED, RAW, SCORED
from streams.function import FunctionSpec, Pipeline, identity

PIPELINE = Pipeline(
    [
        FunctionSpec(
            name="enrich",
            input=RAW,
            group="enrich",
            outputs=(ENRICHED,),
            build=stages.build_enrich,
            codec=stages.TransactionCodec(),
            description="Transaction -> TxEnriched: entity velocity features in event time (Redis state).",
        ),
        FunctionSpec(
            name="score",
            input=ENRICHED,
            group="score",
            outputs=(SCORED, ALERTS, FEATURES_STREAM),
            # records for the gateway, people and the model jobs: capped, no group reads them
            history=(SCORED, ALERTS, FEATURES_STREAM),
            build=score_stage.build_score,
            codec=stages.EnrichedCodec(),
            description="TxEnriched -> TxScored (+ AlertRaised): calibrated probability, decision, reasons.",
        ),
        FunctionSpec(
            name="label",
            input=LABELS,
            group="label",
            outputs=(LABELS_STORED,),
            history=(LABELS_STORED,),  # the latest labels are what retraining uses
            build=stages.build_label,
            codec=stages.LabelCodec(),
            description="Label -> label store joined with its score; live precision/recall/PR-AUC, delays.",
        ),
        FunctionSpec(
            name="noop",
            input="bench.in",
            group="noop",
            outputs=("bench.out",),
            build=identity("bench.out"),
            description="Copies each entry unchanged (benchmarks, smoke tests).",
        ),
    ]
)
