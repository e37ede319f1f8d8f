"""Live events: tail the scored and alert streams (XREAD) for one SSE client, bounded in time.

Each client reads from "now" (or from the ids it last saw, ``Last-Event-ID``), blocks at most
``block_ms`` per read, sends a comment heartbeat while idle, and stops after ``max_seconds``
(the browser's EventSource reconnects and resumes from the last id). A disconnect cancels the
generator (Litestar's stream listens for it), so a gone client costs nothing. The number of
concurrent streams per process is capped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
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


def parse_last_event_id(value: str | None, kinds: Mapping[EventType, str]) -> dict[EventType, str]:
    """``"scored=1-0;alert=2-0"`` -> start ids per kind; anything unparsable starts from now."""
    start: dict[EventType, str] = dict.fromkeys(kinds, "$")
    for part in (value or "").split(";"):
        kind, _, entry_id = part.partition("=")
        if kind in kinds and _valid_id(entry_id):
            start[kind] = entry_id  # type: ignore[index]
    return start


def _valid_id(entry_id: str) -> bool:
    ms, sep, seq = entry_id.partition("-")
    return bool(sep) and ms.isdigit() and seq.isdigit()


class EventService:
    def __init__(
        self,
        client: aioredis.Redis,
        streams: Mapping[EventType, str],
        max_clients: int,
        max_seconds: float,
        block_ms: int = 1_000,
        heartbeat_s: float = 15.0,
    ) -> None:
        self._redis = client
        self._streams = dict(streams)  # kind -> stream key
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
        streams = {k: v for k, v in self._streams.items() if k in kinds}
        start = parse_last_event_id(last_event_id, streams)
        lifetime = min(max_seconds or self._max_seconds, self._max_seconds)
        self._clients += 1
        return self._tail(streams, start, lifetime)

    async def _tail(
        self, streams: dict[EventType, str], cursor: dict[EventType, str], lifetime: float
    ) -> AsyncIterator[ServerSentEventMessage]:
        kind_of = {key.encode(): kind for kind, key in streams.items()}
        deadline = time.monotonic() + lifetime
        last_sent = time.monotonic()
        try:
            for kind, entry_id in cursor.items():
                if entry_id == "$":  # pin "now" once, so nothing slips between two reads
                    cursor[kind] = await self._newest_id(streams[kind])
            yield ServerSentEventMessage(comment="connected", retry=1_000)
            while (remaining := deadline - time.monotonic()) > 0:
                block = max(1, min(self._block_ms, int(remaining * 1000)))
                found: Any = await self._redis.xread(
                    {streams[k]: cursor[k] for k in streams}, count=100, block=block
                )
                for key, entries in found or []:
                    kind = kind_of[key]
                    for entry_id, fields in entries:
                        cursor[kind] = entry_id.decode()
                        event = self._event(kind, fields)
                        if event is not None:
                            resume = ";".join(f"{k}={v}" for k, v in cursor.items())
                            yield ServerSentEventMessage(data=_encode(event).decode(), event=kind, id=resume)
                            last_sent = time.monotonic()
                if time.monotonic() - last_sent >= self._heartbeat_s:
                    yield ServerSentEventMessage(comment="keep-alive")
                    last_sent = time.monotonic()
        finally:
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
