"""`sentinel bench stage`: the enrich stage's load-independent cost, per event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from infra.cli import cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_stage_bench_counts_redis_instructions_and_calls_per_event(tmp_path: Path) -> None:
    out = tmp_path / "stage.json"
    args = ["bench", "stage", "--warm", "100", "--events", "100", "--repeat", "1", "--callgrind"]
    result = CliRunner().invoke(cli, [*args, "--json", str(out), "--keep-dump", str(tmp_path / "dump")])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(out.read_text())["results"]
    (drain,) = row["drains"]
    assert drain["processed"] == 100
    calls = drain["redis_calls_per_event"]
    assert calls["xadd"] == 1.0  # one tx.enriched entry per event
    assert calls["evalsha"] > 0 and calls["zcount"] >= 1  # the feature script ran, entities counted
    # a feature script alone runs well over ten thousand instructions per event
    assert row["redis_instructions_per_event"] > 10_000 and row["worker_cpu_us_per_event"] > 0
    assert (tmp_path / "dump").read_text().startswith("# callgrind format")
