"""Runtime dead letters: entries that will never be processed, with the reason; list, show, replay.

Each dead letter is an entry of the stream ``keys.dead_letters`` with the fields ``function``,
``stream`` (logical input stream), ``group``, ``entry_id`` (of the input), ``reason``,
``deliveries``, ``meta`` (JSON object of the input's metadata) and ``d`` (its payload, cut to
1 KiB when oversized). Replay appends the payload and metadata to the original stream again
and deletes the dead letter, in one MULTI/EXEC, e.g. after a fix was deployed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from streams.events import PAYLOAD, entry_fields
from streams.keys import Keys


@dataclass(frozen=True)
class DeadLetterEntry:
    """One dead letter as stored."""

    id: str
    function: str
    stream: str
    group: str
    entry_id: str
    reason: str
    deliveries: int
    meta: dict[str, str]
    payload: bytes


_STREAM_ID = re.compile(r"\d+-\d+")


def _parse(entry_id: bytes | str, fields: dict[bytes, bytes]) -> DeadLetterEntry:
    text = {k.decode(): v for k, v in fields.items()}

    def s(name: str) -> str:
        return text.get(name, b"").decode(errors="replace")

    return DeadLetterEntry(
        id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        function=s("function"),
        stream=s("stream"),
        group=s("group"),
        entry_id=s("entry_id"),
        reason=s("reason"),
        deliveries=int(s("deliveries") or 0),
        meta=json.loads(s("meta") or "{}"),
        payload=text.get(PAYLOAD, b""),
    )


def list_dead_letters(
    client: redis.Redis, keys: Keys, limit: int = 50, newest_first: bool = True
) -> list[DeadLetterEntry]:
    """Up to ``limit`` dead letters."""
    reader = client.xrevrange if newest_first else client.xrange
    rows: Any = reader(keys.dead_letters, count=limit)
    return [_parse(i, f) for i, f in rows]


def get_dead_letter(client: redis.Redis, keys: Keys, dead_id: str) -> DeadLetterEntry | None:
    """The dead letter ``dead_id``, or None when there is none (or the id is not a stream id)."""
    if not _STREAM_ID.fullmatch(dead_id):
        return None
    rows: Any = client.xrange(keys.dead_letters, min=dead_id, max=dead_id)
    return _parse(*rows[0]) if rows else None


def count_dead_letters(client: redis.Redis, keys: Keys) -> int:
    length: Any = client.xlen(keys.dead_letters)
    return int(length)


def replay(client: redis.Redis, keys: Keys, dead_ids: Sequence[str]) -> list[str]:
    """Put dead letters back on their input streams; returns the new entry ids."""
    new_ids: list[str] = []
    for dead_id in dead_ids:
        letter = get_dead_letter(client, keys, dead_id)
        if letter is None:
            raise KeyError(f"no dead letter {dead_id}")
        pipe = client.pipeline(transaction=True)
        fields: Any = entry_fields(letter.payload, letter.meta)
        pipe.xadd(keys.stream(letter.stream), fields)
        pipe.xdel(keys.dead_letters, dead_id)
        new_id, _ = pipe.execute()
        new_ids.append(new_id.decode() if isinstance(new_id, bytes) else new_id)
    return new_ids
