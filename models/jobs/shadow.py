"""Shadow judgement job: promote the challenger, or retire it, once it has been scored on enough labels.

    models.jobs.shadow.judge_challenger      (scheduled with the drift check)

The score stage scores the challenger in shadow beside the champion and the scores reach
``tx.features``. Once ``jobs.shadow_labels`` of those transactions have their label, both
models' live probabilities on exactly those transactions are compared (``models.promotion``):
promoted if the PR-AUC gain is beyond bootstrap noise and calibration is not worse, else the
challenger is retired with the reason. Both decisions go to the audit log with the numbers;
``sentinel models rollback`` undoes a promotion.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from models.jobs.context import JobContext
from models.promotion import compare
from models.window import UNKNOWN, arrived_labels, read_window

log = logging.getLogger(__name__)


def judge_challenger() -> dict[str, Any]:
    ctx = JobContext.current()
    cfg = ctx.settings.jobs
    pointer = ctx.registry.pointer()
    champion, challenger = pointer["champion"], pointer["challenger"]
    if challenger is None or champion is None:
        return {"skipped": "no challenger"}
    ctx.progress("reading shadow scores", challenger=challenger)
    window = read_window(ctx.redis, ctx.shards, ctx.settings.streams.history_max_entries)
    shadowed = np.array(
        [
            version == champion and shadow == challenger
            for version, shadow in zip(window.versions, window.challenger_versions, strict=True)
        ],
        dtype=bool,
    )
    scored = window.rows(shadowed)
    labels = arrived_labels(ctx.redis, ctx.shards, scored)
    known = labels != UNKNOWN
    if known.sum() < cfg.shadow_labels:
        log.info("challenger %s: %d of %d labels so far", challenger, known.sum(), cfg.shadow_labels)
        return {
            "waiting": f"{int(known.sum())} of {cfg.shadow_labels} labelled shadow scores "
            f"({len(scored)} shadow scores of {len(window)} recent transactions)"
        }
    verdict = compare(
        labels[known].astype(np.int_),
        scored.probs[known],
        scored.challenger_probs[known],
        rounds=cfg.bootstrap_rounds,
        margin=cfg.promotion_margin,
        ece_tolerance=cfg.ece_tolerance,
    )
    detail = {"champion": champion, "challenger": challenger, "shadow": "live", **verdict.as_detail()}
    if verdict.accepted:
        ctx.registry.promote(challenger)
        ctx.audit("model.promote", detail)
    else:
        ctx.registry.clear_challenger()
        ctx.audit("model.reject", detail)
    log.info(
        "challenger %s %s: %s", challenger, "promoted" if verdict.accepted else "retired", verdict.reason
    )
    return {"decision": "promoted" if verdict.accepted else "rejected", **detail}
