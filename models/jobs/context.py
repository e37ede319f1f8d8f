"""What every job needs when RQ runs it: settings, the Redis connections, the registry, the audit log.

A job is called by the worker with its JSON arguments only; it builds the rest here, from the
worker's environment (``SENTINEL_*``) and the connection RQ gives the running job. Two Redis: the
pipeline's (``redis``: what jobs read and write of the pipeline's data) and the jobs' (``queue``:
RQ's, where a job enqueues another) are one server unless ``SENTINEL_JOBS_REDIS_URL`` is set (with a
Redis Cluster, which RQ cannot use).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis
from rq import get_current_job

from core.settings import Settings, get_settings
from functions.keys import ModelJobKeys, OperatorKeys
from functions.strategy import RedisThresholds
from models.audit import KEEP, audit_fields, now_iso
from models.jobs.queue import JsonJob, connect, connect_data
from models.registry import Registry
from streams.keys import Shards

log = logging.getLogger(__name__)
ACTOR = "model-jobs"
_Client = redis.Redis  # the field ``redis`` hides the module inside the class


@dataclass(frozen=True)
class JobContext:
    settings: Settings
    redis: redis.Redis
    keys: ModelJobKeys
    registry: Registry
    job: JsonJob | None  # None when called outside a worker (tests of the pure parts, the CLI)
    jobs_redis: _Client | None = None  # RQ's Redis when it is not ``redis`` (SENTINEL_JOBS_REDIS_URL)

    @property
    def operators(self) -> OperatorKeys:
        """The operators' keys, where the gateway writes them (``Shards.common_prefix``)."""
        return OperatorKeys(Shards.of(self.settings).common_prefix)

    @property
    def shards(self) -> Shards:
        """The stream shards whose scored windows and labels the jobs read (one on one Redis)."""
        return Shards.of(self.settings)

    @property
    def queue(self) -> _Client:
        """The Redis of the RQ queues."""
        return self.redis if self.jobs_redis is None else self.jobs_redis

    @classmethod
    def current(cls) -> JobContext:
        settings = get_settings()
        job = get_current_job()
        queue = job.connection if job is not None else connect(settings)
        separate = settings.jobs.redis_url is not None
        return cls(
            settings,
            connect_data(settings) if separate else queue,
            ModelJobKeys(settings.redis.key_prefix),
            Registry(settings.models.registry_dir),
            job if isinstance(job, JsonJob) else None,
            queue if separate else None,
        )

    def progress(self, step: str, **numbers: Any) -> None:
        """Record the job's current step in its meta (the RQ dashboard shows it) and the log."""
        log.info("job step=%s %s", step, numbers)
        if self.job is not None:
            self.job.meta["progress"] = {"step": step, "at": now_iso(), **numbers}
            self.job.save_meta()  # type: ignore[no-untyped-call]

    def audit(self, action: str, detail: dict[str, Any], actor: str = ACTOR) -> None:
        """Append to the audit stream (the gateway's ``/v1/audit`` reads it), values as text."""
        fields = audit_fields(actor, action, detail, now_iso())
        self.redis.xadd(self.operators.audit, fields, maxlen=KEEP, approximate=True)  # type: ignore[arg-type]
        log.info("audit action=%s detail=%s", action, detail)

    def text(self, key: str, field: str | None = None) -> str | None:
        """A string value (or hash field) as text, None if absent."""
        raw: Any = self.redis.get(key) if field is None else self.redis.hget(key, field)
        return None if raw is None else str(raw.decode())

    def thresholds(self, champion: str) -> tuple[float, float]:
        """The live (review, decline) the score stage applies: the operators' strategy, else the
        champion's own, else the configured defaults (``functions.strategy``)."""
        own = self.registry.read(champion, "thresholds.json")
        defaults = self.settings.strategy
        store = RedisThresholds(
            self.redis,
            self.operators,
            (defaults.review_threshold, defaults.decline_threshold),
        )
        live = store.live((float(own["review"]), float(own["decline"]))).thresholds
        return live.review, live.decline
