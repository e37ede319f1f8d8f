"""Runtime dead letters: entries that will never be processed, with the reason; list, show, replay.

Each dead letter is an entry of the stream ``keys.dead_letters`` with the fields ``function``,
``stream`` (logical input stream), ``group``, ``entry_id`` (of the input), ``reason``,
``deliveries``, ``meta`` (JSON object of the input's metadata) and ``d`` (its payload, cut to
1 KiB when oversized). Replay appends the payload and metadata to the original stream again
and deletes the dead letter, in one MULTI/EXEC, e.g. after a fix was deployed.

With stream shards (``streams.keys.Shards``) every shard has its dead letters beside its streams:
listing merges them (newest first by id), a dead letter is looked up in each shard in turn, and
replay puts it back on its own shard's input stream (the MULTI stays in one slot).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from streams.commit import id_order
from streams.events import PAYLOAD, entry_fields
from streams.keys import Keys, KeySets, key_sets


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
    client: redis.Redis, keys: KeySets, limit: int = 50, newest_first: bool = True
) -> list[DeadLetterEntry]:
    """Up to ``limit`` dead letters."""
    reader = client.xrevrange if newest_first else client.xrange
    letters = []
    for shard in key_sets(keys):
        rows: Any = reader(shard.dead_letters, count=limit)
        letters += [_parse(i, f) for i, f in rows]
    letters.sort(key=lambda d: id_order(d.id), reverse=newest_first)  # stable: one shard keeps its order
    return letters[:limit]


def _find(client: redis.Redis, keys: KeySets, dead_id: str) -> tuple[Keys, DeadLetterEntry] | None:
    if not _STREAM_ID.fullmatch(dead_id):
        return None
    for shard in key_sets(keys):
        rows: Any = client.xrange(shard.dead_letters, min=dead_id, max=dead_id)
        if rows:
            return shard, _parse(*rows[0])
    return None


def get_dead_letter(client: redis.Redis, keys: KeySets, dead_id: str) -> DeadLetterEntry | None:
    """The dead letter ``dead_id``, or None when there is none (or the id is not a stream id)."""
    found = _find(client, keys, dead_id)
    return None if found is None else found[1]


def count_dead_letters(client: redis.Redis, keys: KeySets) -> int:
    lengths: list[Any] = [client.xlen(shard.dead_letters) for shard in key_sets(keys)]
    return sum(int(n) for n in lengths)


def replay(client: redis.Redis, keys: KeySets, dead_ids: Sequence[str]) -> list[str]:
    """Put dead letters back on their input streams; returns the new entry ids."""
    new_ids: list[str] = []
    for dead_id in dead_ids:
        found = _find(client, keys, dead_id)
        if found is None:
            raise KeyError(f"no dead letter {dead_id}")
        shard, letter = found  # its input stream is in the same shard
        pipe = client.pipeline(transaction=True)
        fields: Any = entry_fields(letter.payload, letter.meta)
        pipe.xadd(shard.stream(letter.stream), fields)
        pipe.xdel(shard.dead_letters, dead_id)
        new_id, _ = pipe.execute()
        new_ids.append(new_id.decode() if isinstance(new_id, bytes) else new_id)
    return new_ids
