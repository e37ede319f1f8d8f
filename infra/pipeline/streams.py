"""The pipeline's logical stream names, one place (the runtime prefixes them: ``streams.keys``).

A leaf module: the table, the adapters, the gateway's composition root and the benchmarks
import these names and nothing heavier.
"""

from __future__ import annotations

from functions.served import FEATURES_STREAM

RAW = "tx.raw"  # Transaction rows, mirrored from the transactions topic
ENRICHED = "tx.enriched"  # TxEnriched
SCORED = "tx.scored"  # TxScored (history: no group reads it)
ALERTS = "alerts"  # AlertRaised (history)
LABELS = "labels"  # Label rows, mirrored from the labels topic (and analysts' verdicts)
LABELS_STORED = "labels.stored"  # LabelStored (history)
FEATURES = FEATURES_STREAM  # ScoredFeatures (history): what the model lifecycle jobs read
BENCH_IN = "bench.in"  # the noop function's input (benchmarks, smoke tests)
BENCH_OUT = "bench.out"
