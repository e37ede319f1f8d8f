"""Read side: page backwards through a Redis stream (newest first) with a filter and a cursor.

The cursor is the id of the last entry returned; the next page starts just before it. A page
scans at most ``scan_limit`` entries, so a filter that matches nothing still answers quickly
(with a cursor to continue from).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import redis

T = TypeVar("T")

CURSOR_PATTERN = r"^[0-9]{1,20}-[0-9]{1,20}$"  # a stream entry id
Entry = tuple[str, dict[bytes, bytes]]  # (entry id, fields)


def valid_cursor(cursor: str) -> bool:
    """A stream entry id: two unsigned 64-bit integers."""
    ms, sep, seq = cursor.partition("-")
    return bool(sep) and ms.isdigit() and seq.isdigit() and int(ms) < 2**64 and int(seq) < 2**64


def page_back(
    client: redis.Redis,
    key: str,
    convert: Callable[[list[Entry]], list[T | None]],
    limit: int,
    cursor: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    scan_limit: int = 5_000,
) -> tuple[list[T], str | None]:
    """Up to ``limit`` converted entries (None from ``convert``: filtered out), newest first.

    ``convert`` gets the entries a read returned, (id, fields) newest first, so it can look
    things up for all of them in one round trip. Returns (items, next cursor, or None when
    the start of the stream was reached).
    """
    if cursor is not None and cursor.strip("0-") == "":
        return [], None  # nothing comes before the very first id
    end = f"({cursor}" if cursor else (str(until_ms) if until_ms is not None else "+")
    start = str(since_ms) if since_ms is not None else "-"
    items: list[T] = []
    scanned = 0
    while len(items) < limit and scanned < scan_limit:
        count = min(500, scan_limit - scanned, max(100, 2 * (limit - len(items))))
        found: Any = client.xrevrange(key, max=end, min=start, count=count)
        if not found:
            return items, None
        entries: list[Entry] = [(raw_id.decode(), fields) for raw_id, fields in found]
        scanned += len(entries)
        for (entry_id, _), item in zip(entries, convert(entries), strict=True):
            if item is not None:
                items.append(item)
                if len(items) >= limit:
                    return items, entry_id
        end = f"({entries[-1][0]}"
        if len(entries) < count:
            return items, None
    return items, end[1:]


def _entry_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq)


def page_back_merged(
    client: redis.Redis,
    keys: Sequence[str],
    convert: Callable[[list[Entry]], list[T | None]],
    limit: int,
    cursor: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    scan_limit: int = 5_000,
) -> tuple[list[T], str | None]:
    """``page_back`` over several streams (one per stream shard) as one, newest first by entry id
    (the ids of Redis streams are times: the shards' entries interleave as they were written).

    Each stream is paged from the same cursor; a stream that stopped at its scan bound has not
    been read below where it stopped, so the page holds only entries at or above the highest such
    stop, and continues from there. Two shards' entries with the very same id at a page's edge:
    the second is on neither page (ids are millisecond-sequence pairs: rare, and only at an edge).
    """
    if len(keys) == 1:
        return page_back(client, keys[0], convert, limit, cursor, since_ms, until_ms, scan_limit)

    def tagged(entries: list[Entry]) -> list[tuple[str, T] | None]:
        return [
            None if item is None else (entry_id, item)
            for (entry_id, _), item in zip(entries, convert(entries), strict=True)
        ]

    found: list[tuple[str, T]] = []
    stops: list[str] = []
    for key in keys:
        items, stop = page_back(client, key, tagged, limit, cursor, since_ms, until_ms, scan_limit)
        found += items
        if stop is not None:
            stops.append(stop)
    found.sort(key=lambda pair: _entry_order(pair[0]), reverse=True)
    if stops:
        bound = max(stops, key=_entry_order)
        found = [pair for pair in found if _entry_order(pair[0]) >= _entry_order(bound)]
    if len(found) > limit:
        return [item for _, item in found[:limit]], found[limit - 1][0]
    return [item for _, item in found], (max(stops, key=_entry_order) if stops else None)
