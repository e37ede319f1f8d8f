"""Model lifecycle benchmark: ``sentinel bench lifecycle --json FILE``.

On one synthetic draw (``--rows``, ``--seed``), replayed through the online features:

- a retrain job's wall and CPU time at ``rows - window`` rows (the default: 100,000), run by a
  real ``rq worker --burst`` on served feature vectors and arrived labels, as in production;
- for each scenario over the latest ``--window`` rows (none, a pure covariate shift that thins
  product W, and amounts x1.5 with half of W relabelled C), a drift check job's time and its
  performance estimate before labels beside the realised figures from the labels, at the
  live thresholds. The champion is trained on the rows before the window (out of time).

The estimate holds while calibration holds: a pure covariate shift keeps it; a shift that
changes what the inputs say about fraud (the third scenario) breaks it, which the drift check
then flags. Each job's own ``seconds`` is the time inside the job; ``wall_s`` and ``cpu_s``
include the worker process's start (imports).
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import redis

from core.connect import redis_client
from core.settings import ModelSettings, Settings
from data.loader import DataFiles
from data.schema import Transaction
from data.shift import Shift
from data.synthetic import generate
from functions.features import FEATURE_NAMES
from functions.keys import ModelJobKeys, scratch_prefix
from functions.replay import ReplayMeta, drop_state, replay_features
from infra.bench import report
from models.dataset import TrainingSet, read_transactions
from models.jobs.context import JobContext
from models.jobs.drift import recent_reports
from models.jobs.queue import JsonJob
from models.jobs.retrain import request_retrain
from models.jobs.schedule import run_now
from models.jobs.staging import burst_worker, stage_labels, stage_scored
from models.registry import Registry
from models.training import register, train

SCENARIOS: dict[str, dict[str, Any]] = {
    "none": {},
    "thin W 50% (pure covariate shift)": {"thin": ("W", 0.5)},
    "amounts x1.5, half of W as C": {"amount_factor": 1.5, "product_mix": ("W", "C", 0.5)},
}


@dataclass(frozen=True)
class Replayed:
    matrix: Any
    meta: ReplayMeta

    def since(self, start_dt: int) -> Replayed:
        rows = self.meta.transaction_dt >= start_dt
        m = self.meta
        meta = ReplayMeta(m.transaction_id[rows], m.transaction_dt[rows], m.amount[rows], m.is_fraud[rows])
        return Replayed(self.matrix[rows], meta)

    def first(self, count: int) -> Replayed:
        m = self.meta
        meta = ReplayMeta(
            m.transaction_id[:count], m.transaction_dt[:count], m.amount[:count], m.is_fraud[:count]
        )
        return Replayed(self.matrix[:count], meta)


def _step(text: str) -> None:
    click.echo(f"{time.strftime('%H:%M:%S')} {text}")


def _replay(client: redis.Redis, transactions: list[Transaction]) -> Replayed:
    prefix = scratch_prefix(f"bench:{uuid.uuid4().hex[:8]}:", "lifecycle")
    try:
        matrix, meta = replay_features(client, prefix, transactions)
    finally:
        drop_state(client, prefix)
    return Replayed(matrix, meta)


def _job_settings(settings: Settings, registry: Path, **jobs: Any) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return settings.replace(
        redis={"key_prefix": f"bench-lifecycle:{tag}:"},
        models={"registry_dir": registry},
        jobs={"queue": f"bench-{tag}", **jobs},
    )


def _run_worker(settings: Settings) -> dict[str, float]:
    """Run what is queued on a burst worker; its wall and CPU seconds and the load average."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    done = burst_worker(settings, timeout=3_600)
    if done.returncode != 0:
        raise click.ClickException(f"the RQ worker failed: {done.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": round(time.perf_counter() - started, 2),
        "cpu_s": round(cpu, 2),
        "load_avg_1m": os.getloadavg()[0],
    }


def _retrain(client: redis.Redis, settings: Settings, history: Replayed, registry: Path) -> dict[str, Any]:
    rows = len(history.meta)
    job_settings = _job_settings(settings, registry, retrain_max_rows=rows)
    champion = Registry(registry).load(Registry(registry).pointer()["champion"])
    _step(f"staging {rows:,} scored rows and their labels for the retrain")
    stage_scored(client, job_settings, history.matrix, history.meta, champion)
    stage_labels(client, job_settings, history.meta)
    ctx = JobContext(
        job_settings, client, ModelJobKeys(job_settings.redis.key_prefix), Registry(registry), None
    )
    job_id = request_retrain(ctx, "benchmark", force=True)
    _step(f"retrain job {job_id} on a real rq worker")
    timing = _run_worker(job_settings)
    job = JsonJob.fetch(str(job_id), connection=client)
    result = job.return_value() or {}
    _step(f"retrain: {result.get('decision')} in {result.get('seconds')} s inside the job")
    return {"rows": rows, "job": result, **timing}


def _scenario(
    client: redis.Redis, settings: Settings, window: Replayed, registry: Path, size: int
) -> dict[str, Any]:
    job_settings = _job_settings(settings, registry, drift_window=size)
    reg = Registry(registry)
    champion = reg.load(reg.pointer()["champion"])
    stage_scored(client, job_settings, window.matrix, window.meta, champion)
    stage_labels(client, job_settings, window.meta)
    run_now(job_settings, client, "drift")
    timing = _run_worker(job_settings)
    reports = recent_reports(client, ModelJobKeys(job_settings.redis.key_prefix).drift_reports, 1)
    if not reports:
        raise click.ClickException("the drift job stored no report")
    drift = reports[0]

    def pair(metric: str) -> dict[str, float | None]:
        est = getattr(drift.estimated, metric) if drift.estimated else None
        real = getattr(drift.realised, metric) if drift.realised else None
        gap = None if est is None or real is None else round(abs(est - real), 4)
        return {"estimated": est, "realised": real, "abs_gap": gap}

    return {
        "rows": drift.rows,
        "status": drift.status,
        "top": drift.top[:5],
        "drift_job_seconds": drift.seconds,
        **timing,
        "precision_at_decline": pair("precision_at_decline"),
        "recall_at_decline": pair("recall_at_decline"),
        "precision_at_review": pair("precision_at_review"),
        "recall_at_review": pair("recall_at_review"),
        "pr_auc": pair("pr_auc"),
    }


@click.command()
@click.option("--rows", type=click.IntRange(min=20_000), default=150_000, show_default=True,
              help="Synthetic transactions drawn.")  # fmt: skip
@click.option("--window", type=click.IntRange(min=5_000), default=50_000, show_default=True,
              help="Latest rows: the drift window and the scenarios; the rows before train the champion.")  # fmt: skip
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the results here.")  # fmt: skip
def lifecycle(rows: int, window: int, seed: int, json_path: Path | None) -> None:
    """Retrain time, drift check time, and the estimate before labels vs the realised figures.

    The estimate and the realised figures are the drift job's own, at the champion's
    thresholds (the live ones when no operator has set a strategy).
    """
    if window >= rows:
        raise click.BadParameter("--window must be smaller than --rows")
    settings: Settings = click.get_current_context().obj()
    client = redis_client(str(settings.redis.url))
    history_rows = rows - window
    with tempfile.TemporaryDirectory(prefix="sentinel-bench-lifecycle-") as tmp:
        _step(f"generating {rows:,} synthetic transactions (seed {seed})")
        summary = generate(rows, seed=seed, out_dir=Path(tmp) / "data")
        files = DataFiles(summary.transaction_file, summary.identity_file)
        transactions = list(read_transactions(files))
        _step(f"replaying {rows:,} rows through the online features")
        plain = _replay(client, transactions)
        start_dt = int(plain.meta.transaction_dt[history_rows])
        history = plain.first(history_rows)

        _step(f"training the champion on the first {history_rows:,} rows (out of time for the window)")
        started = time.perf_counter()
        cpu0 = time.process_time()
        trained = train(
            TrainingSet.from_replay(history.matrix, FEATURE_NAMES, history.meta), "lightgbm", ModelSettings()
        )
        train_timing = {
            "rows": history_rows,
            "wall_s": round(time.perf_counter() - started, 2),
            "cpu_s": round(time.process_time() - cpu0, 2),
            "load_avg_1m": os.getloadavg()[0],
        }
        registry_dir = Path(tmp) / "models"
        registry = Registry(registry_dir)
        version = register(registry, trained, [files.transactions])
        registry.promote(version)
        thresholds = registry.read(version, "thresholds.json")  # live: the champion's own

        retrain = _retrain(client, settings, history, registry_dir)
        scenarios: dict[str, Any] = {}
        for name, change in SCENARIOS.items():
            _step(f"scenario {name!r}: replaying, staging the window, drift check")
            data = (
                plain if not change else _replay(client, list(Shift(start_dt, **change).stream(transactions)))
            )
            scenarios[name] = _scenario(client, settings, data.since(start_dt), registry_dir, window)
    rows_out = [
        {
            "scenario": name,
            "rows": s["rows"],
            "status": s["status"],
            "drift s": s["drift_job_seconds"],
            "prec@decline est/real": _pair_text(s["precision_at_decline"]),
            "recall@decline est/real": _pair_text(s["recall_at_decline"]),
            "PR-AUC est/real": _pair_text(s["pr_auc"]),
        }
        for name, s in scenarios.items()
    ]
    report.print_rows("Estimate before labels vs realised", list(rows_out[0]), rows_out)
    click.echo(
        f"champion training at {history_rows:,} rows: {train_timing['wall_s']} s wall, {train_timing['cpu_s']} s CPU; "
        f"retrain job: {retrain['job'].get('seconds')} s inside the job, {retrain['wall_s']} s wall "
        f"with the worker's start, {retrain['cpu_s']} s CPU (load {retrain['load_avg_1m']:.2f})"
    )
    report.write(
        json_path,
        "lifecycle",
        {
            "parameters": {"rows": rows, "window": window, "seed": seed, "thresholds": thresholds},
            "champion_training": train_timing,
            "retrain_job": retrain,
            "scenarios": scenarios,
        },
    )


def _pair_text(pair: dict[str, float | None]) -> str:
    est, real = pair["estimated"], pair["realised"]
    if est is None or real is None:
        return "-"
    return f"{est:.3f} / {real:.3f}"
