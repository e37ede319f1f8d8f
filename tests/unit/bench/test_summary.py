"""`sentinel bench summary`: every goal of the performance issue, read from the e2e and api documents."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from infra.bench.summary import goals_table
from infra.cli import cli

COST = {"events": 10, "cpu_us_per_event": {"redis": 1.0, "total": 2.0}, "redis_commands": [],
        "load_average": {"start": [1, 1, 1], "end": [1, 1, 1]}}  # fmt: skip
E2E = {
    "parameters": {"rate": 1000},
    "results": [
        {"run": "paced 1000/s", "p99_ms": 30.0},
        {"run": "saturation", "events_per_s": 12_000, "cpu_us_per_event": 150.0, "cost": COST},
        {"run": "sustained (p99 <= 50 ms)", "events_per_s": 2500},
        {"run": "enrich alone (in-process worker, burst)", "final_stage": "enrich", "cost": COST},
    ],
}
API = {"runs": [{"workers": 1, "target_rate": 1000.0, "latency_ms": {"p99": 2.5}, "cost": COST},
                {"workers": 2, "target_rate": 1000.0, "latency_ms": {"p99": 9.0}}]}  # fmt: skip


def test_each_goal_is_read_from_its_run_and_judged_at_least_or_at_most() -> None:
    rows = goals_table(E2E, API)
    assert [(r["measured"], r["met"]) for r in rows] == [
        (12_000, True),  # saturation >= 10,000
        (2500, False),  # sustained >= 5,000
        (30.0, False),  # p99 at 1,000/s <= 25 ms
        (2.5, True),  # /v1/score p99, one worker <= 3 ms (not the two-worker run)
        (150.0, True),  # CPU µs/event <= 180
    ]


def test_a_missing_document_leaves_its_goals_unmeasured_and_unmet(tmp_path: Path) -> None:
    (tmp_path / "e2e.json").write_text(json.dumps(E2E))
    out = tmp_path / "summary.json"
    result = CliRunner().invoke(cli, ["bench", "summary", "--results", str(tmp_path), "--json", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    api_goal = document["goals"][3]
    assert api_goal["measured"] is None and api_goal["met"] is False
    assert document["cost"]["saturation"] == COST and document["cost"]["stages_alone"] == {"enrich": COST}
    assert document["sources"]["e2e"]["parameters"] == {"rate": 1000} and document["sources"]["api"] is None
    assert "load_average_1_5_15m" in document["machine"]
