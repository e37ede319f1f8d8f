"""Read side: page backwards through a Redis stream (newest first) with a filter and a cursor.

The cursor is the id of the last entry returned; the next page starts just before it. A page
scans at most ``scan_limit`` entries, so a filter that matches nothing still answers quickly
(with a cursor to continue from).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import redis

T = TypeVar("T")

CURSOR_PATTERN = r"^[0-9]{1,20}-[0-9]{1,20}$"  # a stream entry id


def valid_cursor(cursor: str) -> bool:
    """A stream entry id: two unsigned 64-bit integers."""
    ms, sep, seq = cursor.partition("-")
    return bool(sep) and ms.isdigit() and seq.isdigit() and int(ms) < 2**64 and int(seq) < 2**64


def page_back(
    client: redis.Redis,
    key: str,
    convert: Callable[[str, dict[bytes, bytes]], T | None],
    limit: int,
    cursor: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    scan_limit: int = 5_000,
) -> tuple[list[T], str | None]:
    """Up to ``limit`` converted entries (None from ``convert``: filtered out), newest first.

    Returns (items, next cursor or None when the stream start was reached).
    """
    if cursor is not None and cursor.strip("0-") == "":
        return [], None  # nothing comes before the very first id
    end = f"({cursor}" if cursor else (str(until_ms) if until_ms is not None else "+")
    start = str(since_ms) if since_ms is not None else "-"
    items: list[T] = []
    scanned = 0
    last: str | None = None
    while len(items) < limit and scanned < scan_limit:
        batch: Any = client.xrevrange(key, max=end, min=start, count=min(500, scan_limit - scanned))
        if not batch:
            return items, None
        for raw_id, fields in batch:
            entry_id = raw_id.decode()
            scanned += 1
            last = entry_id
            item = convert(entry_id, fields)
            if item is not None:
                items.append(item)
                if len(items) >= limit:
                    return items, entry_id
        end = f"({last}"
    return items, last
