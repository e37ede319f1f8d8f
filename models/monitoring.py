"""Monitoring step: one drift report (PSI per input and score, estimated vs realised performance).

``check(...)`` is pure over a window and a champion's references; ``models.jobs.drift`` reads
the window from Redis, stores the report (capped stream), publishes it and decides whether
to retrain. The report is a msgspec Struct so the gateway serves it as it is stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

from functions.features import FEATURE_INDEX
from models.drift import SCORE, FeatureDrift, Status, feature_drift, overall
from models.estimate import Performance, estimate, realised
from models.window import UNKNOWN, Window

TOP = 10
"""Features named as the ones that moved most."""


class Drift(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    psi: float
    status: Status
    live_null_share: float
    reference_null_share: float
    watched: bool = True  # False: moves with history length by construction; never sets the status


class Bucket(msgspec.Struct, frozen=True, kw_only=True):
    """One event-time bucket: the estimate from probabilities beside the metrics of arrived labels."""

    start_dt: int  # TransactionDT of the bucket's start (seconds)
    end_dt: int
    estimated: Performance
    realised: Performance | None  # None: no label has arrived for the bucket yet
    labelled_share: float


class DriftReport(msgspec.Struct, frozen=True, kw_only=True):
    at: str  # wall time of the check (ISO 8601, UTC)
    model_version: str
    rows: int
    window_start_dt: int
    window_end_dt: int
    status: Status
    top: list[str]  # watched inputs that moved most (PSI at least moderate), largest first
    score: Drift | None  # None: the version stored no score reference
    features: list[Drift]  # every model input, largest PSI first
    review_threshold: float
    decline_threshold: float
    estimated: Performance
    realised: Performance | None
    buckets: list[Bucket]
    seconds: float = 0.0  # time the check took


def _drift(d: FeatureDrift) -> Drift:
    return Drift(**dataclasses.asdict(d))


def performance(
    window: Window, labels: np.ndarray, thresholds: tuple[float, float], bucket_s: int
) -> tuple[Performance, Performance | None, list[Bucket]]:
    """Estimate and realised metrics over the whole window and per event-time bucket."""
    review, decline = thresholds

    def pair(mask: np.ndarray) -> tuple[Performance, Performance | None]:
        known = mask & (labels != UNKNOWN)
        est = estimate(window.probs[mask], window.amounts[mask], review, decline)
        if not known.any():
            return est, None
        real = realised(labels[known], window.probs[known], window.amounts[known], review, decline)
        return est, real

    everything = np.ones(len(window), dtype=bool)
    est, real = pair(everything)
    buckets = []
    index = window.times // bucket_s
    for b in np.unique(index):
        mask = index == b
        b_est, b_real = pair(mask)
        share = float((labels[mask] != UNKNOWN).mean())
        buckets.append(
            Bucket(
                start_dt=int(b * bucket_s),
                end_dt=int((b + 1) * bucket_s),
                estimated=b_est,
                realised=b_real,
                labelled_share=share,
            )
        )
    return est, real, buckets


def check(
    window: Window,
    labels: np.ndarray,
    version: str,
    kept: Sequence[str],
    references: Mapping[str, Mapping[str, Any]],
    score_reference: Mapping[str, Any] | None,
    thresholds: tuple[float, float],
    bucket_s: int,
    at: str,
) -> DriftReport:
    """The drift report of ``window`` for the champion ``version`` (its inputs ``kept``)."""
    columns = [FEATURE_INDEX[name] for name in kept]
    drifts = feature_drift(references, window.matrix[:, columns], kept)
    score = None
    if score_reference is not None:
        score = feature_drift({SCORE: score_reference}, window.probs[:, None], [SCORE])[0]
    est, real, buckets = performance(window, labels, thresholds, bucket_s)
    return DriftReport(
        at=at,
        model_version=version,
        rows=len(window),
        window_start_dt=int(window.times[0]),
        window_end_dt=int(window.times[-1]),
        status=overall([*drifts, *([score] if score else [])]),
        top=[d.name for d in drifts if d.watched and d.status != "stable"][:TOP],
        score=None if score is None else _drift(score),
        features=[_drift(d) for d in drifts],
        review_threshold=thresholds[0],
        decline_threshold=thresholds[1],
        estimated=est,
        realised=real,
        buckets=buckets,
    )
