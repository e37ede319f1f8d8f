"""Benchmark input: real IEEE-CIS-shaped rows as /v1/score request bodies, each with a fresh TransactionID.

Rows come from the stack's dataset directory (``sentinel prepare`` makes it) or, when there
is none, from the synthetic generator. Every request gets a TransactionID no earlier run used,
so each one is a new authorisation (state written, result recorded), never an idempotent replay.
"""

from __future__ import annotations

import logging
import tempfile
import time
from itertools import chain, islice
from pathlib import Path

import msgspec

from data.loader import DataFileError, DataFiles, iter_json
from data.schema import Transaction, decode_transaction, encode_transaction
from data.synthetic import generate

log = logging.getLogger(__name__)
PER_RUN = 10**6


def load_rows(data_dir: Path | None, rows: int) -> list[Transaction]:
    """``rows`` transactions from the dataset in ``data_dir``, else freshly generated ones."""
    try:
        if data_dir is None:
            raise DataFileError("no dataset directory")
        files = DataFiles.in_dir(data_dir)
    except DataFileError:
        with tempfile.TemporaryDirectory(prefix="sentinel-bench-") as tmp:
            log.info("no dataset in %s: generating %d synthetic rows", data_dir, rows)
            generate(rows, seed=3, out_dir=Path(tmp))
            return _read(DataFiles.in_dir(Path(tmp)), rows)
    return _read(files, rows)


def _read(files: DataFiles, rows: int) -> list[Transaction]:
    raw = islice(chain.from_iterable(iter_json(files, chunk_rows=20_000)), rows)
    return [decode_transaction(r) for r in raw]


class Bodies:
    """Request body number *i*: row ``i mod len(rows)`` with a never-used TransactionID."""

    def __init__(self, rows: list[Transaction]) -> None:
        if not rows:
            raise ValueError("no rows to send")
        self._rows = rows
        # ids above any real dataset's; each run (started in another microsecond) owns 10**6 of them
        self._base = 10**15 + (time.time_ns() // 1_000 % 10**8) * PER_RUN

    def __call__(self, i: int) -> bytes:
        if i >= PER_RUN:
            raise ValueError(f"a run sends at most {PER_RUN} requests")
        row = self._rows[i % len(self._rows)]
        return encode_transaction(msgspec.structs.replace(row, TransactionID=self._base + i))
