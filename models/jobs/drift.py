"""Drift check job: PSI of the champion's inputs and score over the recent window, estimated vs
realised performance, stored (capped), published live, and a retrain when it is warranted.

    models.jobs.drift.drift_check        (scheduled every ``jobs.drift_interval_s``)

A retrain is enqueued when the status is significant, or the estimated or realised PR-AUC is
below ``jobs.pr_auc_floor``, unless the last retrain started less than
``jobs.retrain_cooldown_s`` ago.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec

from core.connect import is_cluster
from models.audit import now_iso
from models.jobs.context import JobContext
from models.monitoring import DriftReport, check
from models.registry import RegistryError
from models.window import arrived_labels, read_window
from streams.events import PAYLOAD

log = logging.getLogger(__name__)
_decode = msgspec.json.Decoder(DriftReport).decode
_PAYLOAD = PAYLOAD.encode()


def drift_check() -> dict[str, Any]:
    """Run one drift check; the job result is a short summary (the report is stored)."""
    ctx = JobContext.current()
    cfg = ctx.settings.jobs
    started = time.perf_counter()
    champion = ctx.registry.pointer()["champion"]
    if champion is None:
        log.info("drift check skipped: no champion")
        return {"skipped": "no champion model"}
    ctx.progress("reading the window", size=cfg.drift_window)
    window = read_window(ctx.redis, ctx.shards, cfg.drift_window)
    if len(window) < cfg.drift_min_rows:
        log.info("drift check skipped: %d scored rows < %d", len(window), cfg.drift_min_rows)
        return {"skipped": f"{len(window)} scored transactions, fewer than {cfg.drift_min_rows}"}
    ctx.progress("computing PSI and performance", rows=len(window))
    kept = ctx.registry.read(champion, "features.json")["kept"]
    references = ctx.registry.read(champion, "reference_histograms.json")
    try:
        score_reference = ctx.registry.read(champion, "score_histogram.json")
    except RegistryError:
        score_reference = None  # a version trained before score references were stored
    labels = arrived_labels(ctx.redis, ctx.shards, window)
    report = check(
        window,
        labels,
        champion,
        kept,
        references,
        score_reference,
        ctx.thresholds(champion),
        cfg.performance_bucket_s,
        (cfg.recalibration_min_labels, cfg.recalibration_min_fraud),
        now_iso(),
    )
    report = msgspec.structs.replace(report, seconds=round(time.perf_counter() - started, 3))
    store(ctx, report)
    log.info(
        "drift check model_version=%s rows=%d status=%s top=%s seconds=%.2f",
        champion,
        report.rows,
        report.status,
        report.top[:5],
        report.seconds,
    )
    from models.jobs.retrain import request_retrain  # the retrain module imports training (heavy)

    trigger = retrain_trigger(report, cfg.pr_auc_floor)
    queued = request_retrain(ctx, trigger) if trigger else None
    return {
        "status": report.status,
        "rows": report.rows,
        "top": report.top,
        "seconds": report.seconds,
        "retrain": queued,
    }


def retrain_trigger(report: DriftReport, floor: float) -> str | None:
    """Why this report calls for a retrain, or None."""
    if report.status == "significant":
        return f"drift: significant ({', '.join(report.top[:3]) or 'score'})"
    for name, metrics in (("estimated", report.estimated), ("realised", report.realised)):
        if metrics is not None and metrics.pr_auc is not None and metrics.pr_auc < floor:
            return f"{name} PR-AUC {metrics.pr_auc:.3f} below the floor {floor:.3f}"
    return None


def store(ctx: JobContext, report: DriftReport) -> None:
    """Append to the capped report stream and publish on the live channel, in one transaction; on a
    Redis Cluster (whose transactions refuse PUBLISH) the append first, then the publish, so a
    report is never announced unstored (a crash between loses only the live notice)."""
    payload = msgspec.json.encode(report)
    maxlen = ctx.settings.jobs.drift_history
    if is_cluster(ctx.settings.redis.url or ""):
        ctx.redis.xadd(ctx.keys.drift_reports, {PAYLOAD: payload}, maxlen=maxlen)
        ctx.redis.publish(ctx.keys.drift_channel, payload)
        return
    pipe = ctx.redis.pipeline(transaction=True)
    pipe.xadd(ctx.keys.drift_reports, {PAYLOAD: payload}, maxlen=maxlen)
    pipe.publish(ctx.keys.drift_channel, payload)
    pipe.execute()


def recent_reports(client: Any, key: str, count: int) -> list[DriftReport]:
    """The newest ``count`` stored reports, newest first."""
    return [_decode(fields[_PAYLOAD]) for _, fields in client.xrevrange(key, count=count)]
