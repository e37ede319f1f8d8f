"""The IEEE-CIS column spec and the Transaction / Label codecs."""

from __future__ import annotations

import msgspec
import pytest

from core.errors import PoisonMessage
from data.schema import (
    ALL_COLUMNS,
    COLUMNS_BY_NAME,
    IDENTITY_COLUMNS,
    TRANSACTION_COLUMNS,
    InvalidRow,
    Label,
    Transaction,
    decode_label,
    decode_row,
    decode_transaction,
    encode_label,
    encode_transaction,
    transaction_to_dict,
)

KAGGLE_TRANSACTION_HEADER = (
    ["TransactionID", "isFraud", "TransactionDT", "TransactionAmt", "ProductCD"]
    + [f"card{i}" for i in range(1, 7)]
    + ["addr1", "addr2", "dist1", "dist2", "P_emaildomain", "R_emaildomain"]
    + [f"C{i}" for i in range(1, 15)]
    + [f"D{i}" for i in range(1, 16)]
    + [f"M{i}" for i in range(1, 10)]
    + [f"V{i}" for i in range(1, 340)]
)
KAGGLE_IDENTITY_HEADER = (
    ["TransactionID"] + [f"id_{i:02d}" for i in range(1, 39)] + ["DeviceType", "DeviceInfo"]
)

MINIMAL = {
    "TransactionID": 2987000,
    "TransactionDT": 86400,
    "TransactionAmt": 68.5,
    "ProductCD": "W",
    "card1": 13926,
}


def test_column_order_is_the_kaggle_order() -> None:
    assert [c.name for c in TRANSACTION_COLUMNS] == KAGGLE_TRANSACTION_HEADER
    assert [c.name for c in IDENTITY_COLUMNS] == KAGGLE_IDENTITY_HEADER
    assert [c.name for c in ALL_COLUMNS] == KAGGLE_TRANSACTION_HEADER + KAGGLE_IDENTITY_HEADER[1:]
    assert list(Transaction.__struct_fields__) == [c.name for c in ALL_COLUMNS]


def test_spec_types_of_the_families() -> None:
    assert COLUMNS_BY_NAME["M4"].allowed == ("M0", "M1", "M2")
    assert COLUMNS_BY_NAME["M1"].allowed == ("T", "F")
    assert COLUMNS_BY_NAME["id_01"].kind == "float"
    assert COLUMNS_BY_NAME["id_31"].kind == "str"
    assert COLUMNS_BY_NAME["V339"].kind == "float"
    assert not COLUMNS_BY_NAME["TransactionID"].nullable
    assert COLUMNS_BY_NAME["isFraud"].nullable


def test_json_round_trip_omits_nulls() -> None:
    tx = decode_transaction(msgspec.json.encode({**MINIMAL, "card4": "visa", "id_33": "1334x750"}))
    assert tx.card2 is None and tx.isFraud is None
    raw = encode_transaction(tx)
    assert b"card2" not in raw and b'"id_33":"1334x750"' in raw
    assert decode_transaction(raw) == tx


def test_unknown_columns_are_ignored_and_hyphenated_ids_normalised() -> None:
    tx = decode_transaction(
        msgspec.json.encode({**MINIMAL, "extra": 1, "id-01": -5.0, "id-31": "chrome 62.0"})
    )
    assert tx.id_01 == -5.0 and tx.id_31 == "chrome 62.0"
    assert transaction_to_dict(tx) == {**MINIMAL, "id_01": -5.0, "id_31": "chrome 62.0"}


def test_decode_row_reads_csv_strings_and_treats_empty_and_nan_as_null() -> None:
    row = {k: str(v) for k, v in MINIMAL.items()} | {"isFraud": "1", "card2": "", "dist1": float("nan")}
    tx = decode_row(row | {"TransactionAmt": "117.123", "M4": "M2"})
    assert tx.TransactionAmt == 117.123 and tx.isFraud == 1 and tx.M4 == "M2"
    assert tx.card2 is None and tx.dist1 is None


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("TransactionDT", -1),
        ("TransactionDT", 1.5),
        ("TransactionID", "abc"),
        ("TransactionID", 390833154787484696576),
        ("TransactionDT", 10**12),
        ("TransactionAmt", -3.0),
        ("ProductCD", "X"),
        ("card4", "diners"),
        ("M4", "T"),
        ("isFraud", 2),
        ("id_33", "wide"),
        ("P_emaildomain", "not an email domain"),
    ],
)
def test_invalid_values_name_column_and_value(column: str, value: object) -> None:
    with pytest.raises(InvalidRow) as info:
        decode_transaction(msgspec.json.encode({**MINIMAL, column: value}))
    assert info.value.column == column
    assert column in str(info.value) and repr(value) in str(info.value)
    assert isinstance(info.value, PoisonMessage)


@pytest.mark.parametrize("amount", ["inf", "-inf", "nan", float("inf")])
def test_amount_must_be_finite(amount: object) -> None:
    with pytest.raises(InvalidRow, match="TransactionAmt"):
        decode_row({**MINIMAL, "TransactionAmt": amount})


def test_missing_required_column_and_bad_json() -> None:
    with pytest.raises(InvalidRow, match="card1") as info:
        decode_transaction(msgspec.json.encode({k: v for k, v in MINIMAL.items() if k != "card1"}))
    assert info.value.column == "card1"
    with pytest.raises(InvalidRow, match="not JSON"):
        decode_transaction(b"{not json")
    with pytest.raises(InvalidRow, match="JSON object"):
        decode_transaction(b'["id-01"]')


def test_transaction_is_frozen() -> None:
    tx = decode_row(MINIMAL)
    with pytest.raises(AttributeError):
        tx.card1 = 1  # type: ignore[misc]


def test_label_round_trip_and_validation() -> None:
    label = Label(TransactionID=7, isFraud=1)
    assert decode_label(encode_label(label)) == label
    with pytest.raises(InvalidRow, match="isFraud"):
        decode_label(b'{"TransactionID": 7, "isFraud": 3}')
