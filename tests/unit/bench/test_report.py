"""The benchmarks' wing: every `sentinel bench NAME` still answers, and one writer makes every document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from infra.bench import report
from infra.bench.cli import BENCHES
from infra.cli import cli


@pytest.mark.parametrize("name", ["data", "streams", "api", "e2e", "inference", "summary"])
def test_every_benchmark_keeps_its_command(name: str) -> None:
    assert name in BENCHES
    result = CliRunner().invoke(cli, ["bench", name, "--help"])
    assert result.exit_code == 0, result.output
    assert "--json" in result.output


def test_a_document_gets_the_common_envelope(tmp_path: Path) -> None:
    path = tmp_path / "out" / "x.json"
    report.write(path, "streams", {"results": [{"events_per_s": 1}]})
    document = json.loads(path.read_text())
    assert document["benchmark"] == "streams" and document["results"] == [{"events_per_s": 1}]
    assert {"python", "cpus", "platform"} <= set(document["machine"]) and document["when"].endswith("Z")


def test_no_path_writes_nothing(tmp_path: Path) -> None:
    report.write(None, "streams", {"results": []})
    assert not list(tmp_path.iterdir())
