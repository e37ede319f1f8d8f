"""Benchmarks, output: result rows as a table on the terminal, and every JSON document, one envelope.

{"benchmark": NAME, "when": UTC time, "machine": {python, cpus, platform}, ...the benchmark's fields}
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
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}


def print_rows(title: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    """One table row per result, ``columns`` in order ("-" for a missing value)."""
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*("-" if row.get(k) is None else str(row[k]) for k in columns))
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
