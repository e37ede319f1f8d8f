"""Contract every row of the pipeline table keeps: typed input, bad payloads are poison."""

from __future__ import annotations

import pytest

from core.errors import PoisonMessage
from infra.pipeline import PIPELINE
from streams.function import FunctionSpec

STAGES = list(PIPELINE)


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


def test_users_see_only_the_product_functions() -> None:
    """Benchmark plumbing (the ``noop`` copier) stays out of `sentinel fn list` and the overview."""
    assert [spec.name for spec in PIPELINE] == ["enrich", "score", "label"]
    assert not [spec for spec in PIPELINE if spec.input.startswith("bench.")]
