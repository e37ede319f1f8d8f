"""Ingest contract: the IEEE-CIS columns, and one joined row as a validated ``Transaction`` event.

Everything that reads or writes a transaction (loader, generator, simulator, mirror,
gateway, features) takes the columns from here. ``ALL_COLUMNS`` is the single column
specification (name, type, nullability, allowed values or format); the ``Transaction``
Struct is generated from it, so the 434 fields never drift from the spec. Validation
happens at decode time through msgspec types and ``Meta`` constraints, never in a
per-field Python loop, so decoding one event costs tens of microseconds.

    tx = decode_transaction(b'{"TransactionID": 1, "TransactionDT": 86400, ...}')
    raw = encode_transaction(tx)          # JSON, original column names, nulls omitted
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import msgspec

from core.errors import PoisonMessage

Kind = Literal["int", "float", "str"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the Kaggle files: how it is typed and what values it may hold."""

    name: str
    kind: Kind
    table: Literal["transaction", "identity"]
    nullable: bool = True
    allowed: tuple[str | int, ...] | None = None  # closed set of values (categoricals)
    pattern: str | None = None  # regex a free-form string must match
    ge: float | None = None
    le: float | None = None
    max_length: int | None = None

    @property
    def categorical(self) -> bool:
        """Strings are categories for the models (pandas ``category``, never free text)."""
        return self.kind == "str"

    def annotation(self) -> Any:
        """The msgspec type that enforces this column at decode time."""
        base: Any
        if self.allowed is not None:
            base = Literal[self.allowed]
        else:
            base = {"int": int, "float": float, "str": str}[self.kind]
            if (self.ge, self.le, self.pattern, self.max_length) != (None, None, None, None):
                meta = msgspec.Meta(ge=self.ge, le=self.le, pattern=self.pattern, max_length=self.max_length)
                base = Annotated[base, meta]
        return base | None if self.nullable else base


# Amounts above this are not card payments; it also rejects infinities (NaN fails ge=0).
MAX_AMOUNT = 1e7
MAX_ID = 2**53 - 1  # ids stay exact in JSON numbers everywhere (JavaScript dashboards included)
MAX_DT = 2**31 - 1  # seconds: about 68 years after the reference point (the files span one year)

BOUNDS: dict[str, tuple[float, float]] = {
    # What each numeric column can hold: the range seen in the Kaggle files (in brackets) with
    # ample room. A value outside is a fault of the data, not a transaction: the stream path
    # dead-letters it and the gateway answers 400, both naming the column. One table; the
    # column specification below takes its ge/le from here.
    "TransactionID": (0, MAX_ID),
    "TransactionDT": (0, MAX_DT),  # [86,400, 34.2 million]
    "TransactionAmt": (0, MAX_AMOUNT),  # [0.25, 31,937]
    "card1": (1000, 18396),  # the documented range of the card field
    "card2": (0, 1_000),  # [100, 600]
    "card3": (0, 1_000),  # [100, 231]
    "card5": (0, 1_000),  # [100, 237]
    "addr1": (0, 1_000),  # [100, 540], a region code
    "addr2": (0, 1_000),  # [10, 102], a country code
    "dist1": (0, 100_000),  # [0, 10,286]
    "dist2": (0, 100_000),  # [0, 11,623]
    "C": (0, 1_000_000),  # C1-C14, counts: [0, 5,691]
    "D": (-10_000, 10_000),  # D1-D15, days (some negative): [-193, 1,708]; 27 years either way
    "V": (-10_000_000, 10_000_000),  # V1-V339, engineered amounts and counts (largest: ~641,511)
    "id": (-10_000_000, 10_000_000),  # numeric id_ columns: [-660, 999,595]
}
"""Bounds of the numeric columns: a name, or the prefix of a family (``C``, ``D``, ``V``, ``id``)."""


def bounds(name: str) -> tuple[float, float] | None:
    """(ge, le) of a numeric column, from ``BOUNDS``."""
    family = "id" if name.startswith("id_") else name[0] if name[1:].isdigit() else name
    return BOUNDS.get(name) or BOUNDS.get(family)


TF = ("T", "F")
FOUND = ("Found", "NotFound")
EMAIL_DOMAIN = r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$"  # "gmail" alone occurs in the real files

# id_ columns holding strings, with their closed sets or formats; the other ids are floats.
_ID_STRINGS: dict[int, dict[str, Any]] = {
    12: {"allowed": FOUND},
    15: {"allowed": ("New", "Found", "Unknown")},
    16: {"allowed": FOUND},
    23: {"pattern": r"^IP_PROXY:[A-Z]+$", "max_length": 40},
    27: {"allowed": FOUND},
    28: {"allowed": ("New", "Found")},
    29: {"allowed": FOUND},
    30: {"max_length": 100},  # operating system, e.g. "Android 7.0"
    31: {"max_length": 100},  # browser, e.g. "chrome 62.0"
    33: {"pattern": r"^\d+x\d+$", "max_length": 20},  # screen, e.g. "1334x750"
    34: {"pattern": r"^match_status:-?\d+$", "max_length": 20},
    35: {"allowed": TF},
    36: {"allowed": TF},
    37: {"allowed": TF},
    38: {"allowed": TF},
}


def _transaction_columns() -> tuple[Column, ...]:
    def col(name: str, kind: Kind, **spec: Any) -> Column:
        return _bounded(Column(name, kind, "transaction", **spec))

    return (
        col("TransactionID", "int", nullable=False),
        col("isFraud", "int", allowed=(0, 1)),  # absent in the test files
        col("TransactionDT", "int", nullable=False),
        col("TransactionAmt", "float", nullable=False),
        col("ProductCD", "str", nullable=False, allowed=("W", "C", "H", "S", "R")),
        col("card1", "int", nullable=False),
        col("card2", "float"),
        col("card3", "float"),
        col("card4", "str", allowed=("visa", "mastercard", "american express", "discover")),
        col("card5", "float"),
        col("card6", "str", allowed=("debit", "credit", "debit or credit", "charge card")),
        col("addr1", "float"),
        col("addr2", "float"),
        col("dist1", "float"),
        col("dist2", "float"),
        col("P_emaildomain", "str", pattern=EMAIL_DOMAIN, max_length=64),
        col("R_emaildomain", "str", pattern=EMAIL_DOMAIN, max_length=64),
        *(col(f"C{i}", "float") for i in range(1, 15)),
        *(col(f"D{i}", "float") for i in range(1, 16)),
        *(col(f"M{i}", "str", allowed=("M0", "M1", "M2") if i == 4 else TF) for i in range(1, 10)),
        *(col(f"V{i}", "float") for i in range(1, 340)),
    )


def _identity_columns() -> tuple[Column, ...]:
    def col(name: str, kind: Kind, **spec: Any) -> Column:
        return _bounded(Column(name, kind, "identity", **spec))

    ids = tuple(
        col(f"id_{i:02d}", "str", **_ID_STRINGS[i]) if i in _ID_STRINGS else col(f"id_{i:02d}", "float")
        for i in range(1, 39)
    )
    return (
        col("TransactionID", "int", nullable=False),
        *ids,
        col("DeviceType", "str", allowed=("mobile", "desktop")),
        col("DeviceInfo", "str", max_length=200),
    )


def _bounded(column: Column) -> Column:
    """``column`` with its bounds from ``BOUNDS`` (every numeric column has some)."""
    if column.kind == "str" or column.allowed is not None:
        return column
    found = bounds(column.name)
    if found is None:
        raise ValueError(f"numeric column {column.name} has no bounds in BOUNDS")
    return dataclasses.replace(column, ge=found[0], le=found[1])


TRANSACTION_COLUMNS: tuple[Column, ...] = _transaction_columns()
"""``train_transaction.csv`` in file order (394 columns)."""
IDENTITY_COLUMNS: tuple[Column, ...] = _identity_columns()
"""``train_identity.csv`` in file order (41 columns, TransactionID first)."""
ALL_COLUMNS: tuple[Column, ...] = TRANSACTION_COLUMNS + IDENTITY_COLUMNS[1:]
"""One joined row: the transaction columns, then the identity columns (434 columns)."""
COLUMNS_BY_NAME: dict[str, Column] = {c.name: c for c in ALL_COLUMNS}
TRANSACTION_HEADER: tuple[str, ...] = tuple(c.name for c in TRANSACTION_COLUMNS)
IDENTITY_HEADER: tuple[str, ...] = tuple(c.name for c in IDENTITY_COLUMNS)


def canonical_name(name: str) -> str:
    """``id-01`` (the test_identity spelling) -> ``id_01``; other names unchanged."""
    return "id_" + name[3:] if name.startswith("id-") else name


# Every spelling we accept -> the canonical column name.
_CANONICAL: dict[str, str] = {
    **{c.name: c.name for c in ALL_COLUMNS},
    **{c.name.replace("_", "-", 1): c.name for c in IDENTITY_COLUMNS if c.name.startswith("id_")},
}

_STRUCT_OPTIONS: dict[str, Any] = {
    "frozen": True,
    "kw_only": True,
    "omit_defaults": True,
    "gc": False,
    "module": __name__,
}

if TYPE_CHECKING:

    class Transaction(msgspec.Struct, frozen=True, kw_only=True):
        """One joined IEEE-CIS row (type-checker view; the real class is generated below)."""

        TransactionID: int
        isFraud: Literal[0, 1] | None
        TransactionDT: int
        TransactionAmt: float
        ProductCD: str
        card1: int

        def __getattr__(self, name: str) -> Any: ...

else:
    Transaction = msgspec.defstruct(
        "Transaction",
        [(c.name, c.annotation()) if not c.nullable else (c.name, c.annotation(), None) for c in ALL_COLUMNS],
        **_STRUCT_OPTIONS,
    )
    Transaction.__doc__ = "One joined IEEE-CIS row: the transaction and (optional) identity columns."

# The same row as a client must send it to the gateway: an unknown (e.g. misspelt) column is an
# error, not silently dropped. The stream path keeps ``Transaction`` (other producers' extra
# fields are ignored there); the gateway validates against this one before converting.
StrictTransaction: type[Transaction] = msgspec.defstruct(  # type: ignore[assignment]
    "Transaction",
    [(c.name, c.annotation()) if not c.nullable else (c.name, c.annotation(), None) for c in ALL_COLUMNS],
    forbid_unknown_fields=True,
    **_STRUCT_OPTIONS,
)


class Label(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The outcome of a transaction, known later (a chargeback or its absence)."""

    TransactionID: Annotated[int, msgspec.Meta(ge=0, le=MAX_ID)]
    isFraud: Literal[0, 1]


class InvalidRow(PoisonMessage):
    """A row that does not fit the schema; the message names the column and the value."""

    def __init__(self, reason: str, column: str | None = None, value: object = None) -> None:
        self.reason = reason
        self.column = column
        self.value = value
        if column is None:
            super().__init__(reason)
        elif value is None:
            super().__init__(f"column {column}: {reason}")
        else:
            super().__init__(f"column {column}={value!r}: {reason}")


_encoder = msgspec.json.Encoder()
_tx_decoder = msgspec.json.Decoder(Transaction)
_tx_text_decoder = msgspec.json.Decoder(Transaction, strict=False)
_label_decoder = msgspec.json.Decoder(Label)
_any_decoder = msgspec.json.Decoder()
_PATH = re.compile(r"at `\$\.([A-Za-z0-9_\-]+)`")
_MISSING = re.compile(r"missing required field `([A-Za-z0-9_\-]+)`")


def _invalid(exc: msgspec.MsgspecError, values: Mapping[str, object] | None) -> InvalidRow:
    message = str(exc)
    match = _PATH.search(message) or _MISSING.search(message)
    column = match.group(1) if match else None
    value = values.get(column) if values is not None and column is not None else None
    reason = _PATH.sub("", message).rstrip(" -")
    return InvalidRow(reason, column, value)


def decode_transaction(raw: bytes, *, strict: bool = True) -> Transaction:
    """Validate one JSON event (a joined row, original column names) into a Transaction.

    Raises InvalidRow naming the column and value when the event does not fit the schema.
    ``strict=False`` also accepts numbers written as strings (``"card1": "13926"``).
    """
    if b'"id-' in raw:  # rare hyphenated identity spelling: normalise then validate
        obj = _decode(_any_decoder, raw)
        if not isinstance(obj, dict):
            raise InvalidRow(f"expected a JSON object, got {type(obj).__name__}")
        return decode_row(obj)
    return _decode(_tx_decoder if strict else _tx_text_decoder, raw)


def _decode(decoder: msgspec.json.Decoder[T], raw: bytes) -> T:
    """``decoder.decode(raw)``; every failure of the bytes (malformed, truncated, out of range,
    nested too deep, invalid UTF-8) as InvalidRow, naming the column when there is one."""
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise _invalid(exc, _values(raw)) from exc
    except msgspec.DecodeError as exc:
        raise InvalidRow(f"not JSON: {exc}") from exc
    except RecursionError as exc:
        raise InvalidRow("JSON nested too deeply") from exc
    except UnicodeDecodeError as exc:
        raise InvalidRow(f"invalid UTF-8 in a string: {exc.reason}") from exc


def _values(raw: bytes) -> Mapping[str, object] | None:
    """The event as a mapping, to quote the offending value; None when it is not one."""
    try:
        values = _any_decoder.decode(raw)
    except (msgspec.MsgspecError, RecursionError, UnicodeDecodeError):
        return None
    return values if isinstance(values, dict) else None


def _present(value: object) -> bool:
    return not (value is None or value == "" or (isinstance(value, float) and math.isnan(value)))


def decode_row(row: Mapping[str, object]) -> Transaction:
    """Validate one row given as a mapping (CSV strings, pandas records, parsed JSON).

    Empty cells, None and NaN are nulls; ``id-01`` is read as ``id_01``; unknown columns
    are ignored; numbers given as strings are parsed.
    """
    clean = {_CANONICAL[name]: value for name, value in row.items() if name in _CANONICAL and _present(value)}
    try:
        return msgspec.convert(clean, Transaction, strict=False)
    except msgspec.ValidationError as exc:
        raise _invalid(exc, clean) from exc


def encode_transaction(tx: Transaction) -> bytes:
    """JSON with the original column names; null columns are omitted."""
    return _encoder.encode(tx)


def transaction_to_dict(tx: Transaction) -> dict[str, Any]:
    """The non-null columns of a Transaction, by name."""
    return {name: value for name, value in msgspec.structs.asdict(tx).items() if value is not None}


def decode_label(raw: bytes) -> Label:
    """Validate one label event (``{"TransactionID": 1, "isFraud": 0}``)."""
    return _decode(_label_decoder, raw)


def encode_label(label: Label) -> bytes:
    return _encoder.encode(label)
