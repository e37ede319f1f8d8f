"""Score stage: thresholds -> decisions, reasons only from review up, alerts, determinism, shadow."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np
import numpy.typing as npt
import pytest

from functions.decision import Thresholds
from functions.events import TxEnriched, TxScored
from functions.features import FEATURE_NAMES
from functions.score import model_matrix, score
from functions.scorer import Matrix, Reason

CARRIER = FEATURE_NAMES[0]  # the fake model reads its probability from this feature


class FakeScorer:
    """Probability = the carrier feature; records which rows it was asked to explain."""

    def __init__(self, version: str = "fake-1", names: Sequence[str] = FEATURE_NAMES, scale: float = 1.0):
        self._version = version
        self._names = list(names)
        self.scale = scale
        self.explained: list[float] = []

    @property
    def version(self) -> str:
        return self._version

    @property
    def feature_names(self) -> Sequence[str]:
        return self._names

    def predict_proba(self, matrix: Matrix) -> npt.NDArray[np.float64]:
        return np.clip(matrix[:, self._names.index(CARRIER)].astype(np.float64) * self.scale, 0, 1)

    def reasons(self, matrix: Matrix, top_k: int) -> list[list[Reason]]:
        column = self._names.index(CARRIER)
        self.explained += [float(v) for v in matrix[:, column]]
        return [
            [Reason(feature=CARRIER, value=float(row[column]), contribution=1.0)][:top_k] for row in matrix
        ]


def _tx(tx_id: int, probability: float) -> TxEnriched:
    vector = np.zeros(len(FEATURE_NAMES), dtype="<f4")
    vector[0] = probability
    return TxEnriched(
        TransactionID=tx_id,
        TransactionDT=86_400 + tx_id,
        TransactionAmt=10.0 * tx_id,
        card1=1000 + tx_id,
        uid=f"u{tx_id}",
        ProductCD="W",
        features=vector.tobytes(),
    )


THRESHOLDS = Thresholds(review=0.25, decline=0.75)
BATCH = [_tx(i, p) for i, p in enumerate([0.0, 0.24, 0.25, 0.5, 0.75, 1.0])]


def test_decisions_follow_the_thresholds_inclusive_from_below() -> None:
    scored, _ = score(BATCH, FakeScorer(), THRESHOLDS)
    assert [s.decision for s in scored] == ["approve", "approve", "review", "review", "decline", "decline"]
    assert [s.risk for s in scored] == ["low", "low", "medium", "medium", "high", "high"]
    assert [s.TransactionID for s in scored] == [tx.TransactionID for tx in BATCH]
    assert all(s.model_version == "fake-1" for s in scored)


def test_reasons_only_for_review_and_decline() -> None:
    model = FakeScorer()
    scored, _ = score(BATCH, model, THRESHOLDS)
    assert model.explained == pytest.approx([0.25, 0.5, 0.75, 1.0])  # approvals never explained
    assert [bool(s.reasons) for s in scored] == [False, False, True, True, True, True]
    assert scored[3].reasons[0].value == pytest.approx(0.5)


def test_alerts_for_review_and_decline_only() -> None:
    _, alerts = score(BATCH, FakeScorer(), THRESHOLDS)
    assert [a.TransactionID for a in alerts] == [2, 3, 4, 5]
    assert [a.decision for a in alerts] == ["review", "review", "decline", "decline"]
    assert all(a.reasons for a in alerts)


def test_scoring_is_deterministic() -> None:
    encode = msgspec.json.Encoder().encode
    first, _ = score(BATCH, FakeScorer(), THRESHOLDS)
    second, _ = score(BATCH, FakeScorer(), THRESHOLDS)
    assert [encode(s) for s in first] == [encode(s) for s in second]
    assert msgspec.json.decode(encode(first[4]), type=TxScored) == first[4]


def test_challenger_scores_in_shadow_without_changing_decisions() -> None:
    champion, challenger = FakeScorer(), FakeScorer("fake-2", scale=0.5)
    scored, alerts = score(BATCH, champion, THRESHOLDS, challenger=challenger)
    assert [s.decision for s in scored] == [s.decision for s in score(BATCH, champion, THRESHOLDS)[0]]
    shadow = [s.challenger for s in scored]
    assert all(c is not None and c.model_version == "fake-2" for c in shadow)
    assert [c.decision for c in shadow if c] == [
        "approve",
        "approve",
        "approve",
        "review",
        "review",
        "review",
    ]
    assert len(alerts) == 4


def test_empty_batch() -> None:
    assert score([], FakeScorer(), THRESHOLDS) == ([], [])


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="above decline"):
        Thresholds(review=0.9, decline=0.5)


def test_model_on_a_subset_of_features_gets_its_columns_by_name() -> None:
    names = [FEATURE_NAMES[2], CARRIER]
    full = np.arange(2 * len(FEATURE_NAMES), dtype=np.float32).reshape(2, -1)
    assert model_matrix(full, names).tolist() == [[2.0, 0.0], [len(FEATURE_NAMES) + 2.0, len(FEATURE_NAMES)]]
    scored, _ = score(BATCH, FakeScorer(names=names), THRESHOLDS)
    assert [s.decision for s in scored][-1] == "decline"
    with pytest.raises(ValueError, match="does not produce"):
        model_matrix(full, ["no_such_feature"])


class CategoricalScorer(FakeScorer):
    """Explains every row by ProductCD and card4 with the codes the model reads."""

    def reasons(self, matrix: Matrix, top_k: int) -> list[list[Reason]]:
        return [
            [
                Reason(feature="ProductCD", value=14155687.0, contribution=0.5),
                Reason(feature="card4", value=9043.0, contribution=0.25),
                Reason(feature=CARRIER, value=float(row[0]), contribution=0.1),
            ]
            for row in matrix
        ]


def test_reasons_show_a_categorical_feature_by_its_original_value() -> None:
    tx = msgspec.structs.replace(_tx(1, 0.5), categories={"ProductCD": "W"})  # card4 missing
    (scored,), _ = score([tx], CategoricalScorer(), Thresholds(review=0.3, decline=0.8))
    assert [(r.feature, r.value) for r in scored.reasons] == [
        ("ProductCD", "W"),
        ("card4", None),
        (CARRIER, 0.5),
    ]
