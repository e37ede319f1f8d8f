"""Benchmarks: ``sentinel bench NAME --json FILE``, one subcommand per component.

The group starts whatever is not configured (Redis, broker; as ``sentinel services`` does)
when the subcommand calls ``click.get_current_context().obj()``, which returns live settings.
Add a benchmark by adding a row to ``BENCHES`` (imported only when run).
"""

from __future__ import annotations

import click

from core.settings import Settings, get_settings
from infra.cli import LazyGroup
from infra.services import running_services

# name -> (module:attribute of a click command, one-line help)
BENCHES: dict[str, tuple[str, str]] = {
    "data": ("infra.bench.data_path:data", "Generator rows/s, decode µs, simulator top and paced rates."),
    "streams": ("infra.bench.runtime:streams", "Events/s and per-hop latency: mirror and a no-op function."),
    "api": ("infra.bench.api:api", "POST /v1/score on a real gateway: fixed rates and saturation."),
    "e2e": ("infra.bench.e2e:e2e", "Broker -> mirror -> enrich -> score: events/s, publish->scored latency."),
    "lifecycle": (
        "infra.bench.lifecycle:lifecycle",
        "Retrain and drift-check time; performance estimate before labels vs realised, per shift.",
    ),
    "inference": (
        "infra.bench.inference:inference",
        "µs/transaction per algorithm, batch 1 and 500, with/without features.",
    ),
    "stage": (
        "infra.bench.stage_cost:stage",
        "Enrich alone in-process: worker CPU, Redis calls and CPU (or --callgrind instructions) per event.",
    ),
    "request": (
        "infra.bench.request_cost:request",
        "POST /v1/score through the app in-process: CPU µs or (--callgrind) instructions per request.",
    ),
    "ablation": (
        "infra.bench.ablation:ablation",
        "PR-AUC and recall at 1% FPR without sets of features (--drop 'device_*'), per seed.",
    ),
    "summary": ("infra.bench.summary:summary", "The performance goals against the e2e and api results."),
}


@click.group(cls=LazyGroup, table=BENCHES, section="Benchmarks")
@click.pass_context
def bench(ctx: click.Context) -> None:
    """Measure throughput and latency; print a table and write JSON (--json FILE)."""

    def live_settings() -> Settings:
        return ctx.with_resource(running_services(get_settings()))

    ctx.obj = live_settings
