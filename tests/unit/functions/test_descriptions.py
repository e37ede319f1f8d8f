"""Every feature has a short human description, built from the feature definitions."""

from __future__ import annotations

from functions.descriptions import FEATURE_DESCRIPTIONS
from functions.features import FEATURE_NAMES


def test_every_feature_is_described_once() -> None:
    assert list(FEATURE_DESCRIPTIONS) == FEATURE_NAMES
    assert [name for name, text in FEATURE_DESCRIPTIONS.items() if not text] == []
    assert len(set(FEATURE_DESCRIPTIONS.values())) == len(FEATURE_NAMES)  # no two features read alike


def test_descriptions_say_what_a_feature_counts() -> None:
    assert (
        FEATURE_DESCRIPTIONS["card_cnt_1h"] == "number of transactions of this card (card1) in the last hour"
    )
    assert FEATURE_DESCRIPTIONS["ProductCD"] == "product code of the transaction"
    assert "V12" in FEATURE_DESCRIPTIONS["V12"]
