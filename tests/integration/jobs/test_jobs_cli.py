"""``sentinel jobs list | run NAME | schedule`` and ``sentinel drift show`` as a user runs them:
separate processes against real Redis, the job run by a real `rq worker --burst`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from core.settings import Settings
from models.jobs.queue import job_queue
from models.jobs.schedule import SCHEDULE
from models.jobs.staging import settings_env
from models.registry import Registry
from tests.integration.jobs.conftest import WINDOW, Traffic, run_worker, serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _argv(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("sentinel")), *args]


def _env(settings: Settings) -> dict[str, str]:
    return {**settings_env(settings), "COLUMNS": "250"}  # tables unwrapped, as on a wide terminal


def _cli(settings: Settings, *args: str) -> str:
    done = subprocess.run(_argv(*args), env=_env(settings), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_jobs_and_drift_commands(
    traffic: Traffic, registry: Registry, job_settings: Settings, redis_client: redis.Redis
) -> None:
    settings = job_settings
    assert "not scheduled" in _cli(settings, "jobs", "list")
    scheduled = _cli(settings, "jobs", "schedule")
    for job in SCHEDULE:
        assert f"scheduled {job.name}: {job.func} every" in scheduled
    listed = _cli(settings, "jobs", "list")
    assert "not scheduled" not in listed and all(job.func in listed for job in SCHEDULE)

    serve(redis_client, settings, traffic.window, registry.load(registry.pointer()["champion"]))
    waiting = subprocess.Popen(
        _argv("jobs", "run", "drift", "--wait", "600"),
        env=_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    queue = job_queue(settings, redis_client)
    deadline = time.monotonic() + 120
    while len(queue) == 0:  # the scheduled entries wait in rq-scheduler, not on the queue
        assert waiting.poll() is None and time.monotonic() < deadline, waiting.communicate()
        time.sleep(0.05)
    run_worker(settings)
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert "enqueued drift: job" in out and "finished: " in out, out
    result = json.loads(out.split("finished: ", 1)[1])
    assert result["rows"] == WINDOW and result["status"] in ("stable", "moderate", "significant")

    shown = _cli(settings, "drift", "show")
    assert f"{WINDOW:,} transactions" in shown and result["status"] in shown
    report = json.loads(_cli(settings, "drift", "show", "--json"))
    assert report["rows"] == WINDOW and report["status"] == result["status"]
    assert "finished" in _cli(settings, "jobs", "list")
