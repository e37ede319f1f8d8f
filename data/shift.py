"""Traffic source, what-if: inject a covariate shift or a new fraud pattern from a point in event time.

Applied to decoded rows before they are published (``sentinel simulate --shift-at ...``), so
the local stack shows the model lifecycle react: drift checks, estimated vs realised
performance, a retrain, a challenger in shadow, a promotion.

- covariate shift, pure: ``thin`` drops a share of one product's transactions (``"W:0.5"``:
  half of W is not sent, nor its labels). The mix of inputs moves; what each transaction
  means (the chance that it is fraud, given what the model sees) does not, so a calibrated
  model stays calibrated and the estimate before labels holds.
- covariate shift that the model reads as something else: ``amount_factor`` multiplies
  TransactionAmt; ``product_mix`` relabels a share of the rows of one ProductCD as another
  (``"W:C:0.5"``: half of W becomes C). Who commits fraud does not change, but the inputs
  now say otherwise (a legitimate W purchase looks like a C one), so calibration breaks: the
  drift check flags it, and the estimate before labels is no longer to be trusted.
- new fraud pattern (concept shift): rows whose card1 falls in ``fraud_cards`` (a range, a
  compromised BIN block) are fraud with probability ``fraud_share``, decided per
  TransactionID (deterministic). The inputs do not change; their meaning does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import msgspec

from data.schema import COLUMNS_BY_NAME, Transaction


def _unit(tx_id: int, salt: str) -> float:
    """A deterministic number in [0, 1) per transaction."""
    digest = hashlib.blake2b(f"{salt}:{tx_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _product(code: str) -> str:
    codes = COLUMNS_BY_NAME["ProductCD"].allowed or ()
    if code not in codes:
        raise ValueError(f"{code!r} is not a product code ({', '.join(map(str, codes))})")
    return code


def _share(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        raise ValueError(f"share {text!r} is not a number") from None
    if not 0 <= share <= 1:
        raise ValueError(f"share {text} is not in [0, 1]")
    return share


@dataclass(frozen=True)
class Shift:
    start_dt: int
    amount_factor: float = 1.0
    product_mix: tuple[str, str, float] | None = None  # (from ProductCD, to ProductCD, share)
    fraud_cards: tuple[int, int] | None = None  # card1 range [low, high)
    fraud_share: float = 0.8
    thin: tuple[str, float] | None = None  # (ProductCD, share of its rows dropped)

    @staticmethod
    def parse_mix(text: str) -> tuple[str, str, float]:
        """``"W:C:0.5"`` -> ("W", "C", 0.5); ValueError saying what is wrong otherwise."""
        parts = text.split(":")
        if len(parts) != 3:
            raise ValueError(f"{text!r} is not FROM:TO:SHARE (e.g. W:C:0.5)")
        source, target, share = parts
        return _product(source), _product(target), _share(share)

    @staticmethod
    def parse_cards(text: str) -> tuple[int, int]:
        """``"5000:5400"`` -> (5000, 5400), a card1 range [low, high); ValueError otherwise."""
        parts = text.split(":")
        try:
            low, high = (int(part) for part in parts)
        except ValueError:
            raise ValueError(f"{text!r} is not LOW:HIGH with whole numbers (e.g. 5000:5400)") from None
        if low >= high:
            raise ValueError(f"{text!r}: LOW must be below HIGH")
        return low, high

    @staticmethod
    def parse_thin(text: str) -> tuple[str, float]:
        """``"W:0.5"`` -> ("W", 0.5); ValueError saying what is wrong otherwise."""
        parts = text.split(":")
        if len(parts) != 2:
            raise ValueError(f"{text!r} is not PRODUCT:SHARE (e.g. W:0.5)")
        return _product(parts[0]), _share(parts[1])

    def keeps(self, tx: Transaction) -> bool:
        """False for a transaction the thinning drops (it is not sent at all)."""
        if self.thin is None or tx.TransactionDT < self.start_dt:
            return True
        product, share = self.thin
        return tx.ProductCD != product or _unit(tx.TransactionID, "thin") >= share

    def apply(self, tx: Transaction) -> Transaction:
        if tx.TransactionDT < self.start_dt:
            return tx
        changes: dict[str, object] = {}
        if self.amount_factor != 1.0:
            changes["TransactionAmt"] = round(tx.TransactionAmt * self.amount_factor, 3)
        if self.product_mix is not None:
            source, target, share = self.product_mix
            if tx.ProductCD == source and _unit(tx.TransactionID, "mix") < share:
                changes["ProductCD"] = target
        cards = self.fraud_cards
        in_block = cards is not None and cards[0] <= tx.card1 < cards[1]
        if in_block and _unit(tx.TransactionID, "fraud") < self.fraud_share:
            changes["isFraud"] = 1
        return msgspec.structs.replace(tx, **changes) if changes else tx

    def stream(self, rows: Iterable[Transaction]) -> Iterator[Transaction]:
        return (self.apply(tx) for tx in rows if self.keeps(tx))
