"""Test helper: delete every key under a prefix (each test or server owns one prefix)."""

from __future__ import annotations

from core.connect import redis_client


def delete_prefix(redis_url: str, prefix: str) -> None:
    client = redis_client(redis_url)  # on a cluster, scan_iter walks every master
    try:
        stale = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if stale:
            client.delete(*stale)
    finally:
        client.close()
