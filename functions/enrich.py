"""Enrich stage: Transaction (stream ``tx.raw``) -> TxEnriched (stream ``tx.enriched``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum

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


REUSED = "TransactionID reused with different content"


class Resend(Enum):
    """What a transaction is, given what was received before under its TransactionID."""

    NEW = "new"  # never received: enrich it
    REPLAY = "replay"  # an exact re-send of a received transaction: its first copy stands, once
    REUSED = "reused"  # another transaction under a received TransactionID: a dead letter


def resends(batch: Sequence[Transaction], received: Mapping[int, Transaction]) -> list[Resend]:
    """Each transaction of ``batch`` against ``received`` (id -> the transaction received before)
    and against the earlier ones of the batch (the first copy in the batch counts as received)."""
    seen = dict(received)
    out: list[Resend] = []
    for tx in batch:
        before = seen.get(tx.TransactionID)
        if before is None:
            seen[tx.TransactionID] = tx
            out.append(Resend.NEW)
        else:
            out.append(Resend.REPLAY if before == tx else Resend.REUSED)
    return out
