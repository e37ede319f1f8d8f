"""Alert queue for the Ops Center: alerts filtered, sorted and paged on the server, with the queue's KPIs.

Open alerts (the work queue, what the Ops Center shows first) come from the open-alerts index
(``gateway.services.queue_index``): a page costs O(page) whatever the queue's size, and so do
the KPIs (open, oldest open, resolved, median time to verdict). Resolved or all alerts (history
browsing) are read from the whole (bounded) alerts stream per request with a light decoder, the
verdicts with one pipelined EXISTS per alert; only the page's alerts are decoded in full.

With stream shards (a Redis Cluster) the index takes in every shard's alerts stream (one index
under the operators' hash tag, see ``gateway.services.queue_index``) and history pages merge every
shard's alerts. Each page also appends the verdict labels still waiting for their shard
(``gateway.services.outbox``), so a gateway that died between a verdict and its label delivers it
on the Ops Center's next refresh.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Literal

import msgspec
import redis

from functions.events import decode_alert
from functions.keys import OperatorKeys
from gateway.schemas.investigation import Alert, AlertQueue
from gateway.services.alerts import alert_of
from gateway.services.outbox import LabelOutbox
from gateway.services.queue_index import Light, QueueIndex, decode_light, order_at, raised_at
from streams.events import PAYLOAD
from streams.keys import KeySets, key_sets

Sort = Literal["newest", "oldest", "amount_desc", "amount_asc", "probability_desc", "probability_asc"]
_PAYLOAD = PAYLOAD.encode()
_CHUNK = 2_000


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
    light: Light
    payload: bytes
    resolved: bool = False


_ORDERS: dict[str, tuple[str, bool]] = {  # sort -> (index order, reverse)
    "newest": ("raised", True),
    "oldest": ("raised", False),
    "amount_desc": ("amount", True),
    "amount_asc": ("amount", False),
    "probability_desc": ("probability", True),
    "probability_asc": ("probability", False),
}
_SORT_KEYS: dict[str, tuple[Any, bool]] = {
    "newest": (lambda r: r.order, True),
    "oldest": (lambda r: r.order, False),
    "amount_desc": (lambda r: r.light.TransactionAmt, True),
    "amount_asc": (lambda r: r.light.TransactionAmt, False),
    "probability_desc": (lambda r: r.light.probability, True),
    "probability_asc": (lambda r: r.light.probability, False),
}


class QueueService:
    def __init__(
        self,
        client: redis.Redis,
        shards: KeySets,  # every stream shard's alerts are queued
        operators: OperatorKeys,
        alerts_stream: str,
        outbox: LabelOutbox,
    ) -> None:
        self._redis = client
        self._operators = operators
        self._streams = [keys.stream(alerts_stream) for keys in key_sets(shards)]
        self._outbox = outbox
        self.index = QueueIndex(client, operators, self._streams)

    def page(self, flt: QueueFilter, sort: Sort, offset: int, limit: int) -> AlertQueue:
        now = time.time()
        self._outbox.flush()
        self.index.sync()
        if flt.status == "open":
            total, items = self._open_page(flt, sort, offset, limit, now)
        else:
            total, items = self._history_page(flt, sort, offset, limit, now)
        n_open, n_resolved, oldest, waits = self.index.kpis()
        return AlertQueue(
            items=items,
            total=total,
            offset=offset,
            open=n_open,
            resolved=n_resolved,
            oldest_open_age_s=round(max(0.0, now - raised_at(oldest)), 1) if oldest is not None else None,
            median_time_to_verdict_s=round(statistics.median(waits), 1) if waits else None,
        )

    def _open_page(
        self, flt: QueueFilter, sort: Sort, offset: int, limit: int, now: float
    ) -> tuple[int, list[Alert]]:
        order, reverse = _ORDERS[sort]
        raised = (
            None if flt.max_age_s is None else order_at(now - flt.max_age_s),
            None if flt.min_age_s is None else order_at(now - flt.min_age_s),
        )
        total, found = self.index.page(
            flt.decision or "all",
            order,
            reverse,
            raised,
            (flt.min_amount, flt.max_amount),
            offset,
            limit,
        )
        pipe = self._redis.pipeline(transaction=False)
        for _, shard, entry_id in found:
            pipe.xrange(self._streams[shard], min=entry_id, max=entry_id, count=1)
        items = []
        for (_, _, entry_id), entries in zip(found, pipe.execute(), strict=True):
            payload = entries[0][1].get(_PAYLOAD) if entries else None
            if payload is not None:  # trimmed meanwhile: the next sync drops it from the index
                items.append(alert_of(entry_id, decode_alert(payload), {}))
        return total, items

    def _history_page(
        self, flt: QueueFilter, sort: Sort, offset: int, limit: int, now: float
    ) -> tuple[int, list[Alert]]:
        matching = [r for r in self._rows() if _keep(r, flt, now)]
        key, reverse = _SORT_KEYS[sort]
        matching.sort(key=key, reverse=reverse)
        chosen = matching[offset : offset + limit]
        verdicts = self._verdicts([r.light.TransactionID for r in chosen if r.resolved])
        items = [
            alert_of(r.entry_id, decode_alert(r.payload), verdicts.get(r.light.TransactionID, {}))
            for r in chosen
        ]
        return len(matching), items

    def _rows(self) -> list[_Row]:
        """Every alert in the streams, oldest first within a stream, with whether it has a verdict."""
        rows: list[_Row] = []
        for stream in self._streams:
            self._read(stream, rows)
        pipe = self._redis.pipeline(transaction=False)
        for row in rows:
            pipe.exists(self._operators.alert_verdict(row.light.TransactionID))
        for row, exists in zip(rows, pipe.execute(), strict=True):
            row.resolved = bool(exists)
        return rows

    def _read(self, stream: str, rows: list[_Row]) -> None:
        start = "-"
        while True:
            found: Any = self._redis.xrange(stream, min=start, count=_CHUNK)
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
                        light=decode_light(payload),
                        payload=payload,
                    )
                )
            if len(found) < _CHUNK:
                return
            start = "(" + found[-1][0].decode()

    def _verdicts(self, tx_ids: list[int]) -> dict[int, dict[str, str]]:
        pipe = self._redis.pipeline(transaction=False)
        for tx_id in tx_ids:
            pipe.hgetall(self._operators.alert_verdict(tx_id))
        return {
            tx_id: {k.decode(): v.decode() for k, v in raw.items()}
            for tx_id, raw in zip(tx_ids, pipe.execute(), strict=True)
        }


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
