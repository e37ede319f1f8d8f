"""Ingest: broker topics (transactions, labels) -> Redis streams (tx.raw, labels), exactly once.

Each broker message becomes one stream entry: ``d`` = the message value, ``origin`` =
``topic/partition/offset``, plus every message header as metadata (``published_ns``, set by
the publisher, travels on with the event). Per batch and topic, one Lua script appends the
entries and stores the last copied offset of each partition in ``keys.mirror_offsets(topic)``;
it skips any message whose offset is not above the stored one. Hence:

- a crash anywhere loses nothing and duplicates nothing: on (re)assignment the consumer seeks
  to the stored offset + 1 (broker-side commits are not used);
- several mirror instances (same consumer group) split the partitions, and an instance that
  still writes after a rebalance cannot duplicate what the new owner already copied.

Backpressure: when a stream's backlog (entries not yet consumed by all its groups, or its
length when it has none) passes ``streams.backlog_limit``, the topic's partitions are paused;
they resume once the backlog is under half the limit.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from infra.settings import Settings
from streams.events import ORIGIN, PAYLOAD
from streams.groups import backlog
from streams.keys import Keys

log = logging.getLogger(__name__)

_COPY = """
local n, i, written, last = tonumber(ARGV[1]), 2, 0, {}
for _ = 1, n do
  local part, off, argc = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local stored = last[part]
  if stored == nil then stored = tonumber(redis.call('HGET', KEYS[2], part) or '-1') end
  if off > stored then
    redis.call('XADD', KEYS[1], '*', unpack(ARGV, i + 3, i + 2 + argc))
    stored, written = off, written + 1
  end
  last[part] = stored
  i = i + 3 + argc
end
for part, off in pairs(last) do redis.call('HSET', KEYS[2], part, string.format('%d', off)) end
if written > 0 then redis.call('HINCRBY', KEYS[3], ARGV[i], written) end
return written
"""
_BACKPRESSURE_EVERY_S = 0.05


@dataclass
class MirrorReport:
    """What one mirror instance did."""

    copied: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped: int = 0
    pauses: int = 0
    resumes: int = 0


class Mirror:
    """One mirror instance: a broker consumer in the mirror group writing to Redis."""

    def __init__(
        self, settings: Settings, client: redis.Redis | None = None, stop: threading.Event | None = None
    ) -> None:
        kafka, cfg = settings.kafka, settings.streams
        if not kafka.bootstrap or not (client or settings.redis.url):
            raise ValueError("the mirror needs settings.kafka.bootstrap and settings.redis.url")
        self.client = client or redis.Redis.from_url(settings.redis.url or "")
        self.keys = Keys(settings.redis.key_prefix)
        self.streams = {
            kafka.topic_transactions: self.keys.raw_transactions,
            kafka.topic_labels: self.keys.labels,
        }
        self.batch = cfg.mirror_batch
        self.limit = cfg.backlog_limit
        self.stop = stop or threading.Event()
        self.paused: set[str] = set()
        self.report = MirrorReport()
        self._script = self.client.register_script(_COPY)
        self._assigned: list[TopicPartition] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": kafka.bootstrap,
                "group.id": cfg.mirror_group,
                "client.id": f"sentinel-mirror-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": cfg.fetch_wait_max_ms,
                "session.timeout.ms": cfg.session_timeout_ms,
                "heartbeat.interval.ms": max(100, cfg.session_timeout_ms // 4),
            }
        )

    def run(self, burst: bool = False) -> MirrorReport:
        """Copy until ``stop`` is set (burst: until every assigned partition is copied to its end)."""
        self._consumer.subscribe(list(self.streams), on_assign=self._on_assign, on_revoke=self._on_revoke)
        log.info("mirror start topics=%s", list(self.streams))
        next_check = 0.0
        try:
            while not self.stop.is_set():
                messages = self._fetch()
                if messages:
                    self._copy(messages)
                now = time.monotonic()
                if messages or now >= next_check:  # after every copy: overshoot at most one batch
                    self._apply_backpressure()
                    next_check = now + _BACKPRESSURE_EVERY_S
                if burst and not messages and self._caught_up():
                    break
        finally:
            self._consumer.close()
        log.info("mirror stop copied=%s skipped=%d", dict(self.report.copied), self.report.skipped)
        return self.report

    def _fetch(self) -> list[Message]:
        # consume(n, timeout) waits for n messages or the timeout: take what is queued, else wait
        # for the first message only, so a quiet topic adds no batching delay.
        messages = self._consumer.consume(num_messages=self.batch, timeout=0)
        if not messages:
            messages = self._consumer.consume(num_messages=1, timeout=0.1)
            if messages and self.batch > 1:
                messages += self._consumer.consume(num_messages=self.batch - 1, timeout=0)
        return messages

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            stored: Any = self.client.hget(self.keys.mirror_offsets(tp.topic), str(tp.partition))
            tp.offset = int(stored) + 1 if stored is not None else OFFSET_BEGINNING
        consumer.assign(partitions)
        self._assigned = list(partitions)
        self.paused -= {tp.topic for tp in partitions}
        log.info("mirror assigned %s", [(tp.topic, tp.partition, tp.offset) for tp in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.unassign()
        self._assigned = []
        log.info("mirror revoked %s", [(tp.topic, tp.partition) for tp in partitions])

    def _copy(self, messages: list[Message]) -> None:
        by_topic: dict[str, list[Message]] = defaultdict(list)
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.fatal():
                    raise KafkaException(error)
                log.warning("mirror consume error %s", error)
                continue
            by_topic[message.topic() or ""].append(message)
        for topic, batch in by_topic.items():
            args: list[Any] = [len(batch)]
            for message in batch:
                fields = _fields(topic, message)
                args.extend((message.partition(), message.offset(), len(fields), *fields))
            args.append(f"copied:{topic}")
            keys = [self.streams[topic], self.keys.mirror_offsets(topic), self.keys.mirror_stats]
            written = int(self._script(keys=keys, args=args))
            self.report.copied[topic] += written
            self.report.skipped += len(batch) - written

    def _apply_backpressure(self) -> None:
        for topic, stream in self.streams.items():
            partitions = [tp for tp in self._assigned if tp.topic == topic]
            if not partitions:
                continue
            size = backlog(self.client, stream)
            if topic not in self.paused and size > self.limit:
                self._consumer.pause(partitions)
                self.paused.add(topic)
                self.report.pauses += 1
                self.client.hset(self.keys.mirror_stats, mapping={f"paused:{topic}": 1})
                self.client.hincrby(self.keys.mirror_stats, f"pauses:{topic}", 1)
                log.info("mirror paused topic=%s backlog=%d limit=%d", topic, size, self.limit)
            elif topic in self.paused and size <= self.limit // 2:
                self._consumer.resume(partitions)
                self.paused.discard(topic)
                self.report.resumes += 1
                self.client.hset(self.keys.mirror_stats, mapping={f"paused:{topic}": 0})
                log.info("mirror resumed topic=%s backlog=%d", topic, size)

    def _caught_up(self) -> bool:
        if not self._assigned:
            return False
        for tp in self._assigned:
            _, high = self._consumer.get_watermark_offsets(
                TopicPartition(tp.topic, tp.partition), timeout=5, cached=False
            )
            stored: Any = self.client.hget(self.keys.mirror_offsets(tp.topic), str(tp.partition))
            copied_to = int(stored) + 1 if stored is not None else 0
            if copied_to < high:
                return False
        return True


def _fields(topic: str, message: Message) -> list[Any]:
    fields: list[Any] = [
        PAYLOAD,
        message.value() or b"",
        ORIGIN,
        f"{topic}/{message.partition()}/{message.offset()}",
    ]
    headers: Any = message.headers() or []
    for name, value in headers:
        if name not in (PAYLOAD, ORIGIN):
            fields.extend((name, value if value is not None else b""))
    return fields


def run_mirror(
    settings: Settings,
    stop_event: threading.Event | None = None,
    burst: bool = False,
    client: redis.Redis | None = None,
) -> MirrorReport:
    """Run one mirror instance until ``stop_event`` is set (or, with ``burst``, until caught up)."""
    return Mirror(settings, client, stop_event).run(burst=burst)
