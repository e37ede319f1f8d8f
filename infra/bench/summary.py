"""`sentinel bench summary`: the goals table of the performance issue, from the documents of one `just bench`.

Reads ``e2e.json`` and ``api.json`` in ``--results`` and writes one document (``--json``) with
every figure against its goal, the cost tables they were measured with (CPU µs per event per
process and per Redis command, load average), and each source's machine and parameters.
A figure whose source is missing or did not run is ``null`` and not met.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from infra.bench import report

Doc = dict[str, Any]


def _run(doc: Doc | None, label: str) -> Doc | None:
    """The e2e result row whose ``run`` starts with ``label``."""
    return next((r for r in (doc or {}).get("results", []) if str(r.get("run", "")).startswith(label)), None)


def _api_run(doc: Doc | None, workers: int, rate: float) -> Doc | None:
    runs = (doc or {}).get("runs", [])
    return next((r for r in runs if r["workers"] == workers and r.get("target_rate") == rate), None)


def _get(row: Doc | None, *path: str) -> Any:
    value: Any = row
    for key in path:
        value = None if value is None else value.get(key)
    return value


# figure, goal, "min" (at least) or "max" (at most), unit, where it comes from
GOALS: list[tuple[str, float, str, str, Callable[[Doc | None, Doc | None], Any]]] = [
    ("end-to-end drained, unpaced (broker -> mirror -> enrich -> score)", 10_000, "min", "events/s",
     lambda e2e, api: _get(_run(e2e, "saturation"), "events_per_s")),
    ("sustained with p99 publish -> scored <= 50 ms", 5_000, "min", "events/s",
     lambda e2e, api: _get(_run(e2e, "sustained"), "events_per_s")),
    ("p99 publish -> scored at 1,000 events/s", 25, "max", "ms",
     lambda e2e, api: _get(_run(e2e, "paced 1000/s"), "p99_ms")),
    ("/v1/score p99 at 1,000 requests/s, one worker", 3, "max", "ms",
     lambda e2e, api: _get(_api_run(api, 1, 1000.0), "latency_ms", "p99")),
    ("CPU per event, all pipeline processes (mirror + workers + Redis), at saturation", 180, "max", "µs",
     lambda e2e, api: _get(_run(e2e, "saturation"), "cpu_us_per_event")),
]  # fmt: skip


def goals_table(e2e: Doc | None, api: Doc | None) -> list[Doc]:
    rows = []
    for figure, goal, kind, unit, read in GOALS:
        value = read(e2e, api)
        met = value is not None and (value >= goal if kind == "min" else value <= goal)
        rows.append({"figure": figure, "measured": value, "goal": f"{'≥' if kind == 'min' else '≤'} {goal:g}",
                     "unit": unit, "met": met})  # fmt: skip
    return rows


def _read(path: Path) -> Doc | None:
    try:
        document: Doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document


@click.command()
@click.option(
    "--results", type=click.Path(file_okay=False, path_type=Path), default=Path("bench-results"),
    show_default=True, help="Directory of the benchmark documents (e2e.json, api.json).",
)  # fmt: skip
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
def summary(results: Path, json_path: Path | None) -> None:
    """The performance goals against the latest e2e and api documents, with their cost tables."""
    e2e, api = _read(results / "e2e.json"), _read(results / "api.json")
    rows = goals_table(e2e, api)
    report.print_rows("performance goals", ("figure", "measured", "unit", "goal", "met"), rows)
    api_1000 = _api_run(api, 1, 1000.0)
    report.write(json_path, "summary", {
        "goals": rows,
        "cost": {
            "saturation": _get(_run(e2e, "saturation"), "cost"),
            "stages_alone": {r["final_stage"]: r["cost"] for r in (e2e or {}).get("results", [])
                             if str(r.get("run", "")).endswith("alone (in-process worker, burst)")},
            "api_1000_per_s_one_worker": _get(api_1000, "cost"),
        },
        "sources": {name: None if doc is None else {k: doc.get(k) for k in ("when", "machine", "parameters", "params")}
                    for name, doc in (("e2e", e2e), ("api", api))},
    })  # fmt: skip
