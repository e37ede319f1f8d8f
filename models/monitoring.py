"""Monitoring step: one drift report (PSI per input and score, estimated vs realised performance).

``check(...)`` is pure over a window and a champion's references; ``models.jobs.drift`` reads
the window from Redis, stores the report (capped stream), publishes it and decides whether
to retrain. The report is a msgspec Struct so the gateway serves it as it is stored.

The estimate before labels re-fits the calibration of the live scores on the window's arrived
labels first (as CBPE practice does) when the drift check finds the window moved (moderate or
significant) and enough labels have arrived: what a score means moves with the fraud rate and
with volume-dependent inputs (a growing volume dilutes fraud; a season), which made the
champion's own calibration miss on the growing synthetic world. On a stable window it keeps the
champion's calibration: frauds come in campaigns, so the arrived labels' fraud rate is noisy
(2.6 % in the labelled half of the lifecycle bench's steady window, 4.3 % in the next), and
re-fitting on them made the estimate worse there (precision at review off by 0.06-0.12 instead
of 0.01-0.05, PR-AUC by 0.06 instead of 0.02; README, "How far to trust the estimate"). Which
rows are flagged does not change: that is the live score against the live thresholds.
``pending`` is the estimate for exactly the rows whose label has not arrived, the ones the
later labels will judge.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

from functions.features import FEATURE_INDEX
from models.calibration import fit_platt
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


class Recalibration(msgspec.Struct, frozen=True, kw_only=True):
    """Where the estimate's per-row fraud chances come from."""

    method: str  # "platt": re-fitted on arrived labels; "champion": its own calibration
    labels: int  # arrived labels of the window it was re-fitted on (0: not re-fitted)
    fraud: int
    reason: str = ""  # why (empty in reports stored before the policy was recorded)


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
    # the estimate over exactly the window's rows whose label has not arrived (None: all arrived);
    # the labels that arrive later are its check
    pending: Performance | None = None
    calibration: Recalibration | None = None  # None: a report stored before re-calibration existed


def _drift(d: FeatureDrift) -> Drift:
    return Drift(**dataclasses.asdict(d))


def recalibrate(
    probs: np.ndarray, labels: np.ndarray, min_labels: int, min_fraud: int, status: Status
) -> tuple[np.ndarray, Recalibration]:
    """Each row's chance of fraud: ``probs`` re-calibrated on the arrived ``labels`` when the
    drift ``status`` is not stable, or ``probs`` as they are when it is stable or fewer than
    ``min_labels`` labels or ``min_fraud`` frauds have arrived.

    Platt (two parameters on the logit), not isotonic: frauds come in campaigns (a ring, a
    card-testing run), so a few hundred arrived frauds are a few dozen independent events, and
    an isotonic re-fit follows them step by step (on 10k labelled rows it was worse than no
    re-fit in half of our runs; Platt was better in all of them)."""
    known = labels != UNKNOWN
    count, fraud = int(known.sum()), int((labels == 1).sum())
    if status == "stable":
        reason = "the drift check says stable: the champion's own calibration"
        return probs, Recalibration(method="champion", labels=0, fraud=0, reason=reason)
    if count < min_labels or fraud < min_fraud:
        reason = f"{count} arrived labels ({fraud} fraud), fewer than {min_labels} ({min_fraud}) to re-fit"
        return probs, Recalibration(method="champion", labels=0, fraud=0, reason=reason)
    fitted = fit_platt(probs[known], labels[known].astype(np.int_))
    reason = f"the drift check says {status}: re-fitted on the arrived labels"
    return fitted.apply(probs), Recalibration(method=fitted.method, labels=count, fraud=fraud, reason=reason)


@dataclasses.dataclass(frozen=True)
class Estimates:
    estimated: Performance
    realised: Performance | None
    pending: Performance | None
    buckets: list[Bucket]
    calibration: Recalibration


def performance(
    window: Window,
    labels: np.ndarray,
    thresholds: tuple[float, float],
    bucket_s: int,
    min_labels: tuple[int, int],
    status: Status,
) -> Estimates:
    """Estimate and realised metrics over the whole window and per event-time bucket, and the
    estimate over the rows still without a label; ``min_labels``: (labels, frauds) to re-calibrate
    when the drift ``status`` is not stable."""
    review, decline = thresholds
    chances, calibration = recalibrate(window.probs, labels, *min_labels, status)

    def est(mask: np.ndarray) -> Performance:
        return estimate(window.probs[mask], window.amounts[mask], review, decline, chances[mask])

    def pair(mask: np.ndarray) -> tuple[Performance, Performance | None]:
        known = mask & (labels != UNKNOWN)
        if not known.any():
            return est(mask), None
        real = realised(labels[known], window.probs[known], window.amounts[known], review, decline)
        return est(mask), real

    everything = np.ones(len(window), dtype=bool)
    whole, real = pair(everything)
    unknown = labels == UNKNOWN
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
    return Estimates(whole, real, est(unknown) if unknown.any() else None, buckets, calibration)


def check(
    window: Window,
    labels: np.ndarray,
    version: str,
    kept: Sequence[str],
    references: Mapping[str, Mapping[str, Any]],
    score_reference: Mapping[str, Any] | None,
    thresholds: tuple[float, float],
    bucket_s: int,
    min_labels: tuple[int, int],
    at: str,
) -> DriftReport:
    """The drift report of ``window`` for the champion ``version`` (its inputs ``kept``);
    ``min_labels``: (labels, frauds) the window needs to re-calibrate the estimate on them (done
    only when the window is not stable)."""
    columns = [FEATURE_INDEX[name] for name in kept]
    drifts = feature_drift(references, window.matrix[:, columns], kept)
    score = None
    if score_reference is not None:
        score = feature_drift({SCORE: score_reference}, window.probs[:, None], [SCORE])[0]
    status = overall([*drifts, *([score] if score else [])])
    perf = performance(window, labels, thresholds, bucket_s, min_labels, status)
    return DriftReport(
        at=at,
        model_version=version,
        rows=len(window),
        window_start_dt=int(window.times[0]),
        window_end_dt=int(window.times[-1]),
        status=status,
        top=[d.name for d in drifts if d.watched and d.status != "stable"][:TOP],
        score=None if score is None else _drift(score),
        features=[_drift(d) for d in drifts],
        review_threshold=thresholds[0],
        decline_threshold=thresholds[1],
        estimated=perf.estimated,
        realised=perf.realised,
        buckets=perf.buckets,
        pending=perf.pending,
        calibration=perf.calibration,
    )
