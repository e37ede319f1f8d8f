"""Contract every row of the pipeline table keeps: typed input, bad payloads are poison."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from core.errors import PoisonMessage
from infra.pipeline.table import PIPELINE
from streams.function import FunctionSpec

ROOT = Path(__file__).resolve().parents[3]
STAGES = [spec for spec in PIPELINE if spec.name != "noop"]


@pytest.mark.parametrize("spec", STAGES, ids=lambda s: s.name)
@pytest.mark.parametrize("payload", [b"not json", b"[]", b'{"TransactionID": -1}', b"{}"])
def test_a_bad_payload_is_poison_for_every_stage(spec: FunctionSpec, payload: bytes) -> None:
    with pytest.raises(PoisonMessage):
        spec.codec.decode(payload)


def test_the_table_chains_raw_transactions_to_scores() -> None:
    names = [spec.name for spec in PIPELINE]
    assert {"enrich", "label"} <= set(names)
    if "score" in names:
        assert [s.name for s in PIPELINE.chain(["enrich", "score"])] == ["enrich", "score"]


def test_the_readme_shows_the_noop_row_as_the_table_has_it() -> None:
    readme = (ROOT / "README.md").read_text()
    table = (ROOT / "infra" / "pipeline" / "table.py").read_text()
    shown = readme.split('```python\nFunctionSpec(\n    name="noop",', 1)[1].split("```", 1)[0]
    row = 'FunctionSpec(\n    name="noop",' + shown
    assert textwrap.indent(row.rstrip(), " " * 8) in table
