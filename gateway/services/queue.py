"""Alert queue for the Ops Center: every alert still kept, filtered, sorted and paged on the server.

The cursor listing (``AlertService.list``) is newest first only; a work queue also sorts by
amount, probability or age and reports its size. That needs the whole (bounded) alerts
stream, so it is read once per request with a light decoder (no reasons), the open/resolved
state comes from one pipelined EXISTS per alert, and only the page's alerts are decoded in
full. 10,000 open alerts take well under a second (tests/integration/gateway/test_queue.py).
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime
from typing import Any, Literal

import msgspec
import redis

from functions.events import decode_alert
from functions.keys import OperatorKeys
from gateway.schemas.investigation import AlertQueue
from gateway.services.alerts import alert_of
from streams.events import PAYLOAD
from streams.keys import Keys

Sort = Literal["newest", "oldest", "amount_desc", "amount_asc", "probability_desc", "probability_asc"]
_PAYLOAD = PAYLOAD.encode()
_CHUNK = 2_000


class _Light(msgspec.Struct, kw_only=True):
    """The fields of an alert payload the queue filters and sorts on (the rest is skipped)."""

    TransactionID: int
    TransactionAmt: float
    probability: float
    decision: str


_decode_light = msgspec.json.Decoder(_Light).decode


class QueueFilter(msgspec.Struct, frozen=True, kw_only=True):
    status: str = "open"  # open | resolved | all
    decision: str | None = None
    min_amount: float | None = None
    max_amount: float | None = None
    min_age_s: float | None = None
    max_age_s: float | None = None


class _Row(msgspec.Struct, kw_only=True):
    entry_id: str
    order: tuple[int, int]  # the entry id as numbers: raise order, exact even within a millisecond
    raised_at: float
    light: _Light
    payload: bytes
    resolved: bool = False


_SORT_KEYS: dict[str, tuple[Any, bool]] = {
    "newest": (lambda r: r.order, True),
    "oldest": (lambda r: r.order, False),
    "amount_desc": (lambda r: r.light.TransactionAmt, True),
    "amount_asc": (lambda r: r.light.TransactionAmt, False),
    "probability_desc": (lambda r: r.light.probability, True),
    "probability_asc": (lambda r: r.light.probability, False),
}


class QueueService:
    def __init__(self, client: redis.Redis, keys: Keys, operators: OperatorKeys, alerts_stream: str) -> None:
        self._redis = client
        self._operators = operators
        self._stream = keys.stream(alerts_stream)

    def page(self, flt: QueueFilter, sort: Sort, offset: int, limit: int) -> AlertQueue:
        now = time.time()
        rows = self._rows()
        open_rows = [r for r in rows if not r.resolved]
        matching = [r for r in rows if _keep(r, flt, now)]
        key, reverse = _SORT_KEYS[sort]
        matching.sort(key=key, reverse=reverse)
        chosen = matching[offset : offset + limit]
        verdicts = self._verdicts([r.light.TransactionID for r in chosen if r.resolved])
        items = [
            alert_of(r.entry_id, decode_alert(r.payload), verdicts.get(r.light.TransactionID, {}))
            for r in chosen
        ]
        return AlertQueue(
            items=items,
            total=len(matching),
            offset=offset,
            open=len(open_rows),
            resolved=len(rows) - len(open_rows),
            oldest_open_age_s=round(now - min(r.raised_at for r in open_rows), 1) if open_rows else None,
            median_time_to_verdict_s=self._median_time_to_verdict(rows),
        )

    def _rows(self) -> list[_Row]:
        """Every alert in the stream, oldest first, with whether it has a verdict."""
        rows: list[_Row] = []
        start = "-"
        while True:
            found: Any = self._redis.xrange(self._stream, min=start, count=_CHUNK)
            for raw_id, fields in found:
                payload = fields.get(_PAYLOAD)
                if payload is None:
                    continue
                entry_id = raw_id.decode()
                ms, seq = (int(part) for part in entry_id.split("-"))
                rows.append(
                    _Row(
                        entry_id=entry_id,
                        order=(ms, seq),
                        raised_at=ms / 1000,
                        light=_decode_light(payload),
                        payload=payload,
                    )
                )
            if len(found) < _CHUNK:
                break
            start = "(" + found[-1][0].decode()
        pipe = self._redis.pipeline(transaction=False)
        for row in rows:
            pipe.exists(self._operators.alert_verdict(row.light.TransactionID))
        for row, exists in zip(rows, pipe.execute(), strict=True):
            row.resolved = bool(exists)
        return rows

    def _verdicts(self, tx_ids: list[int]) -> dict[int, dict[str, str]]:
        pipe = self._redis.pipeline(transaction=False)
        for tx_id in tx_ids:
            pipe.hgetall(self._operators.alert_verdict(tx_id))
        return {
            tx_id: {k.decode(): v.decode() for k, v in raw.items()}
            for tx_id, raw in zip(tx_ids, pipe.execute(), strict=True)
        }

    def _median_time_to_verdict(self, rows: list[_Row], sample: int = 500) -> float | None:
        """Median seconds from alert to verdict over the latest ``sample`` resolved alerts."""
        resolved = [r for r in rows if r.resolved][-sample:]
        pipe = self._redis.pipeline(transaction=False)
        for row in resolved:
            pipe.hget(self._operators.alert_verdict(row.light.TransactionID), "at")
        waits = [
            datetime.fromisoformat(at.decode()).timestamp() - row.raised_at
            for row, at in zip(resolved, pipe.execute(), strict=True)
            if at
        ]
        return round(statistics.median(waits), 1) if waits else None


def _keep(row: _Row, flt: QueueFilter, now: float) -> bool:
    age = now - row.raised_at
    return (
        not (flt.status == "open" and row.resolved)
        and not (flt.status == "resolved" and not row.resolved)
        and (not flt.decision or row.light.decision == flt.decision)
        and (flt.min_amount is None or row.light.TransactionAmt >= flt.min_amount)
        and (flt.max_amount is None or row.light.TransactionAmt <= flt.max_amount)
        and (flt.min_age_s is None or age >= flt.min_age_s)
        and (flt.max_age_s is None or age <= flt.max_age_s)
    )
