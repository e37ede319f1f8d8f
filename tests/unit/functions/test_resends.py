"""A TransactionID received again: replay when identical, reused when not (issue 11, item 4)."""

from __future__ import annotations

from data.schema import Transaction
from functions.enrich import Resend, resends


def _tx(tx_id: int, amount: float = 10.0) -> Transaction:
    return Transaction(
        TransactionID=tx_id,
        TransactionDT=86_400,
        TransactionAmt=amount,
        ProductCD="W",
        card1=1000,
        isFraud=None,
    )


def test_an_identical_copy_is_a_replay_and_another_content_is_reused() -> None:
    received = {1: _tx(1)}
    batch = [_tx(1), _tx(1, 11.0), _tx(2), _tx(2), _tx(2, 12.0), _tx(3)]
    assert resends(batch, received) == [
        Resend.REPLAY,
        Resend.REUSED,
        Resend.NEW,
        Resend.REPLAY,  # the first copy in the batch counts as received
        Resend.REUSED,
        Resend.NEW,
    ]
