"""Runtime loop: read a batch -> decode -> call the function -> commit outputs + XACK atomically.

One :class:`Worker` is one consumer (unique name: ``host-pid-n``, or a stable ``--consumer``
base such as a pod name, whose restart resumes its own pending entries at once) of one
function, or of a fused chain of functions, on one stream shard (``streams.keys.Shards``; the
only one by default). Each turn it

1. reclaims entries idle longer than ``claim_idle_ms`` in the group's pending list
   (XAUTOCLAIM: their consumer died or is stuck), else reads new ones (XREADGROUP ``>``);
2. decodes them; oversized, payload-less, undecodable (whatever the decoder raises:
   :func:`streams.isolation.decode`) and too-often-delivered entries become dead letters
   with the reason, alone: the rest of the batch goes on (bad input never stops the line);
3. calls the handler (:mod:`streams.isolation`); if it raises, the batch is retried event by
   event: ``PoisonMessage`` -> dead letter, any other error -> left pending (retried after
   reclaim, dead-lettered after ``max_deliveries``); ``DependencyDown`` (no model) or a Redis
   the handler needs unreachable (a cluster master) -> the batch is held and retried with
   backoff, never dead-lettered for it (:meth:`Worker._call`);
4. commits effects, dead letters, counters and the XACK in one script that first checks this
   consumer still owns the entries (:mod:`streams.commit`); if some were reclaimed meanwhile,
   it re-runs the handler on the ones it still owns and writes nothing for the others.

``stop`` (set by SIGTERM/SIGINT in ``sentinel fn run``) is checked between batches, so the
current batch is always finished and committed. A Redis outage does not end the loop: see
:meth:`Worker.run`. ``run(burst=True)`` returns once nothing is
new and nothing is pending in the group.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from core.errors import DependencyDown, PoisonMessage
from core.settings import Settings
from streams.commit import Committer, DeadLetter
from streams.events import Event, split_fields, text
from streams.function import Context, FunctionSpec, history_caps
from streams.fusion import fuse, fused_outputs
from streams.groups import ensure_group, prune_consumers, trim_consumed
from streams.isolation import Outcome, call_isolated, decode
from streams.keys import Shards
from streams.metrics import record_latency
from streams.outage import REDIS_DOWN, Outage

log = logging.getLogger(__name__)

Entry = tuple[str, dict[bytes, bytes] | None, int]  # id, fields (None: deleted), deliveries
_ERROR_TTL_S = 86_400


def consumer_name(index: int = 0) -> str:
    """A consumer name unique to this process: ``host-pid-index``."""
    return f"{socket.gethostname()}-{os.getpid()}-{index}"


@dataclass
class WorkerReport:
    """What one worker did before it returned."""

    processed: int = 0
    dead_lettered: int = 0
    failed: int = 0
    batches: int = 0
    reclaimed: int = 0


class Worker:
    """A consumer of one function (or a fused chain) on its input stream's group."""

    def __init__(
        self,
        specs: Sequence[FunctionSpec],
        client: redis.Redis,
        settings: Settings,
        *,
        consumer: str | None = None,
        stop: threading.Event | None = None,
        claim_idle_ms: int | None = None,
        shard: int = 0,
    ) -> None:
        cfg = settings.streams
        self.specs = list(specs)
        head = self.specs[0]
        self.name = "+".join(s.name for s in self.specs)
        self.client = client
        self.keys = Shards.of(settings).keys(shard)  # the functions' records share the shard's tag
        self.consumer = consumer or consumer_name()
        self.stop = stop or threading.Event()
        self.batch_size = head.batch_size or cfg.batch_size
        self.block_ms = cfg.block_ms if head.block_ms is None else head.block_ms
        self.linger_s = cfg.batch_linger_ms / 1000
        self.max_deliveries = head.max_deliveries or cfg.max_deliveries
        self.max_bytes = cfg.max_event_bytes
        self.claim_idle_ms = claim_idle_ms or cfg.claim_idle_ms
        self.prune_idle_ms = max(10 * self.claim_idle_ms, 60_000)
        self.trim_interval_s = cfg.trim_interval_ms / 1000
        self.latency_samples = cfg.latency_samples
        self.stream_key = self.keys.stream(head.input)
        self.group = head.group
        self.outputs = fused_outputs(self.specs)
        ctx = Context(client, settings, self.keys)
        self.handler = fuse(self.specs, [spec.build(ctx) for spec in self.specs])
        self.committer = Committer(
            client,
            self.keys,
            self.name,
            head.input,
            head.group,
            self.consumer,
            history_caps(self.specs, settings),
        )
        self.report = WorkerReport()
        self._claim_cursor = "0-0"
        self._claim_every = min(self.claim_idle_ms / 2, 1000) / 1000
        self._next_claim = self._next_trim = self._next_flush = 0.0
        self.redis = Outage(f"redis (function {self.name}, consumer {self.consumer})")
        self.dependency = Outage(f"a dependency of function {self.name}", cap_s=10.0)
        self._latencies: list[int] = []  # batch latencies not yet written to Redis (flushed each second)

    def run(self, burst: bool = False) -> WorkerReport:
        """Process batches until ``stop`` is set (or, in burst mode, the input is drained).

        A Redis outage is ridden out (:mod:`streams.outage`): the loop waits with capped backoff
        (``ready`` is False meanwhile), then ensures the group again (a Redis that lost its data
        has lost it too) and re-reads this consumer's own pending entries, so a batch whose
        commit never reached Redis is redone at once and one that did is not redone at all.
        """
        log.info("worker start function=%s consumer=%s stream=%s", self.name, self.consumer, self.stream_key)
        joined = False
        while not self.stop.is_set():
            try:
                if not joined:
                    ensure_group(self.client, self.stream_key, self.group)
                    self._resume_own_pending()
                    joined = True
                if not self._turn(burst):
                    break
            except REDIS_DOWN as exc:
                joined = False
                self.stop.wait(self.redis.failed(exc))
                continue
            self.redis.ok()
        with contextlib.suppress(*REDIS_DOWN):
            self._flush_latencies()
        log.info("worker stop function=%s consumer=%s report=%s", self.name, self.consumer, self.report)
        return self.report

    @property
    def ready(self) -> bool:
        """False while Redis is unreachable or the function waits for a dependency (a model)."""
        return self.redis.ready and self.dependency.ready

    def _turn(self, burst: bool) -> bool:
        """One batch (reclaimed or new) and the periodic chores; False once a burst is drained."""
        now = time.monotonic()
        entries: list[Entry] = []
        if now >= self._next_claim:
            entries = self._claim()
            self._next_claim = now + self._claim_every
        if not entries:
            entries = self._read(">")
            if entries and self.linger_s and len(entries) < self.batch_size:
                entries += self._top_up(len(entries))
        if entries:
            self._process(entries)
        elif burst:
            if self._drained():
                return False
            self._next_claim = 0.0  # nothing new: what is left is pending elsewhere, look for idle entries
            if not self.block_ms:
                self.stop.wait(0.01)
        if now >= self._next_flush:
            self._flush_latencies()
            self._next_flush = now + 1.0
        if self.trim_interval_s and now >= self._next_trim:
            trim_consumed(self.client, self.stream_key)
            prune_consumers(self.client, self.stream_key, self.group, self.prune_idle_ms)
            self._next_trim = now + self.trim_interval_s
        return True

    def _resume_own_pending(self) -> None:
        """Entries still pending under this consumer name (a restart under a stable name)."""
        after = "0"
        while not self.stop.is_set():
            entries = self._read(after)
            if not entries:
                return
            self._process(entries)
            after = entries[-1][0]

    def _top_up(self, have: int) -> list[Entry]:
        """After a short read: wait ``batch_linger_ms`` once, then take what arrived meanwhile (up to
        a full batch, without blocking). Each batch pays its round trips and its entities' state
        once, so at moderate rates fewer, larger batches cost less CPU per event."""
        if self.stop.wait(self.linger_s):
            return []
        return self._read(">", count=self.batch_size - have, block=False)

    def _read(self, start: str, count: int | None = None, block: bool = True) -> list[Entry]:
        reply: Any = self.client.xreadgroup(
            self.group,
            self.consumer,
            {self.stream_key: start},
            count=count or self.batch_size,
            block=(self.block_ms or None) if start == ">" and block else None,
        )
        if not reply:
            return []
        if start == ">":
            return [(text(i), fields or None, 1) for i, fields in reply[0][1]]
        return self._with_deliveries(reply[0][1])

    def _claim(self) -> list[Entry]:
        reply: Any = self.client.xautoclaim(
            self.stream_key,
            self.group,
            self.consumer,
            min_idle_time=self.claim_idle_ms,
            start_id=self._claim_cursor,
            count=self.batch_size,
        )
        cursor, claimed, deleted = reply[:3]
        self._claim_cursor = text(cursor)
        if deleted:  # Redis already dropped them from the pending list: record them, never drop silently
            reason = "entry deleted from the stream before it was processed"
            letters = [DeadLetter(text(i), reason, b"") for i in deleted]
            self.committer.commit(
                [], [], letters, {"dead_lettered": len(letters)}, [s.name for s in self.specs]
            )
            log.warning("dead-lettered %d deleted pending entries stream=%s", len(letters), self.stream_key)
        if not claimed:
            return []
        self.report.reclaimed += len(claimed)
        for spec in self.specs:
            self.client.hincrby(self.keys.function_stats(spec.name), "reclaimed", len(claimed))
        log.info("reclaimed %d entries function=%s consumer=%s", len(claimed), self.name, self.consumer)
        return self._with_deliveries(claimed)

    def _with_deliveries(self, rows: list[Any]) -> list[Entry]:
        """Entries of our pending list with their delivery counts (for max_deliveries)."""
        if not rows:
            return []
        ids = [text(i) for i, _ in rows]
        pending: Any = self.client.xpending_range(
            self.stream_key,
            self.group,
            min=ids[0],
            max=ids[-1],
            count=len(ids) * 4 + 100,
            consumername=self.consumer,
        )
        counts = {text(p["message_id"]): int(p["times_delivered"]) for p in pending}
        return [(i, fields or None, counts.get(i, 2)) for i, (_, fields) in zip(ids, rows, strict=True)]

    def _drained(self) -> bool:
        summary: Any = self.client.xpending(self.stream_key, self.group)
        return int(summary["pending"]) == 0

    def _process(self, entries: list[Entry]) -> None:
        if not entries:
            return
        started = time.perf_counter_ns()
        events: list[Event[Any]] = []
        dead: list[DeadLetter] = []
        for entry_id, fields, deliveries in entries:
            event_or_letter = self._decode(entry_id, fields, deliveries)
            (events if isinstance(event_or_letter, Event) else dead).append(event_or_letter)  # type: ignore[arg-type]
        outcome = self._call(entries, events)
        if outcome is None:  # stopped while a dependency was down: the entries stay pending
            return
        effects, failed, rejected = outcome.effects, outcome.failed, outcome.rejected
        dead.extend(rejected)
        ack = [entry_id for entry_id, _, _ in entries if entry_id not in failed]
        counters = {
            "processed": len(events) - len(failed) - len(rejected),
            "dead_lettered": len(dead),
            "failed": len(failed),
            "batches": 1,
        }
        result = self.committer.commit(ack, effects, dead, counters, stats_names=[s.name for s in self.specs])
        if not result.ok:
            owned = set(result.owned)
            log.warning(
                "entries reclaimed by another consumer; redoing the %d still owned function=%s consumer=%s",
                len(owned),
                self.name,
                self.consumer,
            )
            self._process([e for e in entries if e[0] in owned])
            return
        if failed:
            self._remember_errors(failed)
        self.report.processed += counters["processed"]
        self.report.dead_lettered += len(dead)
        self.report.failed += len(failed)
        self.report.batches += 1
        micros = (time.perf_counter_ns() - started) // 1000
        self._latencies.append(micros)

    def _call(self, entries: list[Entry], events: list[Event[Any]]) -> Outcome | None:
        """The handler's outcome; while it raises ``DependencyDown`` (no model ...) or cannot reach
        a Redis it needs (on a cluster: another master than the shard's own, holding e-mail or
        device state, may be down while this shard's is up), wait with capped backoff and call it
        again. Meanwhile the entries are kept ours with XCLAIM JUSTID, which resets their idle time
        without counting a delivery: no other consumer reclaims them and ``max_deliveries`` never
        dead-letters them for an outage (re-reading them after each failure would count one). If
        the shard's own Redis is down too, the XCLAIM fails and :meth:`run` rides the outage out.
        None when stopped meanwhile."""
        while True:
            try:
                outcome = call_isolated(self.handler, self.name, self.outputs, events)
            except DependencyDown as exc:
                if not self._keep(entries, self.dependency.failed(exc)):
                    return None
                continue
            except REDIS_DOWN as exc:
                if not self._keep(entries, self.redis.failed(exc)):
                    return None
                continue
            self.dependency.ok()
            return outcome

    def _keep(self, entries: list[Entry], wait_s: float) -> bool:
        """Wait ``wait_s`` keeping ``entries`` ours (idle time reset more often than claim_idle_ms);
        False when stopped meanwhile."""
        deadline = time.monotonic() + wait_s
        ids: list[Any] = [entry_id for entry_id, _, _ in entries]
        while True:
            self.client.xclaim(self.stream_key, self.group, self.consumer, 0, ids, justid=True)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            if self.stop.wait(min(remaining, self.claim_idle_ms / 3000)):
                return False

    def _decode(
        self, entry_id: str, fields: dict[bytes, bytes] | None, deliveries: int
    ) -> Event[Any] | DeadLetter:
        if fields is None:
            return DeadLetter(
                entry_id, "entry deleted from the stream before it was processed", b"", {}, deliveries
            )
        payload, meta = split_fields(fields)
        if deliveries > self.max_deliveries:
            error: Any = self.client.hget(self.keys.function_errors(self.name), entry_id)
            reason = (
                f"delivered {deliveries} times (max {self.max_deliveries}); last error: {text(error or b'-')}"
            )
            return DeadLetter(entry_id, reason, payload or b"", meta, deliveries)
        if payload is None:
            return DeadLetter(entry_id, "missing payload field 'd'", b"", meta, deliveries)
        if len(payload) > self.max_bytes:
            reason = f"oversized: {len(payload)} bytes > max_event_bytes {self.max_bytes}"
            return DeadLetter(entry_id, reason, payload[:1024], meta, deliveries)
        try:
            value = decode(self.specs[0].codec, payload)
        except PoisonMessage as exc:
            return DeadLetter(entry_id, str(exc), payload, meta, deliveries)
        return Event(entry_id, value, payload, meta, deliveries)

    def _flush_latencies(self) -> None:
        if self._latencies:
            record_latency(self.client, self.keys, self.name, self._latencies, self.latency_samples)
            self._latencies = []

    def _remember_errors(self, failed: dict[str, str]) -> None:
        key = self.keys.function_errors(self.name)
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(key, mapping={k: v[:2000] for k, v in failed.items()})
        pipe.expire(key, _ERROR_TTL_S)
        pipe.execute()
