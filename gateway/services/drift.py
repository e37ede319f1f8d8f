"""Model monitoring for the API: drift reports, estimated vs realised performance, retrain requests.

The drift job (``models.jobs.drift``) stores its reports in a capped stream; this reads them.
A retrain request enqueues the retrain job (RQ, JSON-serialized) and is audit-logged.
"""

from __future__ import annotations

import redis

from core.settings import Settings
from functions.keys import ModelJobKeys
from gateway.problems import NotFound
from gateway.schemas.drift import DriftSummary, PerformanceView, RetrainQueued
from gateway.services.audit import AuditLog, now_iso
from models.jobs.context import JobContext
from models.jobs.drift import recent_reports
from models.monitoring import DriftReport
from models.registry import Registry


class DriftService:
    def __init__(
        self,
        settings: Settings,
        client: redis.Redis,
        registry: Registry,
        audit: AuditLog,
        jobs_client: redis.Redis
        | None = None,  # RQ's Redis when it is not ``client`` (SENTINEL_JOBS_REDIS_URL)
    ) -> None:
        self._settings = settings
        self._redis = client
        self._jobs = jobs_client
        self._keys = ModelJobKeys(settings.redis.key_prefix)
        self._registry = registry
        self._audit = audit

    def latest(self) -> DriftReport:
        reports = recent_reports(self._redis, self._keys.drift_reports, 1)
        if not reports:
            raise NotFound("no drift report yet: the drift job runs every few minutes once traffic is scored")
        return reports[0]

    def history(self, count: int) -> list[DriftSummary]:
        return [
            DriftSummary(
                at=r.at,
                model_version=r.model_version,
                status=r.status,
                rows=r.rows,
                window_start_dt=r.window_start_dt,
                window_end_dt=r.window_end_dt,
                score_psi=None if r.score is None else r.score.psi,
                max_feature_psi=r.features[0].psi if r.features else 0.0,
                top={d.name: d.psi for d in r.features if d.name in r.top},
                estimated_pr_auc=r.estimated.pr_auc,
                realised_pr_auc=None if r.realised is None else r.realised.pr_auc,
            )
            for r in recent_reports(self._redis, self._keys.drift_reports, count)
        ]

    def performance(self) -> PerformanceView:
        r = self.latest()
        return PerformanceView(
            at=r.at,
            model_version=r.model_version,
            review_threshold=r.review_threshold,
            decline_threshold=r.decline_threshold,
            estimated=r.estimated,
            realised=r.realised,
            buckets=r.buckets,
            pending=r.pending,
            calibration=r.calibration,
        )

    def retrain(self, actor: str, reason: str) -> RetrainQueued:
        from models.jobs.retrain import request_retrain  # imports training code: only when asked

        ctx = JobContext(self._settings, self._redis, self._keys, self._registry, None, self._jobs)
        job_id = request_retrain(ctx, f"on demand by {actor}: {reason}", force=True)
        pipe = self._redis.pipeline(transaction=True)
        self._audit.record(pipe, actor, "model.retrain", {"job": str(job_id), "reason": reason}, now_iso())
        pipe.execute()
        return RetrainQueued(job_id=str(job_id), queue=self._settings.jobs.queue)
