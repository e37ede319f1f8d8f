"""Contract every row of the pipeline table keeps: typed input, bad payloads are poison."""

from __future__ import annotations

import pytest

from core.errors import PoisonMessage
from infra.pipeline import PIPELINE
from streams.function import FunctionSpec

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
