"""Enrich stage: Transaction (stream ``tx.raw``) -> TxEnriched (stream ``tx.enriched``)."""

from __future__ import annotations

from collections.abc import Sequence

from data.schema import Transaction
from functions.engine import FeatureEngine
from functions.events import TxEnriched
from functions.velocity import client_uid


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
            features=row.tobytes(),
        )
        for tx, row in zip(batch, matrix, strict=True)
    ]
