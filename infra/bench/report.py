"""Benchmarks, output: every benchmark's JSON document is written here, with the same envelope.

{"benchmark": NAME, "when": UTC time, "machine": {python, cpus, platform}, ...the benchmark's fields}
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import click


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}


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
