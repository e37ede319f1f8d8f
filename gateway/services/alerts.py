"""Alert queue: the score stage's alerts, newest first, with analysts' verdicts; a verdict becomes a label.

Alerts live in the score stage's ``alerts`` stream (one per reviewed or declined
transaction). Resolving one records the verdict, appends the label to the ``labels`` stream
(the label stage stores it for live quality metrics and retraining, as a chargeback would),
writes the audit entry and removes the alert from the open-alerts index
(``gateway.services.queue_index``), all in one MULTI/EXEC.

With stream shards (a Redis Cluster) the list pages every shard's alerts stream as one, newest
first (``pages.page_back_merged``). Resolving one commits the verdict, the audit entry, the index
removal and the label, staged in an outbox, in one MULTI/EXEC under the operators' hash tag
(``{ops}``); the label is then appended to the labels stream of the shard that scored the
transaction, once (``gateway.services.outbox``: its label stage joins it with the result record
there).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec
import redis

from data.schema import Label, encode_label
from functions.events import AlertRaised, decode_alert
from functions.keys import OperatorKeys
from gateway.problems import Conflict, NotFound
from gateway.schemas.common import Verdict, reasons_of
from gateway.schemas.investigation import Alert, AlertPage, Resolution, Resolve
from gateway.services.audit import AuditLog, now_iso
from gateway.services.outbox import LabelOutbox
from gateway.services.pages import Entry, page_back_merged
from gateway.services.queue_index import QueueIndex
from gateway.services.scoring import find_record
from streams.events import ORIGIN, PAYLOAD, PUBLISHED_NS, entry_fields
from streams.keys import KeySets, key_sets

log = logging.getLogger(__name__)

_PAYLOAD = PAYLOAD.encode()
LABEL_OF: dict[Verdict, int] = {"fraud": 1, "legitimate": 0}


class AlertFilter(msgspec.Struct, frozen=True, kw_only=True):
    status: str = "open"  # open | resolved | all
    decision: str | None = None
    min_probability: float | None = None


class AlertService:
    def __init__(
        self,
        client: redis.Redis,
        shards: KeySets,  # every stream shard's alerts are listed
        operators: OperatorKeys,
        alerts_stream: str,
        labels_stream: str,  # a verdict becomes a Label here
        audit: AuditLog,
        ttl_s: int,
        index: QueueIndex,  # the open-alerts index: a verdict removes its alert
        outbox: LabelOutbox,  # with stream shards, how the label reaches its shard
    ) -> None:
        self._redis = client
        self._operators = operators
        self._shards = key_sets(shards)
        self._streams = [shard.stream(alerts_stream) for shard in self._shards]
        self._labels = self._shards[0].stream(labels_stream)  # one Redis: the one labels stream
        self._audit = audit
        self._ttl_s = ttl_s
        self._index = index
        self._outbox = outbox

    def list(self, flt: AlertFilter, limit: int, cursor: str | None) -> AlertPage:
        def convert(entries: list[Entry]) -> list[Alert | None]:
            raised = [decode_alert(p) if (p := fields.get(_PAYLOAD)) else None for _, fields in entries]
            pipe = self._redis.pipeline(transaction=False)
            for alert in raised:
                if alert is not None:
                    pipe.hgetall(self._operators.alert_verdict(alert.TransactionID))
            verdicts = iter(pipe.execute())
            out: list[Alert | None] = []
            for (entry_id, _), alert in zip(entries, raised, strict=True):
                if alert is None:
                    out.append(None)
                    continue
                verdict = {k.decode(): v.decode() for k, v in next(verdicts).items()}
                keep = (
                    (not flt.decision or alert.decision == flt.decision)
                    and (flt.min_probability is None or alert.probability >= flt.min_probability)
                    and not (flt.status == "open" and verdict)
                    and not (flt.status == "resolved" and not verdict)
                )
                out.append(alert_of(entry_id, alert, verdict) if keep else None)
            return out

        items, next_cursor = page_back_merged(self._redis, self._streams, convert, limit, cursor)
        return AlertPage(items=items, next_cursor=next_cursor)

    def resolve(self, tx_id: int, resolution: Resolve, actor: str) -> Resolution:
        self._outbox.flush()  # labels a gateway left staged when it died
        found = find_record(self._redis, self._shards, tx_id)
        if found is None:
            raise NotFound(f"no scored transaction {tx_id} (never scored, or its record expired)")
        scored, shard = found
        if scored.scored.decision == "approve":
            raise NotFound(f"transaction {tx_id} was approved: it raised no alert")
        verdict_key = self._operators.alert_verdict(tx_id)
        self._index.sync()  # so that an alert raised a moment ago is indexed, and its wait measured
        entry = self._index.entry_of(tx_id)
        at = now_iso()
        record = {"verdict": resolution.verdict, "by": actor, "at": at, "note": resolution.note or ""}
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.watch(verdict_key)  # type: ignore[no-untyped-call]
            if pipe.exists(verdict_key):
                raise Conflict(f"the alert of transaction {tx_id} is already resolved")
            pipe.multi()
            pipe.hset(verdict_key, mapping=record)
            pipe.expire(verdict_key, self._ttl_s)
            label = encode_label(Label(TransactionID=tx_id, isFraud=LABEL_OF[resolution.verdict]))  # type: ignore[arg-type]
            fields: Any = entry_fields(label, {PUBLISHED_NS: str(time.time_ns()), ORIGIN: f"analyst/{actor}"})
            if self._outbox.staged:
                self._outbox.stage(pipe, tx_id, shard, fields)
            else:
                pipe.xadd(self._labels, fields)
            detail = {
                "transaction_id": str(tx_id),
                "verdict": resolution.verdict,
                "note": resolution.note or "",
            }
            self._audit.record(pipe, actor, "alert.resolve", detail, at)
            self._index.remove(pipe, tx_id, entry, time.time())
            try:
                pipe.execute()
            except redis.WatchError as exc:
                raise Conflict(f"the alert of transaction {tx_id} was resolved meanwhile") from exc
        if self._outbox.staged:
            self._outbox.deliver(tx_id)
        return Resolution(
            transaction_id=tx_id,
            verdict=resolution.verdict,
            label=LABEL_OF[resolution.verdict],
            resolved_by=actor,
            resolved_at=at,
        )


def alert_of(entry_id: str, raised: AlertRaised, verdict: dict[str, str]) -> Alert:
    """The API view of an alert stream entry and its verdict record (empty: open)."""
    return Alert(
        alert_id=str(raised.TransactionID),
        transaction_id=raised.TransactionID,
        raised_at=int(entry_id.split("-")[0]) / 1000,
        amount=raised.TransactionAmt,
        card1=raised.card1,
        uid=raised.uid,
        model_version=raised.model_version,
        probability=raised.probability,
        risk_level=raised.risk,
        decision=raised.decision,
        reasons=reasons_of(raised.reasons),
        status="resolved" if verdict else "open",
        verdict=verdict.get("verdict"),  # type: ignore[arg-type]
        resolved_by=verdict.get("by"),
        resolved_at=verdict.get("at"),
    )
