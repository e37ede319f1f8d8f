"""Ingest, file side: the Kaggle CSV pairs -> joined rows in TransactionDT order.

Two ways to read the same files:

- ``iter_batches`` / ``iter_json`` stream chunks of joined rows (for the simulator and replays),
  holding only the identity table and one chunk of transactions in memory;
- ``load_frame`` returns one memory-lean pandas frame for training (float32 numbers, pandas
  categoricals for strings), cached as parquet next to a fingerprint of the source files so the
  second load of the 590k-row training set takes seconds.

Both normalise ``id-01`` to ``id_01`` (the test_identity spelling), left-join identity on
TransactionID (the identity file is optional), ignore unknown columns and add the known columns a
file lacks (``isFraud`` in the test files) as nulls, in ``ALL_COLUMNS`` order.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from core.errors import SentinelError
from data.rowjson import table_to_json
from data.schema import (
    ALL_COLUMNS,
    COLUMNS_BY_NAME,
    IDENTITY_COLUMNS,
    TRANSACTION_COLUMNS,
    Column,
    canonical_name,
)

log = logging.getLogger(__name__)

CACHE_VERSION = "1"  # bump when load_frame's output changes
_ARROW = {"int": pa.int64(), "float": pa.float64(), "str": pa.string()}
_LEAN = {"int": pa.int64(), "float": pa.float32(), "str": pa.string()}
_CATEGORY = pa.dictionary(pa.int32(), pa.string())
_KEEP_WIDE = {"TransactionAmt"}  # cents and foreign-currency decimals matter: stay float64


class DataFileError(SentinelError):
    """A data file is missing, lacks a required column or holds a value of the wrong type."""


@dataclass(frozen=True)
class DataFiles:
    """A transaction file and, optionally, its identity file."""

    transactions: Path
    identity: Path | None = None

    @classmethod
    def in_dir(cls, directory: Path, split: str = "train") -> DataFiles:
        """``<split>_transaction.csv`` (required) and ``<split>_identity.csv`` (if present)."""
        transactions = directory / f"{split}_transaction.csv"
        if not transactions.is_file():
            raise DataFileError(f"{transactions}: no such file")
        identity = directory / f"{split}_identity.csv"
        return cls(transactions, identity if identity.is_file() else None)

    def fingerprint(self) -> str:
        """Changes when either file changes (name, size, modification time)."""
        parts = [CACHE_VERSION]
        for path in (self.transactions, self.identity):
            if path is not None:
                stat = path.stat()
                parts.append(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def read_header(path: Path) -> list[str]:
    with path.open("rb") as f:
        line = f.readline().decode("utf-8-sig").strip()
    if not line:
        raise DataFileError(f"{path}: empty file")
    return [name.strip().strip('"') for name in line.split(",")]


def _convert_options(path: Path, types: dict[str, pa.DataType], required: list[str]) -> pcsv.ConvertOptions:
    header = read_header(path)
    known = {name: canonical_name(name) for name in header if canonical_name(name) in COLUMNS_BY_NAME}
    missing = [name for name in required if name not in known.values()]
    if missing:
        raise DataFileError(f"{path}: required column(s) missing: {', '.join(missing)}")
    return pcsv.ConvertOptions(
        column_types={raw: types[name] for raw, name in known.items()},
        include_columns=list(known),
        strings_can_be_null=True,
    )


def _required(table_columns: tuple[Column, ...]) -> list[str]:
    return [c.name for c in table_columns if not c.nullable]


def _canonical(table: pa.Table) -> pa.Table:
    return table.rename_columns([canonical_name(name) for name in table.column_names])


def _read(path: Path, types: dict[str, pa.DataType], required: list[str]) -> pa.Table:
    try:
        return _canonical(pcsv.read_csv(path, convert_options=_convert_options(path, types, required)))
    except pa.ArrowInvalid as exc:
        raise DataFileError(f"{path}: {exc}") from exc


def _types(lean: bool) -> dict[str, pa.DataType]:
    if not lean:
        return {c.name: _ARROW[c.kind] for c in ALL_COLUMNS}
    return {c.name: pa.float64() if c.name in _KEEP_WIDE else _LEAN[c.kind] for c in ALL_COLUMNS}


def _joined(
    transactions: pa.Table, identity: pa.Table | None, types: dict[str, pa.DataType], sort: bool = True
) -> pa.Table:
    """Left join on TransactionID, every column of ALL_COLUMNS in order (absent ones all null).

    A transaction gets the first identity row with its id; rows are sorted by TransactionDT
    unless the caller already knows they are.
    """
    columns = dict(zip(transactions.column_names, transactions.columns, strict=True))
    if identity is not None and identity.num_rows:
        index = pc.index_in(
            columns["TransactionID"], value_set=identity.column("TransactionID").combine_chunks()
        )
        for name, column in zip(identity.column_names, identity.columns, strict=True):
            if name != "TransactionID":
                columns[name] = column.take(index)
    rows = transactions.num_rows
    table = pa.table(
        {c.name: columns[c.name] if c.name in columns else pa.nulls(rows, types[c.name]) for c in ALL_COLUMNS}
    )
    if sort:
        table = table.sort_by([("TransactionDT", "ascending"), ("TransactionID", "ascending")])
    return table.combine_chunks()


def read_identity(path: Path | None, lean: bool = False) -> pa.Table | None:
    if path is None:
        return None
    return _read(path, _types(lean), _required(IDENTITY_COLUMNS))


def _is_time_ordered(path: Path) -> bool:
    options = _convert_options(path, _types(lean=False), ["TransactionDT"])
    options.include_columns = [n for n in options.include_columns if canonical_name(n) == "TransactionDT"]
    try:
        dt = pcsv.read_csv(path, convert_options=options).column(0)
    except pa.ArrowInvalid as exc:
        raise DataFileError(f"{path}: {exc}") from exc
    return len(dt) < 2 or bool(pc.all(pc.greater_equal(dt[1:], dt[:-1])).as_py())


def iter_batches(files: DataFiles, chunk_rows: int = 50_000, text: bool = False) -> Iterator[pa.Table]:
    """Joined rows in TransactionDT order, ``chunk_rows`` at a time, typed as in the schema.

    ``text=True`` reads every cell as a string (no conversion can fail; rows stay in file order),
    for validating files whose cells may not parse.
    """
    types = {c.name: pa.string() for c in ALL_COLUMNS} if text else _types(lean=False)
    identity = _read(files.identity, types, _required(IDENTITY_COLUMNS)) if files.identity else None
    if not text and not _is_time_ordered(files.transactions):
        log.info("transactions not in time order; loading whole file to sort it path=%s", files.transactions)
        whole = _joined(_read(files.transactions, types, _required(TRANSACTION_COLUMNS)), identity, types)
        yield from (whole.slice(start, chunk_rows) for start in range(0, whole.num_rows, chunk_rows))
        return
    options = _convert_options(files.transactions, types, _required(TRANSACTION_COLUMNS))
    # block_size bounds memory; rows are regrouped into chunk_rows below.
    reader = pcsv.open_csv(
        files.transactions, read_options=pcsv.ReadOptions(block_size=8 << 20), convert_options=options
    )
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    try:
        for batch in reader:
            pending.append(batch)
            pending_rows += batch.num_rows
            while pending_rows >= chunk_rows:
                table = pa.Table.from_batches(pending)
                yield _joined(_canonical(table.slice(0, chunk_rows)), identity, types, sort=False)
                rest = table.slice(chunk_rows)
                pending, pending_rows = rest.to_batches(), rest.num_rows
    except pa.ArrowInvalid as exc:
        raise DataFileError(f"{files.transactions}: {exc}") from exc
    if pending_rows:
        yield _joined(_canonical(pa.Table.from_batches(pending)), identity, types, sort=False)


def iter_json(files: DataFiles, chunk_rows: int = 50_000, text: bool = False) -> Iterator[list[bytes]]:
    """Each joined row as JSON (original column names, nulls omitted), a chunk at a time."""
    for table in iter_batches(files, chunk_rows, text):
        yield table_to_json(table)


def load_frame(files: DataFiles, cache_dir: Path | None = None) -> pd.DataFrame:
    """All joined rows as a lean frame sorted by TransactionDT (float32, categoricals), cached."""
    cache = cache_dir / f"{files.transactions.stem}-{files.fingerprint()}.parquet" if cache_dir else None
    if cache is not None and cache.is_file():
        log.info("loading cached frame path=%s", cache)
        cached: pd.DataFrame = pq.read_table(cache).to_pandas()
        return cached
    types = _types(lean=True)
    tx = _read(files.transactions, types, _required(TRANSACTION_COLUMNS))
    table = _joined(tx, read_identity(files.identity, lean=True), types)
    # Strings become dictionaries only now: joins want plain strings.
    table = table.cast(
        pa.schema([pa.field(f.name, _CATEGORY if f.type == pa.string() else f.type) for f in table.schema])
    )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        pq.write_table(table, tmp)
        tmp.replace(cache)
        log.info("cached frame rows=%d path=%s", table.num_rows, cache)
    frame: pd.DataFrame = table.to_pandas()
    return frame
