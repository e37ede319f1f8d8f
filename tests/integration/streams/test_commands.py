"""`sentinel fn`, `sentinel dlq` as a user runs them: real subprocesses on the session Redis."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import redis

from core.settings import Settings
from infra.services import free_port, wait_until
from streams.keys import Keys
from tests.integration.streams.conftest import ROOT, read, sentinel_env
from tests.integration.streams.fns import item

pytestmark = pytest.mark.integration
SENTINEL = str(Path(sys.executable).parent / "sentinel")


def _sentinel(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SENTINEL, *args],
        env=sentinel_env(settings, COLUMNS="250"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_fn_run_fused_with_concurrency_then_list_stats_and_dlq(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    for n in range(60):
        redis_client.xadd(keys.stream("items"), {"d": item(n, "x")})
    redis_client.xadd(keys.stream("items"), {"d": b"not json at all"})

    run = _sentinel(rt_settings, "fn", "run", "double+tag", "--concurrency", "2", "--burst")
    assert run.returncode == 0, run.stderr
    tagged = read(redis_client, keys.stream("tagged"))
    assert len(tagged) == 60 and len({p for _, p, _ in tagged}) == 60
    assert not redis_client.exists(keys.stream("doubled"))

    listed = _sentinel(rt_settings, "fn", "list", "--stats")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "double" in line and "items" in line)
    assert [cell.strip() for cell in row.split("│")[7:10]] == ["60", "1", "0"]  # processed, dead, failed

    dead = _sentinel(rt_settings, "dlq", "list")
    assert dead.returncode == 0, dead.stderr
    assert "not JSON" in dead.stdout and "1 dead letters in total" in dead.stdout
    (dead_id, _, _), *_ = read(redis_client, keys.dead_letters)
    shown = _sentinel(rt_settings, "dlq", "show", dead_id)
    assert "payload: not json at all" in shown.stdout
    replayed = _sentinel(rt_settings, "dlq", "replay", "--all")
    assert replayed.returncode == 0 and "replayed 1 dead letters" in replayed.stdout
    assert redis_client.xlen(keys.dead_letters) == 0
    assert read(redis_client, keys.stream("items"))[-1][1] == b"not json at all"


def test_fn_run_rejects_an_unknown_function(rt_settings: Settings) -> None:
    run = _sentinel(rt_settings, "fn", "run", "nope")
    assert run.returncode != 0
    assert "no function 'nope'" in run.stderr


def test_fn_run_serves_prometheus_metrics_and_stops_cleanly_on_sigterm(
    rt_settings: Settings, redis_client: redis.Redis, keys: Keys, spawn: Any
) -> None:
    for n in range(7):
        redis_client.xadd(keys.stream("items"), {"d": item(n)})
    port = free_port()
    worker = spawn(["fn", "run", "double", "--metrics-port", str(port)], sentinel_env(rt_settings))

    def scrape() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                return str(response.read().decode())
        except OSError:
            return ""

    wait_until(lambda: 'sentinel_function_processed_total{function="double"} 7.0' in scrape(), 30, "metrics")
    assert 'sentinel_function_lag{function="double"} 0.0' in scrape()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0


def _one_line_error(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("dlq", "show", "nope"), "Error: no dead letter nope"),
        (("dlq", "replay", "nope"), "Error: no dead letter nope"),
        (("dlq", "replay", "1-1"), "Error: no dead letter 1-1"),  # no stray quotes
    ],
)
def test_dlq_errors_are_one_line(rt_settings: Settings, args: tuple[str, ...], expected: str) -> None:
    assert _one_line_error(_sentinel(rt_settings, *args)) == expected


@pytest.mark.parametrize("args", [("dlq", "list"), ("fn", "list", "--stats"), ("dlq", "show", "1-1")])
def test_a_stale_redis_url_is_one_line(rt_settings: Settings, args: tuple[str, ...]) -> None:
    stale = rt_settings.replace(redis={"url": f"redis://127.0.0.1:{free_port()}/0"})
    line = _one_line_error(_sentinel(stale, *args))
    assert line.startswith("Error: cannot reach Redis:") and "Connection refused" in line


def test_without_a_stack_the_commands_say_so(rt_settings: Settings, tmp_path: Path) -> None:
    env = {k: v for k, v in sentinel_env(rt_settings).items() if k != "SENTINEL_REDIS_URL"}
    env["SENTINEL_LOCAL_STATE_DIR"] = str(tmp_path / "no-stack")
    run = subprocess.run(
        [SENTINEL, "dlq", "list"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "no Sentinel stack is running in" in _one_line_error(run)
