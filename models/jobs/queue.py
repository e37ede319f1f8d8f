"""Jobs plumbing: RQ queue, job and scheduler classes that store everything as JSON, never pickle.

RQ serializes a job's function name, arguments, result and meta with pickle unless told
otherwise. Every producer and consumer of Sentinel's jobs uses these classes instead:

- the worker:        ``rq worker -S rq.serializers.JSONSerializer -j models.jobs.queue.JsonJob
                      -q models.jobs.queue.JsonQueue <queue>``;
- rq-scheduler:      ``rqscheduler -j models.jobs.queue.JsonJob -q models.jobs.queue.JsonQueue``
                     (0.14 has no serializer option; it creates and fetches jobs through these);
- rq-dashboard:      ``rq-dashboard --json``;
- our own code:      ``job_queue(...)`` / ``scheduler(...)`` below.
"""

from __future__ import annotations

from typing import Any

import redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer
from rq_scheduler import Scheduler

from core.connect import is_cluster, redis_client
from core.errors import ConfigError
from core.settings import Settings

SERIALIZER = "rq.serializers.JSONSerializer"
JOB_CLASS = "models.jobs.queue.JsonJob"
QUEUE_CLASS = "models.jobs.queue.JsonQueue"


class JsonJob(Job):
    """An RQ job whose data, meta and result are JSON whatever the caller passes."""

    def __init__(self, id: str | None = None, connection: Any = None, serializer: Any = None) -> None:
        super().__init__(id, connection=connection, serializer=JSONSerializer)


class JsonQueue(Queue):
    """An RQ queue of ``JsonJob``s."""

    job_class = JsonJob

    def __init__(self, name: str = "default", connection: Any = None, **kwargs: Any) -> None:
        kwargs["serializer"] = JSONSerializer
        kwargs["job_class"] = JsonJob
        super().__init__(name, connection=connection, **kwargs)


def jobs_url(settings: Settings) -> str:
    """The Redis of the RQ queues and scheduler: ``SENTINEL_JOBS_REDIS_URL``, else SENTINEL_REDIS_URL
    (RQ needs one plain Redis: a cluster there must be paired with SENTINEL_JOBS_REDIS_URL)."""
    url = settings.jobs.redis_url or settings.redis.url
    if not url:
        raise RuntimeError("the model jobs need SENTINEL_REDIS_URL")
    if is_cluster(url):
        raise ConfigError(
            "RQ does not run on a Redis Cluster: set SENTINEL_JOBS_REDIS_URL to one plain Redis for the "
            "job queues (the jobs still read the pipeline's data on the cluster)"
        )
    return url


def connect(settings: Settings) -> redis.Redis:
    """A client of the Redis of the RQ queues and scheduler (:func:`jobs_url`)."""
    return redis_client(jobs_url(settings))


def connect_data(settings: Settings) -> redis.Redis:
    """A client of the pipeline's Redis (SENTINEL_REDIS_URL, one server or a cluster): what jobs read."""
    if not settings.redis.url:
        raise RuntimeError("the model jobs need SENTINEL_REDIS_URL")
    return redis_client(settings.redis.url)


def job_queue(settings: Settings, connection: redis.Redis) -> JsonQueue:
    return JsonQueue(settings.jobs.queue, connection=connection)


def scheduler(settings: Settings, connection: redis.Redis) -> Scheduler:
    return Scheduler(
        queue_name=settings.jobs.queue, connection=connection, job_class=JsonJob, queue_class=JsonQueue
    )
