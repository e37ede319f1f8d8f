"""Benchmark of the data side: ``sentinel bench data`` (generator, decode, simulator rates).

Prints a table and writes JSON (``--json FILE``): generator rows/s for ``--rows``, per-event
decode latency percentiles, the simulator's top rate (unpaced) and its accuracy at ``--rate``,
measured from the ``published_ns`` headers it stamps.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from core.settings import Settings
from data.loader import DataFiles, iter_json
from data.schema import decode_transaction, encode_transaction
from data.simulator import simulate
from data.synthetic import generate
from infra.bench import report


def _percentiles(samples_ns: list[int]) -> dict[str, float]:
    us = np.asarray(samples_ns) / 1_000
    return {f"p{q}_us": float(np.percentile(us, q)) for q in (50, 90, 99)} | {"mean_us": float(us.mean())}


def _decode_latency(rows: list[bytes]) -> dict[str, float]:
    samples = []
    for raw in rows:
        start = time.perf_counter_ns()
        decode_transaction(raw)
        samples.append(time.perf_counter_ns() - start)
    stats = _percentiles(samples)
    tx = decode_transaction(rows[0])
    stats["encode_us"] = _time_us(lambda: encode_transaction(tx), 2_000)
    stats["bytes_mean"] = float(np.mean([len(r) for r in rows]))
    return stats


def _time_us(call: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n * 1e6


def _simulator(settings: Settings, rows: list[bytes], rate: float) -> dict[str, float]:
    summary = simulate(settings, rows, rate)
    return {
        "requested_rate": rate,
        "sent": summary.sent,
        "achieved_rate": summary.achieved_rate,
        "max_lag_ms": summary.max_lag_s * 1_000,
        "errors": summary.errors,
    }


@click.command("data")
@click.option("--rows", type=click.IntRange(1_000, 20_000_000), default=1_000_000, show_default=True)
@click.option("--rate", type=float, default=2_000.0, show_default=True, help="Paced simulator run.")
@click.option("--messages", type=int, default=20_000, show_default=True, help="Messages per simulator run.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.pass_obj
def data(
    live_settings: Callable[[], Settings], rows: int, rate: float, messages: int, json_path: Path | None
) -> None:
    """Generator speed, decode latency, simulator top and paced rates."""
    settings = live_settings()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = generate(rows, 0, Path(tmp))
        elapsed = time.perf_counter() - start
        results["generator"] = {"rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed}
        files = DataFiles(summary.transaction_file, summary.identity_file)
        chunks = iter_json(files, 5_000)
        sample = next(chunks)  # the first chunk also pays for reading the identity file and the order check
        start = time.perf_counter()
        for chunk in itertools.islice(chunks, max(0, messages // 5_000 - 1)):
            sample.extend(chunk)
        results["rows_to_json_us"] = (time.perf_counter() - start) / max(1, len(sample) - 5_000) * 1e6
    results["decode"] = _decode_latency(sample)
    results["simulator_unpaced"] = _simulator(settings, sample, 1e9)
    results["simulator_paced"] = _simulator(settings, sample[: max(1, min(messages, int(rate * 10)))], rate)
    table = Table("measure", "value")
    table.add_row("generator", f"{rows:,} rows in {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s)")
    table.add_row("CSV -> JSON rows (loader, steady state)", f"{results['rows_to_json_us']:.1f} µs/row")
    d = results["decode"]
    table.add_row(
        "decode_transaction", f"p50 {d['p50_us']:.1f} / p99 {d['p99_us']:.1f} µs ({d['bytes_mean']:.0f} B)"
    )
    for name in ("simulator_unpaced", "simulator_paced"):
        s = results[name]
        table.add_row(
            name, f"{s['achieved_rate']:,.0f}/s of {s['requested_rate']:,.0f}/s, {s['sent']:,} sent"
        )
    Console().print(table)
    report.write(json_path, "data", results)
