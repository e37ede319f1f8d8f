"""`sentinel bench api`: POST /v1/score on a real gateway server, open loop at fixed rates and at saturation.

For each worker count it starts ``sentinel gateway`` (granian) on a free port against the live
Redis with a scratch key prefix, warms it up, then drives it with the open-loop generator
(``loadgen``) at each rate, and closed loop with many connections to find its ceiling. Each
request is a new transaction (fresh TransactionID), recorded like an authorisation. Prints a
table; ``--json FILE`` writes every number. Needs a champion model (``sentinel prepare``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from core.connect import redis_client
from core.settings import Settings
from infra.bench import report
from infra.bench.cost import Meter
from infra.bench.gateway_process import GatewayProcess
from infra.bench.loadgen import LoadGenerator, RunResult, http_request
from infra.bench.payloads import Bodies, load_rows
from models.registry import Registry

log = logging.getLogger(__name__)
BENCH_KEY = "bench-" + uuid.uuid4().hex


def _requests(port: int, bodies: Bodies) -> Any:
    headers = {"Content-Type": "application/json", "X-API-Key": BENCH_KEY}
    return lambda i: http_request("POST", f"127.0.0.1:{port}", "/v1/score", bodies(i), headers)


async def _drive(
    port: int,
    bodies: Bodies,
    rates: list[float],
    duration: float,
    concurrency: int,
    warmup: float,
    meter: Meter,
) -> list[dict[str, Any]]:
    """Each run's summary with its cost table (CPU µs per answered request: gateway, Redis)."""
    gen = LoadGenerator("127.0.0.1", port, _requests(port, bodies))
    try:
        await gen.open_loop(min(rates), warmup)  # JIT-free Python still warms caches, pools, models
        runs: list[Callable[[], Awaitable[RunResult]]] = [partial(gen.open_loop, r, duration) for r in rates]
        runs.append(partial(gen.saturate, concurrency, duration))
        summaries = []
        for run in runs:
            meter.start()
            result = await run()
            cost = meter.stop(result.ok)
            summaries.append(
                {**result.summary(), "cpu_us_per_request": cost["cpu_us_per_event"], "cost": cost}
            )
        return summaries
    finally:
        gen.close()


def _run_uvloop(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def _check_champion(settings: Settings) -> str:
    champion = Registry(settings.models.registry_dir).pointer().get("champion")
    if not champion:
        raise click.ClickException(
            f"no champion model in {settings.models.registry_dir}: run `sentinel prepare` "
            "(or `sentinel train --promote`) first"
        )
    return str(champion)


@click.command()
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write results here."
)
@click.option("--rates", default="200,500,1000", show_default=True, help="Open-loop rates (requests/s).")
@click.option(
    "--duration", type=click.FloatRange(0.5, 600), default=10.0, show_default=True, help="Seconds per run."
)
@click.option(
    "--workers", "worker_counts", default="1,2", show_default=True, help="Gateway worker counts to test."
)
@click.option(
    "--concurrency", type=click.IntRange(1, 1024), default=32, show_default=True, help="Saturation clients."
)
@click.option(
    "--warmup", type=click.FloatRange(0, 60), default=3.0, show_default=True, help="Warm-up seconds."
)
@click.option(
    "--rows", type=click.IntRange(100, 1_000_000), default=20_000, show_default=True, help="Distinct rows."
)
@click.option(
    "--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), help="Dataset directory."
)
def api(
    json_path: Path | None,
    rates: str,
    duration: float,
    worker_counts: str,
    concurrency: int,
    warmup: float,
    rows: int,
    data_dir: Path | None,
) -> None:
    """Latency and throughput of POST /v1/score on a real gateway (granian), 1 and 2 workers.

    Open loop: requests are sent at a fixed rate whatever the replies, latency from send to
    reply; closed loop (saturation): CONCURRENCY clients back to back. Reports achieved rate
    and p50/p95/p99/p99.9 per run.
    """
    live: Settings = click.get_current_context().obj()
    champion = _check_champion(live)
    rate_list = [float(r) for r in rates.split(",") if r.strip()]
    workers_list = [int(w) for w in worker_counts.split(",") if w.strip()]
    payload_rows = load_rows(data_dir or live.local.state_dir / "data", rows)
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    bench_settings = live.replace(redis={"key_prefix": prefix}, gateway={"api_keys": f"scorer:{BENCH_KEY}"})
    document: dict[str, Any] = {
        "endpoint": "POST /v1/score",
        "model": champion,
        "params": {
            "rates": rate_list,
            "duration_s": duration,
            "concurrency": concurrency,
            "rows": len(payload_rows),
        },
        "runs": [],
    }
    client = redis_client(live.redis.url or "")
    try:
        for workers in workers_list:
            with GatewayProcess(bench_settings, workers) as server:
                click.echo(f"gateway with {workers} worker(s) on port {server.port}: warming up")
                meter = Meter(client, {"gateway": server.pids})
                summaries = _run_uvloop(
                    _drive(server.port, Bodies(payload_rows), rate_list, duration, concurrency, warmup, meter)
                )
                document["runs"].extend({"workers": workers, **s} for s in summaries)
    finally:
        client.close()
        _drop_prefix(live, prefix)
    _print(document)
    report.write(json_path, "api", document)


def _drop_prefix(settings: Settings, prefix: str) -> None:
    client = redis_client(settings.redis.url or "")
    try:
        batch = list(client.scan_iter(match=f"{prefix}*", count=5_000))
        while batch:
            client.unlink(*batch[:5_000])
            batch = batch[5_000:]
    finally:
        client.close()


def _print(document: dict[str, Any]) -> None:
    table = Table(
        "workers",
        "mode",
        "target/s",
        "achieved/s",
        "ok",
        "errors",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "p99.9 ms",
        "CPU µs/req (gateway+redis)",
    )
    for run in document["runs"]:
        lat = run["latency_ms"]
        table.add_row(
            str(run["workers"]),
            run["mode"],
            "-" if run["target_rate"] is None else f"{run['target_rate']:.0f}",
            f"{run['achieved_rate']:.0f}",
            str(run["ok"]),
            str(run["errors"]),
            *(f"{lat[q]:.2f}" if lat[q] is not None else "-" for q in ("p50", "p95", "p99", "p999")),
            str(run["cpu_us_per_request"]["total"]),
        )
    Console().print(table)
