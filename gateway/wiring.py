"""Gateway wiring: what the composition root tells the gateway about the pipeline it serves.

The gateway scores with the pipeline's own functions (the same ``build(ctx)`` factories the
stream workers run, fused like ``sentinel fn run enrich+score``), so it needs the table and
the names of the chain, of its output streams and of the labels stream analysts' verdicts
join; ``infra.gateway`` supplies them.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.function import Pipeline


@dataclass(frozen=True)
class Wiring:
    pipeline: Pipeline
    score_chain: tuple[str, ...]  # e.g. ("enrich", "score"): raw transaction -> scored
    scored_stream: str  # logical stream of scored transactions (TxScored)
    alerts_stream: str  # logical stream of alerts (AlertRaised)
    labels_stream: str  # logical stream the label stage reads (a resolved alert becomes a Label)
