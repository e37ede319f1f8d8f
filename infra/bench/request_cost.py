"""`POST /v1/score` cost, load-independent: ``sentinel bench request --callgrind --json FILE``.

The gateway's app (Litestar, the real middleware, guard, body validation, scoring service and
the pipeline's enrich+score chain) called as ASGI in this process, without an HTTP server, on
its own redis-server (no persistence): ``--warm`` requests, then ``--requests`` measured ones,
each a new transaction (recorded, as an authorisation is). Reports this process's CPU µs per
request (``time.process_time``, all its threads) and, with ``--callgrind``, the instructions it
executed per request: the command runs itself again under ``valgrind --tool=callgrind`` with
instrumentation off, switched on only around the measured requests (``callgrind_control``), a
figure that does not move with the load of the box (the HTTP server's own cost is not in it).
Needs a champion model (``sentinel train --promote``).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from core.settings import Settings, get_settings
from infra.bench import report
from infra.bench.cost import load_average
from infra.bench.payloads import Bodies, load_rows
from infra.bench.stage_cost import redis_server
from infra.gateway import gateway_app
from infra.services import wait_until

_HANDSHAKE = "SENTINEL_BENCH_REQUEST_HANDSHAKE"  # set in the run under callgrind: a directory
_KEY = "bench-request-key"


async def _drive(settings: Settings, bodies: list[bytes], warm: int, handshake: Path | None) -> float:
    """CPU seconds of the measured requests (after ``warm`` of them), through the app's lifespan."""
    app = gateway_app(settings)
    startup: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await startup.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, startup.get, answers.put)  # type: ignore[arg-type]
    )
    started = await answers.get()
    if started["type"] != "lifespan.startup.complete":
        raise click.ClickException(f"the gateway did not start: {started.get('message', started)}")
    for body in bodies[:warm]:
        await _post(app, body)
    if handshake is not None:
        (handshake / "ready").write_text(str(os.getpid()))
        wait_until(lambda: (handshake / "go").exists(), 600, "the callgrind switch")
    cpu = time.process_time()
    for body in bodies[warm:]:
        await _post(app, body)
    cpu = time.process_time() - cpu
    if handshake is not None:
        (handshake / "done").write_text("")
        wait_until(lambda: (handshake / "dumped").exists(), 600, "the callgrind dump")
    await startup.put({"type": "lifespan.shutdown"})
    await lifespan
    return cpu


async def _post(app: Any, body: bytes) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/score",
        "raw_path": b"/v1/score",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
            (b"x-api-key", _KEY.encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:  # the app reads the body once; anything more would be a disconnect
            await asyncio.Event().wait()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if not sent or sent[0].get("status") != 200:
        raise click.ClickException(f"POST /v1/score answered {sent[:2]}")


def _under_callgrind(workdir: Path) -> int:
    """Run this command again under callgrind, switched on around its measured requests: the
    instructions executed."""
    handshake = workdir / "handshake"
    handshake.mkdir()
    out = workdir / "callgrind.out.%p"
    argv = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
        sys.executable, "-m", "infra.cli", *sys.argv[1:],
    ]  # fmt: skip
    env = {**os.environ, _HANDSHAKE: str(handshake)}
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: (handshake / "ready").exists() or child.poll() is not None, 1800, "the run")
        if child.poll() is not None:
            raise click.ClickException("the run under callgrind ended before measuring")
        pid = (handshake / "ready").read_text()
        _control("-i", "on", pid)
        (handshake / "go").write_text("")
        wait_until(lambda: (handshake / "done").exists(), 1800, "the measured requests")
        _control("--dump", pid)
        _control("-i", "off", pid)
        (handshake / "dumped").write_text("")
        child.wait(600)
    finally:
        if child.poll() is None:
            child.kill()
    for dump in sorted(workdir.glob("callgrind.out.*.1")):  # part 1: the dump taken at "done"
        for line in dump.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise click.ClickException("callgrind wrote no dump of the measured requests")


def _control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=120)


@click.command()
@click.option("--requests", "count", default=200, show_default=True, help="Measured requests.")
@click.option("--warm", default=300, show_default=True, help="Requests first (history, caches).")
@click.option("--callgrind", is_flag=True, help="Count the instructions per request (valgrind; slow).")
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write results here."
)
@click.option(
    "--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), help="Dataset directory."
)
def request(count: int, warm: int, callgrind: bool, json_path: Path | None, data_dir: Path | None) -> None:
    """POST /v1/score through the gateway's app in-process (no HTTP server): CPU µs or instructions per request."""
    if count < 1 or warm < 0:
        raise click.BadParameter("--requests must be at least 1 and --warm at least 0")
    base = get_settings()
    handshake = os.environ.get(_HANDSHAKE)
    if callgrind and handshake is None:
        load = load_average()
        with tempfile.TemporaryDirectory(prefix="sentinel-bench-request-") as tmp:
            instructions = _under_callgrind(Path(tmp))
        result: dict[str, Any] = {
            "run": "POST /v1/score in-process, under callgrind",
            "requests": count,
            "warm": warm,
            "instructions_per_request": round(instructions / count),
            "load_average": {"start": load, "end": load_average()},
        }
        report.print_rows("request cost", ["run", "requests", "instructions_per_request"], [result])
        report.write(json_path, "request", {"results": [result]})
        return
    rows = load_rows(data_dir or base.local.state_dir / "data", min(warm + count, 20_000))
    make = Bodies(rows)
    bodies = [make(i) for i in range(warm + count)]
    with (
        tempfile.TemporaryDirectory(prefix="sentinel-bench-request-redis-") as tmp,
        redis_server(Path(tmp), callgrind=False) as (url, _),
    ):
        settings = base.replace(
            redis={"url": url, "key_prefix": "bench:request:"}, gateway={"api_keys": f"scorer:{_KEY}"}
        )
        load = load_average()
        cpu = asyncio.run(_drive(settings, bodies, warm, Path(handshake) if handshake else None))
    if handshake is not None:
        return  # the parent reports the instructions
    result = {
        "run": "POST /v1/score in-process",
        "requests": count,
        "warm": warm,
        "cpu_us_per_request": round(cpu / count * 1e6, 1),
        "load_average": {"start": load, "end": load_average()},
    }
    report.print_rows("request cost", ["run", "requests", "cpu_us_per_request"], [result])
    report.write(json_path, "request", {"results": [result]})
