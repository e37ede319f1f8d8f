"""The schedule table: every model lifecycle job, what it runs and when (one place).

    name     function                                every                      timeout
    drift    models.jobs.drift.drift_check           jobs.drift_interval_s      10 min
    shadow   models.jobs.shadow.judge_challenger     jobs.drift_interval_s      10 min
    retrain  models.jobs.retrain.scheduled_retrain   jobs.retrain_interval_s    1 min (it enqueues
                                                                                the retrain, with its
                                                                                own timeout and Retry)

``install`` puts the periodic entries into rq-scheduler (replacing earlier ones, so running
it twice schedules each job once); ``run_now`` enqueues one at once. Drift and a PR-AUC drop
enqueue retrains themselves (``models.jobs.retrain.request_retrain``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
from rq.job import Job

from core.settings import JobsSettings, Settings
from models.jobs.queue import job_queue, scheduler


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    func: str  # dotted path RQ imports
    description: str
    every_s: Callable[[JobsSettings], int]
    timeout_s: int = 600
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        return f"sentinel-schedule-{self.name}"


SCHEDULE: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        "drift",
        "models.jobs.drift.drift_check",
        "PSI per input and score, estimated vs realised performance; retrain on significant drift",
        lambda c: c.drift_interval_s,
    ),
    ScheduledJob(
        "shadow",
        "models.jobs.shadow.judge_challenger",
        "Promote or retire the challenger once it has enough labelled shadow scores",
        lambda c: c.drift_interval_s,
    ),
    ScheduledJob(
        "retrain",
        "models.jobs.retrain.scheduled_retrain",
        "Retrain on the labels known now; a better candidate becomes challenger",
        lambda c: c.retrain_interval_s,
        timeout_s=60,
    ),
)


def get(name: str) -> ScheduledJob:
    for job in SCHEDULE:
        if job.name == name:
            return job
    raise KeyError(f"no job {name!r} (known: {', '.join(j.name for j in SCHEDULE)})")


def install(settings: Settings, connection: redis.Redis) -> list[tuple[ScheduledJob, int]]:
    """(job, interval) of each entry now in rq-scheduler, first runs due at once."""
    sched = scheduler(settings, connection)
    installed = []
    for job in SCHEDULE:
        sched.cancel(job.job_id)
        every = job.every_s(settings.jobs)
        sched.schedule(
            scheduled_time=datetime.now(UTC).replace(tzinfo=None),  # rq-scheduler wants naive UTC
            func=job.func,
            kwargs=job.kwargs,
            interval=every,
            repeat=None,
            timeout=job.timeout_s,
            id=job.job_id,
            description=f"{job.name}: {job.description}",
            queue_name=settings.jobs.queue,
        )
        installed.append((job, every))
    return installed


def scheduled(settings: Settings, connection: redis.Redis) -> dict[str, datetime]:
    """Next run time of each installed table entry (naive UTC, as rq-scheduler keeps them)."""
    ids = {job.job_id: job.name for job in SCHEDULE}
    out = {}
    for entry, at in scheduler(settings, connection).get_jobs(with_times=True):
        if entry.id in ids:
            out[ids[entry.id]] = at
    return out


def run_now(settings: Settings, connection: redis.Redis, name: str) -> Job:
    job = get(name)
    return job_queue(settings, connection).enqueue(
        job.func, kwargs=job.kwargs, job_timeout=job.timeout_s, description=f"{job.name} (on demand)"
    )
