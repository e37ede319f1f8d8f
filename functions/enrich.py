"""Enrich stage: Transaction (stream ``tx.raw``) -> TxEnriched (stream ``tx.enriched``)."""

from __future__ import annotations

from collections.abc import Sequence

from data.schema import Transaction
from functions.engine import FeatureEngine
from functions.events import TxEnriched
from functions.features import CATEGORICAL_COLUMNS
from functions.velocity import client_uid


def categories(tx: Transaction) -> dict[str, str]:
    """The categorical columns of ``tx`` that have a value, as received."""
    return {c: v for c in CATEGORICAL_COLUMNS if (v := getattr(tx, c)) is not None}


def enrich(batch: Sequence[Transaction], engine: FeatureEngine) -> list[TxEnriched]:
    """The batch's features, one event per transaction, in batch order (state updated once)."""
    matrix = engine.compute(batch).astype("<f4")
    return [
        TxEnriched(
            TransactionID=tx.TransactionID,
            TransactionDT=tx.TransactionDT,
            TransactionAmt=tx.TransactionAmt,
            card1=tx.card1,
            uid=client_uid(tx),
            ProductCD=tx.ProductCD,
            P_emaildomain=tx.P_emaildomain,
            DeviceInfo=tx.DeviceInfo,
            categories=categories(tx),
            features=row.tobytes(),
        )
        for tx, row in zip(batch, matrix, strict=True)
    ]
