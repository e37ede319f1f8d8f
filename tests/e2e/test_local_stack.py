"""The local stack as `just up` runs it: scores traffic, reuses data and model, leaves nothing behind.

It trains on the earlier half of its data and streams the later half, so its live quality is that
of a model on unseen data; commands run in a second shell find it through its state directory.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from infra.services import wait_until
from tests.e2e.stack import api_keys, stack_env
from tests.e2e.stack import sentinel as _sentinel

pytestmark = pytest.mark.e2e


def _stack_tree(state: Path) -> set[psutil.Process]:
    root = psutil.Process(int((state / "stack.pid").read_text()))
    return {root, *root.children(recursive=True)}


def _scored(gateway: str, key: str, want: int, deadline_s: float) -> list[dict[str, object]]:
    """Page through GET /v1/transactions until ``want`` scored transactions are listed."""
    deadline = time.monotonic() + deadline_s
    items: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        items, cursor = [], None
        while len(items) < want:
            params: dict[str, str | int] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            page = httpx.get(f"{gateway}/v1/transactions", params=params, headers={"X-API-Key": key}).json()
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        if len(items) >= want:
            return items
        time.sleep(0.5)  # polling interval of a deadline loop, not synchronisation
    raise AssertionError(f"only {len(items)} scored transactions after {deadline_s}s")


def _live_quality(gateway: str, key: str, want: int, deadline_s: float) -> dict[str, float]:
    """Poll the overview until the live quality window holds ``want`` labelled transactions."""
    deadline = time.monotonic() + deadline_s
    quality: dict[str, float] | None = None
    while time.monotonic() < deadline:
        overview = httpx.get(f"{gateway}/v1/metrics/overview", headers={"X-API-Key": key}).json()
        quality = overview["quality"]
        if quality and quality["window"] >= want:
            return quality
        time.sleep(0.5)  # polling interval of a deadline loop, not synchronisation
    raise AssertionError(f"live quality after {deadline_s}s: {quality}")


def _second_shell(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A command in a fresh shell: no SENTINEL_REDIS_URL, only the stack's state directory."""
    assert "SENTINEL_REDIS_URL" not in env and "SENTINEL_KAFKA_BOOTSTRAP" not in env
    return _sentinel(args, {**env, "COLUMNS": "250"}, timeout=60)


def test_stack_scores_traffic_reuses_its_model_and_stops_cleanly(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = stack_env(
        state,
        SENTINEL_LOCAL_SYNTH_ROWS="8000",  # 4,000 to learn, 4,000 streamed
        SENTINEL_LOCAL_RATE="1000",
        SENTINEL_LOCAL_BROKER_MAX_MESSAGES="1000",  # the mirror empties the broker during the run
    )
    gateway = f"http://127.0.0.1:{env['SENTINEL_GATEWAY_PORT']}"

    first = _sentinel(["up", "--detach"], env, timeout=600)
    assert first.returncode == 0, first.stderr + (state / "stack.log").read_text()
    try:
        again = _sentinel(["up", "--detach"], env, timeout=60)
        assert again.returncode != 0
        assert "already running" in again.stderr
        keys = api_keys(state)
        items = _scored(gateway, keys["analyst"], want=1500, deadline_s=180)
        assert len({item["transaction_id"] for item in items}) == len(items)
        detail = httpx.get(
            f"{gateway}/v1/transactions/{items[0]['transaction_id']}", headers={"X-API-Key": keys["analyst"]}
        )
        assert detail.status_code == 200
        assert len(detail.json()["raw"]) > 20  # the whole transaction as received, not 4 fields

        stats = _second_shell(["fn", "list", "--stats"], env)
        assert stats.returncode == 0, stats.stderr
        rows = [line for line in stats.stdout.splitlines() if "enrich" in line and "tx.raw" in line]
        assert rows, stats.stdout
        (enrich,) = rows
        assert any(cell.strip().isdigit() and int(cell) > 0 for cell in enrich.split("│")), enrich
        dlq = _second_shell(["dlq", "list"], env)
        assert dlq.returncode == 0 and "dead letters in total" in dlq.stdout, dlq.stderr

        # The RQ dashboard (JSON serializer, like every RQ process here) lists the jobs queue
        # and reads each entry of the schedule table that rq-scheduler holds.
        rq = f"http://127.0.0.1:{env['SENTINEL_LOCAL_RQ_DASHBOARD_PORT']}/0/data"
        wait_until(
            lambda: "sentinel" in {q["name"] for q in httpx.get(f"{rq}/queues.json").json()["queues"]},
            60,
            "the RQ dashboard to list the jobs queue",
            interval=0.5,
        )
        for name in ("drift", "shadow", "retrain"):
            job = httpx.get(f"{rq}/job/sentinel-schedule-{name}.json")
            assert job.status_code == 200, job.text
            assert job.json()["id"] == f"sentinel-schedule-{name}" and job.json()["origin"] == "sentinel"

        # Out of time: the live PR-AUC is that of unseen data, near the model's held-out test
        # PR-AUC, not the ~1.0 of a model scoring the rows it was trained on.
        live = _live_quality(gateway, keys["analyst"], want=3000, deadline_s=240)
        (version,) = [p for p in (state / "models").iterdir() if p.is_dir()]
        tested = json.loads((version / "metrics.json").read_text())["test"]["pr_auc"]
        print(f"live quality {live}, model test PR-AUC {tested:.4f}")
        assert live["pr_auc"] < 0.97, (live, tested)
        assert abs(live["pr_auc"] - tested) < 0.2, (live, tested)
        processes = _stack_tree(state)
    finally:
        stopped = _sentinel(["down"], env, timeout=120)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    gone = _second_shell(["dlq", "list"], env)
    assert gone.returncode != 0
    assert "no Sentinel stack is running" in gone.stderr and "Traceback" not in gone.stderr
    assert not [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    first_log = (state / "stack.log").read_text()
    assert "mirror: recycled the broker topics" in first_log
    # The first start's long steps, written to a log file (no terminal), say how far they are.
    for step in (
        "generating synthetic data: done, 8,000 in",
        "replaying history through the online features: started (4,000 to do)",
        "replaying history through the online features: 2,000 / 4,000 (50%)",
        "training on 4,000 rows: training lightgbm",
        "warming the feature state with the training period: done, 4,000 in",
    ):
        assert step in first_log, step

    versions = sorted(p.name for p in (state / "models").iterdir() if p.is_dir())
    data_mtime = (state / "data" / "train_transaction.csv").stat().st_mtime
    second = _sentinel(["up", "--detach"], env, timeout=300)
    try:
        assert second.returncode == 0, second.stderr
        log = (state / "stack.log").read_text()
        assert "reusing the registered champion" in log
        assert log.count("no champion model") == 1  # trained on the first start only
        assert sorted(p.name for p in (state / "models").iterdir() if p.is_dir()) == versions
        assert (state / "data" / "train_transaction.csv").stat().st_mtime == data_mtime
        processes = _stack_tree(state)
        # The in-memory broker restarted empty: the mirror's stored offsets (in Redis) are void.
        # It says so once it joins its group, which may be after the gateway answers: poll.
        wait_until(
            lambda: "was recreated" in (state / "stack.log").read_text()[len(first_log) :],
            120,
            "the mirror to notice the recreated topics",
            interval=0.5,
        )
    finally:
        _sentinel(["down"], env, timeout=120)
    assert not [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
