"""Retrain job: train a candidate on what is known now, compare it with the champion, make it challenger.

    models.jobs.retrain.retrain(trigger)      scheduled daily, on drift / a PR-AUC drop, or on demand

Training rows are the served feature vectors (``tx.features``: exactly what the scorers
computed, so no training/serving skew) of the latest ``jobs.retrain_max_rows`` scored
transactions, with the labels that have arrived. A transaction without a label is a
negative only once it is older (in event time) than ``jobs.label_horizon_s`` before the
newest one; younger unlabelled rows are left out, since their chargeback may still come.

One retrain at a time: a Redis lock (``ModelJobKeys.retrain_lock``) held for the job's
timeout; the retry of a killed retrain (RQ ``Retry``, same job id) takes its own lock over.
The registry version is written to a temporary directory and renamed when complete
(``Registry.new_version``), so a kill leaves no half version. The candidate is compared
with the champion on its test slice (the most recent labelled rows, out of time for it);
only a candidate that passes the guard (``models.promotion``) becomes the challenger, which
the score stage then scores in shadow until ``models.jobs.shadow`` judges it on live labels.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from rq import Retry

from functions.features import FEATURE_NAMES
from functions.score import model_matrix
from models.audit import now_iso
from models.dataset import TrainingSet
from models.jobs.context import JobContext
from models.jobs.queue import job_queue
from models.promotion import compare
from models.training import register, train
from models.window import UNKNOWN, arrived_labels, read_window

log = logging.getLogger(__name__)
FUNC = "models.jobs.retrain.retrain"
RETRIES = 2


def request_retrain(ctx: JobContext, trigger: str, *, force: bool = False) -> str | None:
    """Enqueue a retrain unless one ran within the cool-down (``force``: on demand); its job id."""
    cfg = ctx.settings.jobs
    last = ctx.text(ctx.keys.jobs_state, "last_retrain_at")
    if not force and last is not None and time.time() - float(last) < cfg.retrain_cooldown_s:
        log.info("retrain not requested (%s): cool-down since %s", trigger, last)
        return None
    ctx.redis.hset(ctx.keys.jobs_state, mapping={"last_retrain_at": time.time(), "last_trigger": trigger})
    job = job_queue(ctx.settings, ctx.queue).enqueue(
        FUNC,
        kwargs={"trigger": trigger},
        job_timeout=cfg.retrain_timeout_s,
        retry=Retry(max=RETRIES),
        description=f"retrain ({trigger})",
    )
    log.info("retrain requested job=%s trigger=%s", job.id, trigger)
    return str(job.id)


def _acquire(ctx: JobContext) -> str | None:
    """Take the retrain lock; None if it is held by another job (its id is in the lock)."""
    me = ctx.job.id if ctx.job is not None else "cli"
    ttl = ctx.settings.jobs.retrain_timeout_s + 60
    if ctx.redis.set(ctx.keys.retrain_lock, me, nx=True, ex=ttl):
        return me
    if ctx.text(ctx.keys.retrain_lock) == me:  # our own retry after a kill
        ctx.redis.expire(ctx.keys.retrain_lock, ttl)
        return me
    return None


_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def _release(ctx: JobContext, me: str) -> None:
    """Drop the lock if it is still ours (compare-and-delete in one script)."""
    ctx.redis.eval(_RELEASE, 1, ctx.keys.retrain_lock, me)


def training_rows(labels: np.ndarray, times: np.ndarray, horizon_s: int) -> tuple[np.ndarray, np.ndarray]:
    """(row mask, 0/1 labels) of what is known at the newest event time: arrived labels, and
    negatives for unlabelled rows older than the label horizon."""
    newest = int(times.max()) if len(times) else 0
    old = (newest - times) > horizon_s
    rows = (labels != UNKNOWN) | old
    return rows, np.where(labels == UNKNOWN, 0, labels).astype(np.int_)


def retrain(trigger: str = "on demand") -> dict[str, Any]:
    ctx = JobContext.current()
    me = _acquire(ctx)
    if me is None:
        reason = f"another retrain is running (job {ctx.text(ctx.keys.retrain_lock)})"
        log.info("retrain skipped: %s", reason)
        return {"skipped": reason}
    try:
        return _retrain(ctx, trigger)
    finally:
        _release(ctx, me)


def _retrain(ctx: JobContext, trigger: str) -> dict[str, Any]:
    cfg, started = ctx.settings.jobs, time.perf_counter()
    ctx.registry.sweep_partials(older_than_s=cfg.retrain_timeout_s + 60)
    ctx.progress("reading served features and arrived labels", max_rows=cfg.retrain_max_rows)
    window = read_window(ctx.redis, ctx.shards, cfg.retrain_max_rows)
    labels = arrived_labels(ctx.redis, ctx.shards, window)
    rows, y = training_rows(labels, window.times, cfg.label_horizon_s)
    if rows.sum() < cfg.retrain_min_rows or y[rows].sum() < 10:
        reason = f"{int(rows.sum())} labelled rows ({int(y[rows].sum())} fraud): too few to train on"
        log.warning("retrain skipped: %s", reason)
        ctx.audit("model.retrain", {"trigger": trigger, "outcome": "skipped", "reason": reason})
        return {"skipped": reason}
    data = TrainingSet.build(
        window.matrix[rows],
        FEATURE_NAMES,
        {
            "TransactionID": window.ids[rows],
            "TransactionDT": window.times[rows],
            "TransactionAmt": window.amounts[rows],
            "isFraud": y[rows],
        },
    )
    ctx.progress("training", rows=len(data.labels), fraud=int(data.labels.sum()))
    result = train(data, ctx.settings.models.algorithm, ctx.settings.models, progress=ctx.progress)
    ctx.progress("registering")
    version = register(ctx.registry, result, [])
    champion = ctx.registry.pointer()["champion"]
    detail: dict[str, Any] = {
        "trigger": trigger,
        "version": version,
        "train_rows": len(data.labels),
        "train_fraud": int(data.labels.sum()),
        "seconds": round(time.perf_counter() - started, 1),
    }
    if champion is None:
        ctx.registry.promote(version)
        ctx.audit("model.promote", {**detail, "reason": "no champion"})
        return {**detail, "decision": "promoted (no champion)"}
    ctx.progress("comparing with the champion", champion=champion)
    test = result.split.test
    current = ctx.registry.load(champion)
    champion_probs = current.predict_proba(model_matrix(data.matrix[test], current.feature_names))
    verdict = compare(
        data.labels[test],
        champion_probs,
        result.test_proba,
        rounds=cfg.bootstrap_rounds,
        margin=cfg.promotion_margin,
        ece_tolerance=cfg.ece_tolerance,
    )
    detail |= {"champion": champion, **verdict.as_detail(), "at": now_iso()}
    if verdict.accepted:
        ctx.registry.promote(version, "challenger")
        ctx.redis.hset(ctx.keys.jobs_state, "challenger_since", str(time.time()))
        ctx.audit("model.challenger", detail)
        decision = "challenger (shadow)"
    else:
        ctx.audit("model.reject", detail)
        decision = "rejected"
    log.info("retrain version=%s decision=%s reason=%s", version, decision, verdict.reason)
    return {**detail, "decision": decision}


def scheduled_retrain() -> dict[str, Any]:
    """The schedule's entry: enqueue a retrain (with its own timeout and Retry) whatever the cool-down."""
    ctx = JobContext.current()
    return {"retrain": request_retrain(ctx, "schedule", force=True)}
