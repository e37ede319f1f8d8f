"""Live events: tail the scored and alert streams (XREAD) for one SSE client, bounded in time.

Each client reads from "now" (or from the ids it last saw, ``Last-Event-ID``), blocks at most
``block_ms`` per read, sends a comment heartbeat while idle, and stops after ``max_seconds``
(the browser's EventSource reconnects and resumes from the last id). A disconnect cancels the
generator (Litestar's stream listens for it), so a gone client costs nothing. The number of
concurrent streams per process is capped.

Stream shards (a Redis Cluster): each kind has one stream per shard. A shard's streams share a
hash tag, so one XREAD reads them; the shards are read concurrently, each read re-issued as soon
as it returns (no shard waits for another's block), and the resume id names each shard's
position (``scored.0=…;scored.1=…``; one shard keeps the plain ``scored=…``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import msgspec
import redis.asyncio as aioredis
from litestar.response import ServerSentEventMessage

from functions.events import decode_alert, decode_scored
from gateway.problems import Unavailable
from gateway.schemas.common import Reason
from gateway.schemas.events import EventType, LiveEvent
from streams.events import PAYLOAD as PAYLOAD_FIELD

log = logging.getLogger(__name__)

PAYLOAD = PAYLOAD_FIELD.encode()
_encode = msgspec.json.encode


def to_live(kind: EventType, payload: bytes) -> LiveEvent:
    """A scored / alert stream payload as the live view's event; raises msgspec errors."""
    event = decode_scored(payload) if kind == "scored" else decode_alert(payload)
    return msgspec.convert(
        {
            "type": kind,
            "transaction_id": event.TransactionID,
            "transaction_dt": event.TransactionDT,
            "amount": event.TransactionAmt,
            "probability": event.probability,
            "risk_level": event.risk,
            "decision": event.decision,
            "model_version": event.model_version,
            "reasons": [Reason.of(r.feature, r.value, r.contribution) for r in event.reasons],
        },
        LiveEvent,
    )


def parse_last_event_id(value: str | None, names: Sequence[str]) -> dict[str, str]:
    """``"scored=1-0;alert=2-0"`` -> start ids per stream name (``scored``, or ``scored.1`` with
    shards); anything unparsable starts from now."""
    start: dict[str, str] = dict.fromkeys(names, "$")
    for part in (value or "").split(";"):
        name, _, entry_id = part.partition("=")
        if name in start and _valid_id(entry_id):
            start[name] = entry_id
    return start


def _names(kinds: Sequence[EventType], shards: int) -> dict[str, tuple[EventType, int]]:
    """Resume-id name -> (kind, shard) of every stream read."""
    if shards == 1:
        return {kind: (kind, 0) for kind in kinds}
    return {f"{kind}.{shard}": (kind, shard) for kind in kinds for shard in range(shards)}


def _valid_id(entry_id: str) -> bool:
    ms, sep, seq = entry_id.partition("-")
    return bool(sep) and ms.isdigit() and seq.isdigit()


class EventService:
    def __init__(
        self,
        client: aioredis.Redis,
        streams: Mapping[EventType, Sequence[str]],  # kind -> its stream key in every shard
        max_clients: int,
        max_seconds: float,
        block_ms: int = 1_000,
        heartbeat_s: float = 15.0,
    ) -> None:
        self._redis = client
        self._streams = {kind: list(keys) for kind, keys in streams.items()}
        self._shards = len(next(iter(self._streams.values())))
        self._max_clients = max_clients
        self._max_seconds = max_seconds
        self._block_ms = block_ms
        self._heartbeat_s = heartbeat_s
        self._clients = 0

    def open(
        self, kinds: set[EventType], last_event_id: str | None, max_seconds: float | None
    ) -> AsyncIterator[ServerSentEventMessage]:
        """A bounded stream of SSE messages; raises Unavailable when too many are open."""
        if self._clients >= self._max_clients:
            raise Unavailable(f"too many live event streams ({self._max_clients}); retry later")
        names = _names([k for k in self._streams if k in kinds], self._shards)
        keys = {name: self._streams[kind][shard] for name, (kind, shard) in names.items()}
        start = parse_last_event_id(last_event_id, list(names))
        lifetime = min(max_seconds or self._max_seconds, self._max_seconds)
        self._clients += 1
        return self._tail(names, keys, start, lifetime)

    async def _tail(
        self,
        names: dict[str, tuple[EventType, int]],
        keys: dict[str, str],
        cursor: dict[str, str],
        lifetime: float,
    ) -> AsyncIterator[ServerSentEventMessage]:
        name_of = {key.encode(): name for name, key in keys.items()}
        by_shard: dict[int, list[str]] = {}
        for name, (_, shard) in names.items():
            by_shard.setdefault(shard, []).append(name)
        deadline = time.monotonic() + lifetime
        last_sent = time.monotonic()
        reads: dict[asyncio.Task[Any], int] = {}
        try:
            for name, entry_id in cursor.items():
                if entry_id == "$":  # pin "now" once, so nothing slips between two reads
                    cursor[name] = await self._newest_id(keys[name])
            yield ServerSentEventMessage(comment="connected", retry=1_000)

            def read(shard: int) -> None:  # one XREAD per shard: its streams share one hash tag
                block = max(1, min(self._block_ms, int((deadline - time.monotonic()) * 1000)))
                streams: Any = {keys[name]: cursor[name] for name in by_shard[shard]}
                reads[asyncio.ensure_future(self._redis.xread(streams, count=100, block=block))] = shard

            for shard in by_shard:
                read(shard)
            while (remaining := deadline - time.monotonic()) > 0:
                done, _ = await asyncio.wait(reads, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    shard = reads.pop(task)
                    for key, entries in task.result() or []:
                        name = name_of[key]
                        kind = names[name][0]
                        for entry_id, fields in entries:
                            cursor[name] = entry_id.decode()
                            event = self._event(kind, fields)
                            if event is not None:
                                resume = ";".join(f"{k}={v}" for k, v in cursor.items())
                                yield ServerSentEventMessage(
                                    data=_encode(event).decode(), event=kind, id=resume
                                )
                                last_sent = time.monotonic()
                    if deadline - time.monotonic() > 0:
                        read(shard)
                if time.monotonic() - last_sent >= self._heartbeat_s:
                    yield ServerSentEventMessage(comment="keep-alive")
                    last_sent = time.monotonic()
        finally:
            for task in reads:
                task.cancel()
            self._clients -= 1

    async def _newest_id(self, key: str) -> str:
        newest: Any = await self._redis.xrevrange(key, count=1)
        return str(newest[0][0].decode()) if newest else "0-0"

    def _event(self, kind: EventType, fields: Mapping[bytes, bytes]) -> LiveEvent | None:
        payload = fields.get(PAYLOAD)
        if payload is None:
            return None
        try:
            return to_live(kind, payload)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            log.warning("live events: skipped an undecodable %s entry: %s", kind, exc)
            return None
