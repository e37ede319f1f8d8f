"""Paging back through a real Redis stream: filters, cursors, the scan bound, the stream's start."""

from __future__ import annotations

import pytest
import redis

from gateway.services.pages import Entry, page_back

pytestmark = pytest.mark.integration


def _even(entries: list[Entry]) -> list[int | None]:
    return [n if (n := int(fields[b"n"])) % 2 == 0 else None for _, fields in entries]


def test_pages_of_filtered_entries_newest_first(redis_client: redis.Redis, key_prefix: str) -> None:
    key = f"{key_prefix}stream"
    for n in range(12):
        redis_client.xadd(key, {"n": n})
    first, cursor = page_back(redis_client, key, _even, limit=4)
    assert first == [10, 8, 6, 4] and cursor is not None
    rest, end = page_back(redis_client, key, _even, limit=4, cursor=cursor)
    assert (rest, end) == ([2, 0], None)


def test_scan_bound_returns_a_cursor_to_continue(redis_client: redis.Redis, key_prefix: str) -> None:
    key = f"{key_prefix}stream"
    for n in range(300):
        redis_client.xadd(key, {"n": 2 * n + 1})  # all odd: the filter keeps nothing
    items, cursor = page_back(redis_client, key, _even, limit=5, scan_limit=120)
    assert items == [] and cursor is not None
    items, cursor = page_back(redis_client, key, _even, limit=5, cursor=cursor, scan_limit=1_000)
    assert (items, cursor) == ([], None)


def test_cursor_at_the_first_id_and_empty_stream(redis_client: redis.Redis, key_prefix: str) -> None:
    assert page_back(redis_client, f"{key_prefix}none", _even, limit=5) == ([], None)
    assert page_back(redis_client, f"{key_prefix}none", _even, limit=5, cursor="0-0") == ([], None)
