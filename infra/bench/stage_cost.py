"""Stage cost, load-independent: ``sentinel bench stage --json FILE [--callgrind] [--chain enrich,score]``.

The figure to compare one change of a stage against the next, on a box that other work shares.
``--warm`` generated transactions are pre-filled in ``tx.raw`` and drained by an in-process
worker of ``--chain`` (the real pipeline rows, fused as ``sentinel fn run enrich+score`` fuses
them: decode, resend check, feature script, the model, one commit per batch), so the feature
state and the history indexes hold history; then ``--events`` more are drained and measured.
``--chain enrich,score`` needs a champion model (``sentinel train --promote``); its figures
less those of ``--chain enrich`` are the score stage's.

- ``worker_cpu_us_per_event``: this process's CPU (``time.process_time``) in the drain, the best
  of ``--repeat`` drains of fresh rows (contention only ever adds to it);
- ``redis_calls_per_event``: Redis commands per event (``INFO commandstats``; a command a script
  calls counts under its own name too);
- with ``--callgrind``: its own redis-server runs under ``valgrind --tool=callgrind`` and
  ``redis_instructions_per_event`` is what the server executed for the measured drain:
  instruction counts do not move with the load of the box (the wall clock and Redis's CPU
  time do). Without it, ``redis_cpu_us_per_event`` (``INFO cpu``) of a plain server.

The server runs without persistence (``--appendonly no``): the figure is the stage's work.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import redis

from core.errors import ConfigError
from core.settings import get_settings
from infra.bench import report
from infra.bench.cost import commandstats, load_average, redis_cpu_s
from infra.bench.e2e import generated_rows
from infra.pipeline.streams import RAW
from infra.pipeline.table import PIPELINE
from infra.services import ManagedProcess, free_port, wait_until
from streams.events import PAYLOAD, PUBLISHED_NS
from streams.keys import Keys
from streams.worker import Worker


@contextmanager
def redis_server(workdir: Path, callgrind: bool) -> Iterator[tuple[str, int]]:
    """(url, pid) of a redis-server without persistence, under callgrind if asked."""
    port = free_port()
    argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    if callgrind:
        if shutil.which("valgrind") is None:
            raise click.ClickException("--callgrind needs valgrind (apt-get install valgrind)")
        out = workdir / "callgrind.out.%p"
        argv = [
            "valgrind",
            "--tool=callgrind",
            "--compress-strings=no",
            "--dump-instr=yes",
            f"--callgrind-out-file={out}",
            *argv,
        ]
    proc = ManagedProcess("redis", argv, workdir / "redis.log")
    proc.start()
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: proc.check_alive() and _answers(url), 60, f"redis on port {port}")
        assert proc.proc is not None
        yield url, proc.proc.pid
    finally:
        proc.stop(60)


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _callgrind(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True, timeout=120)


def _instructions(workdir: Path, pid: int, keep: Path | None) -> int:
    """Instructions since the last zeroing: dump, then read the dump's totals (copied to ``keep``)."""
    before = set(workdir.glob(f"callgrind.out.{pid}*"))
    _callgrind(pid, "--dump")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for dump in set(workdir.glob(f"callgrind.out.{pid}*")) - before:
            for line in dump.read_text(errors="replace").splitlines():
                if line.startswith(("totals:", "summary:")):
                    if keep is not None:
                        shutil.copy(dump, keep)
                    return int(line.split()[1])
        time.sleep(0.2)
    raise click.ClickException("callgrind wrote no dump")


def _fill(client: redis.Redis, stream: str, rows: Sequence[bytes]) -> None:
    pipe = client.pipeline(transaction=False)
    for raw in rows:
        fields: Any = {PAYLOAD: raw, PUBLISHED_NS: str(time.time_ns())}
        pipe.xadd(stream, fields)
    pipe.execute()


def _calls(client: redis.Redis) -> dict[str, int]:
    return {name: calls for name, (calls, _) in commandstats(client).items()}


@click.command()
@click.option(
    "--json", "json_path", type=click.Path(path_type=Path), default=None, help="Write results here."
)
@click.option("--warm", default=2_000, show_default=True, help="Events drained first, to build history.")
@click.option("--events", default=2_000, show_default=True, help="Events per measured drain.")
@click.option("--repeat", default=3, show_default=True, help="Measured drains (fresh rows each).")
@click.option(
    "--chain",
    default="enrich",
    show_default=True,
    help="Consecutive stages of the table, fused: enrich | enrich,score.",
)
@click.option("--callgrind", is_flag=True, help="Count Redis's instructions (valgrind; ~50x slower).")
@click.option(
    "--keep-dump", type=click.Path(path_type=Path), default=None,
    help="Copy the last drain's callgrind dump here (read it with callgrind_annotate).",
)  # fmt: skip
def stage(
    json_path: Path | None,
    warm: int,
    events: int,
    repeat: int,
    chain: str,
    callgrind: bool,
    keep_dump: Path | None,
) -> None:
    """A chain of stages in-process: worker CPU µs, Redis commands and Redis CPU µs or instructions per event."""
    names = [name.strip() for name in chain.split(",") if name.strip()]
    try:
        specs = PIPELINE.chain(names)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--chain") from exc
    rows = generated_rows(warm + events * repeat, seed=5)
    keys = Keys("bench:stage:")
    stream = keys.stream(RAW)
    with (
        tempfile.TemporaryDirectory(prefix="sentinel-bench-stage-") as tmp,
        redis_server(Path(tmp), callgrind) as server,
    ):
        url, pid = server
        settings = get_settings().replace(redis={"url": url, "key_prefix": keys.prefix})
        client = redis.Redis.from_url(url)
        _fill(client, stream, rows[:warm])
        Worker(specs, client, settings).run(burst=True)
        load = load_average()
        drains: list[dict[str, Any]] = []
        for k in range(repeat):
            _fill(client, stream, rows[warm + k * events : warm + (k + 1) * events])
            worker = Worker(specs, client, settings)
            calls, redis_cpu = _calls(client), redis_cpu_s(client)
            if callgrind:
                _callgrind(pid, "--zero")
            started = time.process_time()
            worker.run(burst=True)
            worker_s = time.process_time() - started
            drain: dict[str, Any] = {"processed": worker.report.processed}
            if callgrind:
                drain["redis_instructions_per_event"] = round(
                    _instructions(Path(tmp), pid, keep_dump) / events
                )
            else:
                drain["redis_cpu_us_per_event"] = round((redis_cpu_s(client) - redis_cpu) / events * 1e6, 1)
            drain["worker_cpu_us_per_event"] = round(worker_s / events * 1e6, 1)
            after = _calls(client)
            drain["redis_calls_per_event"] = {
                name: round((n - calls.get(name, 0)) / events, 2)
                for name, n in sorted(after.items(), key=lambda kv: calls.get(kv[0], 0) - kv[1])
                if (n - calls.get(name, 0)) / events >= 0.005 and name != "info"
            }
            drains.append(drain)
        client.close()
    best = min(drains, key=lambda d: d["worker_cpu_us_per_event"])
    redis_figure = "redis_instructions_per_event" if callgrind else "redis_cpu_us_per_event"
    result = {
        "run": f"{'+'.join(names)} (in-process, burst)" + (", redis under callgrind" if callgrind else ""),
        "warm": warm,
        "events": events,
        "batch_size": settings.streams.batch_size,
        "worker_cpu_us_per_event": best["worker_cpu_us_per_event"],
        # the smallest of the drains: Redis's own figure (contention only ever adds to CPU time)
        redis_figure: min(d[redis_figure] for d in drains),
        "load_average": {"start": load, "end": load_average()},
        "drains": drains,
    }
    report.print_rows(
        "stage cost",
        ["run", "events", "worker_cpu_us_per_event", redis_figure],
        [result],
    )
    click.echo(f"Redis calls per event: {best['redis_calls_per_event']}")
    report.write(json_path, "stage", {"results": [result]})
