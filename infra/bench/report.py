"""Benchmarks, output: result rows as a table on the terminal, and every JSON document, one envelope.

{"benchmark": NAME, "when": UTC time, "machine": {python, cpus, platform, load average when written},
...the benchmark's fields}; the cost tables (``infra.bench.cost``) print here too.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_1_5_15m": [round(x, 2) for x in os.getloadavg()],
    }


def print_rows(title: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    """One table row per result, ``columns`` in order ("-" for a missing value)."""
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*("-" if row.get(k) is None else str(row[k]) for k in columns))
    Console().print(table)


def print_cost(title: str, cost: dict[str, Any]) -> None:
    """One cost table (``infra.bench.cost.Meter.stop``): CPU µs/event per process, then per Redis command."""
    table = Table(
        "where", "CPU µs/event", "calls/event", title=f"cost: {title} (load {cost['load_average']})"
    )
    for name, us in cost["cpu_us_per_event"].items():
        table.add_row(name, str(us), "")
    for row in cost["redis_commands"]:
        table.add_row(
            f"  redis {row['command']}", str(row["redis_us_per_event"]), str(row["calls_per_event"])
        )
    Console().print(table)


def write(json_path: Path | None, benchmark: str, fields: dict[str, Any]) -> None:
    """Write the document of ``benchmark`` to ``json_path`` (nothing when None) and say where."""
    if json_path is None:
        return
    document = {
        "benchmark": benchmark,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        **fields,
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    click.echo(f"wrote {json_path}")
