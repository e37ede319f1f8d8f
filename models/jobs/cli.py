"""``sentinel jobs`` and ``sentinel drift``: the model lifecycle jobs from the command line.

sentinel jobs list                 the schedule table, next runs, recent jobs of the queue
sentinel jobs run NAME [--wait]    enqueue one now (a worker runs it); --wait prints its result
sentinel jobs schedule             install the table into rq-scheduler (replaces earlier entries)
sentinel drift show [--json]       the latest drift report
"""

from __future__ import annotations

import json
import time

import click
import msgspec
from rich.console import Console
from rich.table import Table
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry

from core.settings import get_settings
from functions.keys import ModelJobKeys
from models.jobs import schedule as table
from models.jobs.drift import recent_reports
from models.jobs.queue import JsonJob, connect, connect_data, job_queue

console = Console()


@click.group()
def jobs() -> None:
    """Model lifecycle jobs on RQ: list, run one now, install the schedule."""


@jobs.command(name="list")
def list_jobs() -> None:
    """The schedule table with the next run of each entry, and the queue's recent jobs."""
    settings = get_settings()
    client = connect(settings)
    nxt = table.scheduled(settings, client)
    schedule = Table("job", "function", "every", "next run (UTC)", "what")
    for job in table.SCHEDULE:
        at = nxt.get(job.name)
        schedule.add_row(
            job.name,
            job.func,
            f"{job.every_s(settings.jobs)} s",
            at.isoformat(timespec="seconds") if at else "not scheduled (`sentinel jobs schedule`)",
            job.description,
        )
    console.print(schedule)
    queue = job_queue(settings, client)
    recent = Table("job id", "state", "description", "ended / progress")
    for name, registry in (
        ("started", StartedJobRegistry(queue=queue)),
        ("failed", FailedJobRegistry(queue=queue)),
        ("finished", FinishedJobRegistry(queue=queue)),
    ):
        for job_id in registry.get_job_ids(0, 9):
            found = JsonJob.fetch(job_id, connection=client)
            note = found.ended_at.isoformat(timespec="seconds") if found.ended_at else ""
            if name == "started":
                note = json.dumps(found.meta.get("progress", {}))
            recent.add_row(job_id, name, found.description or "", note)
    recent.add_row("", f"queued: {len(queue)}", "", "")
    console.print(recent)


@jobs.command()
@click.argument("name", type=click.Choice([job.name for job in table.SCHEDULE]))
@click.option("--wait", "wait_s", type=click.IntRange(0, 86_400), default=0, help="Wait this long for it.")
def run(name: str, wait_s: int) -> None:
    """Enqueue job NAME now; a worker (`rq worker`, the stack's `worker`) runs it."""
    settings = get_settings()
    job = table.run_now(settings, connect(settings), name)
    click.echo(f"enqueued {name}: job {job.id} on queue {settings.jobs.queue}")
    deadline = time.monotonic() + wait_s
    while wait_s and time.monotonic() < deadline:
        status = job.get_status(refresh=True)
        if status in ("finished", "failed", "stopped", "canceled"):
            state = getattr(status, "value", status)  # "finished", not "JobStatus.FINISHED"
            click.echo(f"{state}: {json.dumps(job.return_value() if state == 'finished' else job.exc_info)}")
            if status != "finished":
                raise SystemExit(1)
            return
        time.sleep(0.5)
    if wait_s:
        raise click.ClickException(f"job {job.id} still {job.get_status()} after {wait_s} s")


@jobs.command(name="schedule")
def install() -> None:
    """Install the schedule table into rq-scheduler (the stack's `scheduler` process runs it)."""
    settings = get_settings()
    for job, every in table.install(settings, connect(settings)):
        click.echo(f"scheduled {job.name}: {job.func} every {every} s")


@click.group()
def drift() -> None:
    """Drift reports of the champion (PSI per input and score, estimated vs realised performance)."""


@drift.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--top", type=click.IntRange(1, 1_000), default=10, show_default=True, help="Inputs listed.")
def show(as_json: bool, top: int) -> None:
    """The latest drift report."""
    settings = get_settings()
    reports = recent_reports(connect_data(settings), ModelJobKeys(settings.redis.key_prefix).drift_reports, 1)
    if not reports:
        raise click.ClickException("no drift report yet: `sentinel jobs run drift` (a worker must run)")
    report = reports[0]
    if as_json:
        click.echo(msgspec.json.encode(report).decode())
        return
    console.print(
        f"[bold]{report.status}[/bold]  model {report.model_version}  {report.rows:,} transactions "
        f"(TransactionDT {report.window_start_dt}..{report.window_end_dt})  checked {report.at} "
        f"in {report.seconds:.2f} s"
    )
    psi = Table("input", "PSI", "status", "null share live / reference")
    rows = ([report.score] if report.score else []) + report.features[:top]
    for d in rows:
        psi.add_row(
            d.name, f"{d.psi:.4f}", d.status, f"{d.live_null_share:.3f} / {d.reference_null_share:.3f}"
        )
    console.print(psi)
    perf = Table("bucket start (DT)", "rows", "labelled", "precision@decline est / real", "recall@decline est / real",
                 "PR-AUC est / real")  # fmt: skip

    def pair(est: float | None, real: float | None) -> str:
        return f"{_num(est)} / {_num(real)}"

    for b in report.buckets:
        r = b.realised
        perf.add_row(
            str(b.start_dt),
            f"{b.estimated.rows:,}",
            f"{b.labelled_share:.0%}",
            pair(b.estimated.precision_at_decline, r.precision_at_decline if r else None),
            pair(b.estimated.recall_at_decline, r.recall_at_decline if r else None),
            pair(b.estimated.pr_auc, r.pr_auc if r else None),
        )
    console.print(perf)
    cal = report.calibration
    if cal is not None:
        source = (
            "the champion's own calibration"
            if cal.labels == 0
            else f"scores re-calibrated ({cal.method}) on {cal.labels:,} arrived labels, {cal.fraud:,} fraud"
        )
        console.print(f"estimate from {source}" + (f" ({cal.reason})" if cal.reason else ""))
    if report.pending is not None:
        p = report.pending
        console.print(
            f"not yet labelled: {p.rows:,} transactions, estimated precision@decline "
            f"{_num(p.precision_at_decline)}, recall@decline {_num(p.recall_at_decline)}"
        )


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
