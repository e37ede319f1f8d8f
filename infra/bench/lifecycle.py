"""Model lifecycle benchmark: ``sentinel bench lifecycle --json FILE``.

On one synthetic draw (``--rows``, ``--seed``), replayed through the online features:

- a retrain job's wall and CPU time at ``rows - window`` rows (the default: 100,000), run by a
  real ``rq worker --burst`` on served feature vectors and arrived labels, as in production;
- for each scenario over the latest ``--window`` rows (none, a pure covariate shift that thins
  product W, and amounts x1.5 with half of W relabelled C), a drift check job's time and its
  performance estimate before labels beside the realised figures, at the live thresholds.
  The champion is trained on the rows before the window (out of time).

How the estimate is judged: when the drift job runs, the labels of the older ``--labelled``
share of the window have arrived and the newer rows have none; the shift starts with the
first unlabelled row (it has just happened: no label after it is known yet). The report's
``pending`` estimate covers exactly the unlabelled rows; their labels are then counted
(``models.estimate.realised``) over exactly those transactions. Beside it, ``as_trained`` is
the estimate from the champion's own calibration on the same rows (what the drift job
estimated before it re-calibrated on arrived labels).

Whether a gap is a bias or noise: per scenario, ``at_decline`` and ``at_review`` give the
rows flagged, the estimated and realised precision and recall, the realised figure's 95 % Wilson
interval and the gap's 95 % interval from a bootstrap over clients (``infra.bench.estimate_gap``);
``reliability_*`` is the calibration of the top of the scale on the unlabelled and the labelled
rows. At the defaults a scenario declines only tens of transactions (binomial noise alone
±0.03-0.06); ``--rows 350000 --window 250000 --labelled 0.2`` declines over a thousand.
The transactions stream from the generated files through each replay; none is held.

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import msgspec
import numpy as np
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
from functions.velocity import client_uid
from infra.bench import estimate_gap, report
from models.dataset import TrainingSet, read_transactions
from models.estimate import estimate, realised
from models.jobs.context import JobContext
from models.jobs.drift import recent_reports
from models.jobs.queue import JsonJob
from models.jobs.retrain import request_retrain
from models.jobs.schedule import run_now
from models.jobs.staging import burst_worker, stage_labels, stage_scored
from models.monitoring import recalibrate
from models.registry import Registry
from models.training import register, train
from models.window import UNKNOWN

SCENARIOS: dict[str, dict[str, Any]] = {
    "none": {},
    "thin W 50% (pure covariate shift)": {"thin": ("W", 0.5)},
    "amounts x1.5, half of W as C": {"amount_factor": 1.5, "product_mix": ("W", "C", 0.5)},
}


@dataclass(frozen=True)
class Replayed:
    matrix: Any
    meta: ReplayMeta
    clients: Any  # each row's client identity (``client_uid``), for the bootstrap over clients

    def since(self, start_dt: int) -> Replayed:
        return self.where(self.meta.transaction_dt >= start_dt)

    def where(self, rows: Any) -> Replayed:
        m = self.meta
        meta = ReplayMeta(m.transaction_id[rows], m.transaction_dt[rows], m.amount[rows], m.is_fraud[rows])
        return Replayed(self.matrix[rows], meta, self.clients[rows])

    def first(self, count: int) -> Replayed:
        return self.where(slice(0, count))


def _step(text: str) -> None:
    click.echo(f"{time.strftime('%H:%M:%S')} {text}")


def _replay(client: redis.Redis, transactions: Iterable[Transaction]) -> Replayed:
    """Replay ``transactions`` as they stream by, noting each one's client."""
    prefix = scratch_prefix(f"bench:{uuid.uuid4().hex[:8]}:", "lifecycle")
    clients: list[str] = []

    def noted(rows: Iterable[Transaction]) -> Iterator[Transaction]:
        for tx in rows:
            clients.append(client_uid(tx))
            yield tx

    try:
        matrix, meta = replay_features(client, prefix, noted(transactions))
    finally:
        drop_state(client, prefix)
    return Replayed(matrix, meta, np.array(clients, dtype=object))


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


METRICS = ("precision_at_decline", "recall_at_decline", "precision_at_review", "recall_at_review", "pr_auc")


def _scenario(
    client: redis.Redis,
    settings: Settings,
    window: Replayed,
    labelled_until_dt: int,
    registry: Path,
    size: int,
) -> dict[str, Any]:
    """Stage ``window``, deliver the labels of its rows before ``labelled_until_dt``, run the drift
    job; its estimate for the unlabelled rows beside what their labels then say."""
    job_settings = _job_settings(settings, registry, drift_window=size)
    reg = Registry(registry)
    champion = reg.load(reg.pointer()["champion"])
    probs = stage_scored(client, job_settings, window.matrix, window.meta, champion)
    pending = window.meta.transaction_dt >= labelled_until_dt
    stage_labels(client, job_settings, window.where(~pending).meta)
    run_now(job_settings, client, "drift")
    timing = _run_worker(job_settings)
    reports = recent_reports(client, ModelJobKeys(job_settings.redis.key_prefix).drift_reports, 1)
    if not reports:
        raise click.ClickException("the drift job stored no report")
    drift = reports[0]
    if drift.pending is None or drift.pending.rows != int(pending.sum()):
        raise click.ClickException(f"the report's unlabelled rows are not the {int(pending.sum())} staged")
    review, decline = drift.review_threshold, drift.decline_threshold
    amounts = window.meta.amount[pending]
    fraud = window.meta.is_fraud == 1
    truth = realised(window.meta.is_fraud[pending].astype(int), probs[pending], amounts, review, decline)
    as_trained = estimate(probs[pending], amounts, review, decline)
    # the job's per-row fraud chances, re-derived the way it derives them (checked against its report)
    jobs = job_settings.jobs
    arrived = np.where(pending, UNKNOWN, window.meta.is_fraud).astype(np.int8)
    chances, _ = recalibrate(
        probs, arrived, jobs.recalibration_min_labels, jobs.recalibration_min_fraud, drift.status
    )
    mine = estimate(probs[pending], amounts, review, decline, chances[pending])
    if abs((mine.precision_at_review or 0) - (drift.pending.precision_at_review or 0)) > 1e-6:
        raise click.ClickException("the fraud chances re-derived here are not the drift job's")
    rows = (probs[pending], chances[pending], fraud[pending])

    def compared(metric: str) -> dict[str, float | None]:
        values = {
            "as_trained": getattr(as_trained, metric),
            "estimated": getattr(drift.pending, metric),
            "realised": getattr(truth, metric),
        }
        return {**values, **_gaps(values)}

    return {
        "rows": drift.rows,
        "unlabelled_rows": drift.pending.rows,
        "unlabelled_fraud": truth.fraud,
        "status": drift.status,
        "top": drift.top[:5],
        "calibration": None if drift.calibration is None else msgspec.to_builtins(drift.calibration),
        "drift_job_seconds": drift.seconds,
        **timing,
        **{metric: compared(metric) for metric in METRICS},
        # decisive: the gaps with their intervals (``infra.bench.estimate_gap``), over the unlabelled
        # rows, and the calibration of the top of the scale on them and on the arrived labels
        "at_decline": estimate_gap.compare(*rows, window.clients[pending], decline),
        "at_review": estimate_gap.compare(*rows, window.clients[pending], review),
        "reliability_unlabelled": estimate_gap.reliability(*rows),
        "reliability_labelled": estimate_gap.reliability(probs[~pending], chances[~pending], fraud[~pending]),
    }


def _gaps(values: dict[str, float | None]) -> dict[str, float | None]:
    real = values["realised"]

    def gap(v: float | None) -> float | None:
        return None if v is None or real is None else round(abs(v - real), 4)

    return {"abs_gap": gap(values["estimated"]), "abs_gap_as_trained": gap(values["as_trained"])}


@click.command()
@click.option("--rows", type=click.IntRange(min=20_000), default=150_000, show_default=True,
              help="Synthetic transactions drawn.")  # fmt: skip
@click.option("--window", type=click.IntRange(min=5_000), default=50_000, show_default=True,
              help="Latest rows: the drift window and the scenarios; the rows before train the champion.")  # fmt: skip
@click.option("--labelled", type=click.FloatRange(0, 1, max_open=True), default=0.5, show_default=True,
              help="Older share of the window whose labels have arrived; the shifts start after it.")  # fmt: skip
@click.option("--retrain/--no-retrain", default=True, show_default=True,
              help="Time a retrain job at rows - window rows.")  # fmt: skip
@click.option("--volume", type=click.Choice(["growing", "steady"]), default="growing", show_default=True,
              help="The generator's volume over the months (steady: the stream does not move).")  # fmt: skip
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the results here.")  # fmt: skip
def lifecycle(
    rows: int, window: int, labelled: float, retrain: bool, volume: str, seed: int, json_path: Path | None
) -> None:
    """Retrain time, drift check time, and the estimate before labels vs the realised figures.

    The estimate is the drift job's own, for the window's unlabelled rows, at the champion's
    thresholds (the live ones when no operator has set a strategy); the realised figures are
    counted from those rows' labels once they arrive.
    """
    if window >= rows:
        raise click.BadParameter("--window must be smaller than --rows")
    settings: Settings = click.get_current_context().obj()
    client = redis_client(str(settings.redis.url))
    history_rows = rows - window
    with tempfile.TemporaryDirectory(prefix="sentinel-bench-lifecycle-") as tmp:
        _step(f"generating {rows:,} synthetic transactions (seed {seed}, {volume} volume)")
        summary = generate(rows, seed=seed, out_dir=Path(tmp) / "data", steady=volume == "steady")
        files = DataFiles(summary.transaction_file, summary.identity_file)
        _step(f"replaying {rows:,} rows through the online features")
        plain = _replay(client, read_transactions(files))
        start_dt = int(plain.meta.transaction_dt[history_rows])
        shift_dt = int(plain.meta.transaction_dt[history_rows + round(window * labelled)])
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

        retrained = _retrain(client, settings, history, registry_dir) if retrain else None
        scenarios: dict[str, Any] = {}
        for name, change in SCENARIOS.items():
            _step(f"scenario {name!r}: replaying, staging the window, drift check")
            data = (
                plain
                if not change
                else _replay(client, Shift(shift_dt, **change).stream(read_transactions(files)))
            )
            scenarios[name] = _scenario(
                client, settings, data.since(start_dt), shift_dt, registry_dir, window
            )
    rows_out = [
        {
            "scenario": name,
            "unlabelled": s["unlabelled_rows"],
            "status": s["status"],
            "drift s": s["drift_job_seconds"],
            "declined": s["at_decline"]["precision"]["rows"],
            "prec@decline est / real [95%]": _judged(s["at_decline"]["precision"]),
            "gap [95%, by client]": _gap(s["at_decline"]["precision"]),
            "recall@decline est / real [95%]": _judged(s["at_decline"]["recall"]),
            "recall gap [95%]": _gap(s["at_decline"]["recall"]),
            "PR-AUC trained/recal/real": _text(s["pr_auc"]),
        }
        for name, s in scenarios.items()
    ]
    report.print_rows("Estimate before labels vs the labels that arrive later", list(rows_out[0]), rows_out)
    for name, s in scenarios.items():
        bands = [
            f"{b['band'][0]}+: {b['rows']} rows, est {b['mean_chance']} real {b['fraud_share']}"
            for b in s["reliability_unlabelled"]
            if b["rows"]
        ]
        click.echo(f"top of the scale, unlabelled rows, {name}: " + "; ".join(bands))
    click.echo(
        f"champion training at {history_rows:,} rows: {train_timing['wall_s']} s wall, {train_timing['cpu_s']} s CPU "
        f"(load {train_timing['load_avg_1m']:.2f})"
    )
    if retrained is not None:
        click.echo(
            f"retrain job: {retrained['job'].get('seconds')} s inside the job, {retrained['wall_s']} s wall "
            f"with the worker's start, {retrained['cpu_s']} s CPU (load {retrained['load_avg_1m']:.2f})"
        )
    report.write(
        json_path,
        "lifecycle",
        {
            "parameters": {
                "rows": rows,
                "window": window,
                "labelled": labelled,
                "volume": volume,
                "seed": seed,
                "thresholds": thresholds,
            },
            "champion_training": train_timing,
            "retrain_job": retrained,
            "scenarios": scenarios,
        },
    )


def _text(values: dict[str, float | None]) -> str:
    return " / ".join(
        "-" if values[k] is None else f"{values[k]:.3f}" for k in ("as_trained", "estimated", "realised")
    )


def _judged(entry: dict[str, Any]) -> str:
    if entry["estimated"] is None or entry["realised"] is None:
        return "-"
    low, high = entry["realised_ci"]
    return f"{entry['estimated']:.3f} / {entry['realised']:.3f} [{low:.3f}, {high:.3f}]"


def _gap(entry: dict[str, Any]) -> str:
    if entry["gap"] is None:
        return "-"
    low, high = entry["gap_ci"]
    return f"{entry['gap']:+.3f} [{low:+.3f}, {high:+.3f}]"
