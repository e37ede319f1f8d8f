"""HTTP DTOs of model monitoring: drift history rows, the performance view, a queued retrain.

The latest drift report itself is served as the job stores it (``models.monitoring.DriftReport``).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from models.drift import Status
from models.estimate import Performance
from models.monitoring import Bucket, Recalibration


class DriftSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One drift check in the history: overall status, the score's PSI and the inputs that moved most."""

    at: str
    model_version: str
    status: Status
    rows: int
    window_start_dt: int
    window_end_dt: int
    score_psi: float | None
    max_feature_psi: float
    top: dict[str, float]
    estimated_pr_auc: float | None
    realised_pr_auc: float | None


class PerformanceView(msgspec.Struct, frozen=True, kw_only=True):
    """Estimated (from calibrated probabilities) beside realised (from arrived labels), per bucket."""

    at: str
    model_version: str
    review_threshold: float
    decline_threshold: float
    estimated: Performance
    realised: Performance | None
    buckets: list[Bucket]
    pending: Performance | None = None  # the estimate over the rows whose label has not arrived
    calibration: Recalibration | None = None  # what the estimate's fraud chances come from


class RetrainRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] = "on demand"


class RetrainQueued(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    queue: str
