"""Ingest, file side: validate every row of a Kaggle-format file pair against the schema.

Cells are read as text, so a cell that does not parse is reported against its row and column
instead of failing the whole file; each row then goes through the same decoder the stream uses.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from data.loader import DataFiles, iter_batches, read_header
from data.rowjson import table_to_json
from data.schema import COLUMNS_BY_NAME, InvalidRow, canonical_name, decode_transaction

MAX_EXAMPLES = 3
_VALUE = re.compile(r", got `[^`]*`")


@dataclass
class CheckReport:
    rows: int = 0
    valid: int = 0
    problems: Counter[str] = field(default_factory=Counter)  # kind -> rows
    examples: dict[str, list[str]] = field(default_factory=dict)  # kind -> a few messages
    orphan_identity_rows: int = 0  # identity rows whose TransactionID has no transaction
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def invalid(self) -> int:
        return self.rows - self.valid

    @property
    def ok(self) -> bool:
        return self.invalid == 0 and self.orphan_identity_rows == 0

    def add_problem(self, kind: str, message: str) -> None:
        self.problems[kind] += 1
        shown = self.examples.setdefault(kind, [])
        if len(shown) < MAX_EXAMPLES:
            shown.append(message)


def _kind(error: InvalidRow) -> str:
    reason = _VALUE.sub("", error.reason)
    return f"{error.column}: {reason}" if error.column else reason


def _ignored(files: DataFiles) -> list[str]:
    paths = [p for p in (files.transactions, files.identity) if p is not None]
    return [n for p in paths for n in read_header(p) if canonical_name(n) not in COLUMNS_BY_NAME]


def _orphans(files: DataFiles) -> int:
    if files.identity is None:
        return 0

    def ids(path: Path) -> pa.ChunkedArray:
        options = pcsv.ConvertOptions(
            include_columns=["TransactionID"], column_types={"TransactionID": pa.string()}
        )
        return pcsv.read_csv(path, convert_options=options).column(0)

    return int(
        pc.sum(pc.invert(pc.is_in(ids(files.identity), value_set=ids(files.transactions)))).as_py() or 0
    )


def check_files(files: DataFiles, progress: Callable[[int], None] | None = None) -> CheckReport:
    """Validate every joined row; ``progress(n)`` is told after each chunk."""
    report = CheckReport(ignored_columns=_ignored(files), orphan_identity_rows=_orphans(files))
    for table in iter_batches(files, chunk_rows=20_000, text=True):
        ids = table.column("TransactionID").to_pylist()
        for tx_id, raw in zip(ids, table_to_json(table), strict=True):
            report.rows += 1
            try:
                decode_transaction(raw, strict=False)
            except InvalidRow as error:
                report.add_problem(_kind(error), f"TransactionID {tx_id}: {error}")
            else:
                report.valid += 1
        if progress is not None:
            progress(table.num_rows)
    return report
