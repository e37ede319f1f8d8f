"""Loader on hand-written files in the real Kaggle format (quirks included)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import msgspec
import pandas as pd
import pytest

from data.loader import DataFileError, DataFiles, iter_batches, iter_json, load_frame
from data.schema import ALL_COLUMNS, decode_transaction

FIXTURES = Path(__file__).parent / "data_fixtures"
TRAIN = DataFiles(FIXTURES / "train_transaction.csv", FIXTURES / "train_identity.csv")
TEST = DataFiles(FIXTURES / "test_transaction.csv", FIXTURES / "test_identity.csv")


def _rows(files: DataFiles, chunk_rows: int = 2) -> list[dict[str, object]]:
    return [msgspec.json.decode(raw) for chunk in iter_json(files, chunk_rows) for raw in chunk]


def test_rows_are_joined_and_ordered_by_transaction_dt() -> None:
    rows = _rows(TRAIN)
    assert [r["TransactionID"] for r in rows] == [2987000, 2987001, 2987002, 2987003, 2987004]
    by_id = {r["TransactionID"]: r for r in rows}
    assert by_id[2987003]["DeviceInfo"] == "SAMSUNG SM-G892A Build/NRD90M"
    assert by_id[2987004]["id_23"] == "IP_PROXY:TRANSPARENT"
    assert "DeviceInfo" not in by_id[2987000]  # left join: no identity row, identity columns null


def test_empty_cells_are_nulls_and_amounts_keep_three_decimals() -> None:
    rows = {r["TransactionID"]: r for r in _rows(TRAIN)}
    assert rows[2987003]["TransactionAmt"] == 117.123
    assert "card2" not in rows[2987000] and "M4" not in rows[2987001]
    assert rows[2987002]["D15"] == -3.0


def test_every_streamed_row_decodes_to_a_transaction() -> None:
    txs = [decode_transaction(raw) for chunk in iter_json(TRAIN, 3) for raw in chunk]
    assert [tx.isFraud for tx in txs] == [0, 0, 1, 1, 0]
    assert txs[3].id_31 == "samsung browser 6.2" and txs[3].M4 == "M0"


def test_test_files_hyphenated_identity_no_label_and_unknown_column() -> None:
    rows = _rows(TEST)
    assert [r["TransactionID"] for r in rows] == [3663549, 3663550]
    assert rows[1]["id_01"] == -45.0 and rows[1]["id_33"] == "1334x750"
    assert all("isFraud" not in r and "Unexpected" not in r for r in rows)
    assert decode_transaction(msgspec.json.encode(rows[1])).isFraud is None


def test_identity_file_is_optional() -> None:
    rows = _rows(DataFiles(TRAIN.transactions))
    assert len(rows) == 5 and not any("DeviceType" in r for r in rows)


def test_in_dir_finds_the_pair_and_tolerates_a_missing_identity_file(tmp_path: Path) -> None:
    shutil.copy(TRAIN.transactions, tmp_path / "train_transaction.csv")
    assert DataFiles.in_dir(tmp_path) == DataFiles(tmp_path / "train_transaction.csv", None)
    with pytest.raises(DataFileError, match=r"test_transaction\.csv"):
        DataFiles.in_dir(tmp_path, "test")


def test_chunks_have_every_column_in_schema_order() -> None:
    chunks = list(iter_batches(TEST, chunk_rows=1))
    assert [c.num_rows for c in chunks] == [1, 1]
    assert chunks[0].column_names == [c.name for c in ALL_COLUMNS]


def test_missing_required_column_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "train_transaction.csv"
    path.write_text("TransactionID,TransactionDT,TransactionAmt\n1,86400,5.0\n")
    with pytest.raises(DataFileError, match=r"ProductCD, card1"):
        list(iter_json(DataFiles(path)))


def test_lean_frame_types_and_order() -> None:
    frame = load_frame(TRAIN)
    assert list(frame.columns) == [c.name for c in ALL_COLUMNS]
    assert frame["TransactionID"].tolist() == [2987000, 2987001, 2987002, 2987003, 2987004]
    assert frame["V1"].dtype == "float32" and frame["id_01"].dtype == "float32"
    assert frame["TransactionAmt"].dtype == "float64"
    assert isinstance(frame["card4"].dtype, pd.CategoricalDtype)
    assert frame["DeviceType"].iloc[3] == "mobile" and frame["DeviceType"].isna().iloc[0]


def test_lean_frame_is_cached_by_file_fingerprint(tmp_path: Path) -> None:
    data_dir, cache = tmp_path / "data", tmp_path / "cache"
    data_dir.mkdir()
    for name in ("train_transaction.csv", "train_identity.csv"):
        shutil.copy(FIXTURES / name, data_dir / name)
    files = DataFiles.in_dir(data_dir)
    first = load_frame(files, cache)
    cached = list(cache.glob("*.parquet"))
    assert len(cached) == 1
    pd.testing.assert_frame_equal(load_frame(files, cache), first)
    # A changed source file gets a new cache entry, never the stale one.
    stat = files.transactions.stat()
    os.utime(files.transactions, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    load_frame(files, cache)
    assert len(list(cache.glob("*.parquet"))) == 2
