"""Ingest: broker topics -> Redis streams, exactly once, along the pipeline table's routes.

The routes (topic -> stream) come from the pipeline table (``Pipeline.mirror_routes``), loaded
from ``settings.streams.pipeline`` like ``sentinel fn`` loads it, unless given.

Each broker message becomes one stream entry: ``d`` = the message value, ``origin`` =
``topic/partition/offset``, plus every message header as metadata (``published_ns``, set by
the publisher, travels on with the event). Per batch and topic, one Lua script appends the
entries and stores the last copied offset of each partition in ``keys.mirror_offsets(topic)``;
it skips any message whose offset is not above the stored one. Hence:

- a crash anywhere loses nothing and duplicates nothing: on (re)assignment the consumer seeks
  to the stored offset + 1 (broker-side commits are not used);
- several mirror instances (same consumer group) split the partitions, and an instance that
  still writes after a rebalance cannot duplicate what the new owner already copied.

Stored offsets belong to one incarnation of a topic: the hash also records the topic's id, and
when a topic has been deleted and created again (a new id, e.g. a restarted in-memory broker)
its partitions are copied from the beginning instead of skipped.

Shards (``streams.keys.Shards``): partition p of a topic is copied into the stream of shard
p mod ``streams.shards``, and its offset is stored in that shard's offsets hash, so the copy script
stays in one hash slot on a Redis Cluster and one broker key's events stay in order in one shard.

Backpressure: when a stream's backlog (entries not yet consumed by all its groups, or its
length when it has none; the largest of its shards) passes ``streams.backlog_limit``, the topic's
partitions are paused; they resume once the backlog is under half the limit.

Recycling (``kafka.recycle_messages`` > 0, only for a broker without retention, the embedded
Tansu that keeps every message in memory): once the topics hold that many messages, the mirror
sets ``keys.mirror_hold`` and waits for the publish leases of producers that acknowledge to
clients (the gateway) to end (``streams.hold``); producers that poll the hold (``data.simulator``)
flush and wait while it exists. When the topics have been quiet for ``RECYCLE_QUIET_S`` and
everything is copied, the mirror deletes and recreates them (new ids), then rejoins and releases
the hold. It must own every partition (one mirror instance). A producer that ignores the hold
could lose a message sent in the instant before deletion (the embedded broker even acknowledges
a message produced into a topic just deleted): point such producers at Redpanda or Kafka, whose
retention bounds their topics instead.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from core.connect import redis_client
from core.errors import ConfigError
from core.settings import Settings
from streams.events import ORIGIN, PAYLOAD
from streams.function import load_pipeline
from streams.groups import backlog
from streams.hold import wait_for_publishers
from streams.keys import Shards
from streams.outage import REDIS_DOWN, Outage

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
_BROKER_DOWN = {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE}
_BROKER_PROBE_TIMEOUT_S = 1.0
_TOPIC_ID = "topic_id"  # field of the offsets hash beside the partitions
RECYCLE_CHECK_S = 1.0  # how often the topics' size is checked
RECYCLE_QUIET_S = 1.0  # producers honour the hold within 0.1 s (data.simulator); wait 10x that
RECYCLE_DRAIN_S = 60.0  # give up a recycle (and release the hold) after this long
_HOLD_TTL_MS = 30_000  # a mirror that dies mid-recycle releases the producers after this


@dataclass
class MirrorReport:
    """What one mirror instance did."""

    copied: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped: int = 0
    pauses: int = 0
    resumes: int = 0
    recycles: int = 0


class Mirror:
    """One mirror instance: a broker consumer in the mirror group writing to Redis."""

    def __init__(
        self,
        settings: Settings,
        client: redis.Redis | None = None,
        stop: threading.Event | None = None,
        routes: Mapping[str, str] | None = None,
    ) -> None:
        kafka, cfg = settings.kafka, settings.streams
        if not kafka.bootstrap or not (client or settings.redis.url):
            raise ValueError("the mirror needs settings.kafka.bootstrap and settings.redis.url")
        self.client = client or redis_client(settings.redis.url or "")
        self.shards = Shards.of(settings)
        self.keys = self.shards.home  # the recycle hold, pause and recycle counters
        if routes is None:
            routes = load_pipeline(cfg.pipeline).mirror_routes(kafka)
        if not routes:
            raise ConfigError(f"the pipeline {cfg.pipeline} routes no broker topic to a stream")
        self.streams = dict(routes)  # topic -> logical stream (one key per shard)
        self.batch = cfg.mirror_batch
        self.limit = cfg.backlog_limit
        self.stop = stop or threading.Event()
        self.paused: set[str] = set()
        self.report = MirrorReport()
        self._script = self.client.register_script(_COPY)
        self._assigned: list[TopicPartition] = []
        self._kafka, self._cfg = kafka, cfg
        self._admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
        self._reseek = False  # after a Redis outage: seek to the stored offsets before copying more
        self.redis = Outage("redis (mirror)")
        self.broker = Outage(f"broker {kafka.bootstrap} (mirror)")
        self._next_broker_probe = 0.0
        self._consumer = self._new_consumer()
        self._next_recycle_check = 0.0
        self._recycle_refused = False
        self._recycled: set[str] = set()  # topics this mirror recreated itself (planned, not a fault)

    def _new_consumer(self) -> Consumer:
        return Consumer(
            {
                "bootstrap.servers": self._kafka.bootstrap,
                "group.id": self._cfg.mirror_group,
                "client.id": f"sentinel-mirror-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": self._cfg.fetch_wait_max_ms,
                "session.timeout.ms": self._cfg.session_timeout_ms,
                "heartbeat.interval.ms": max(100, self._cfg.session_timeout_ms // 4),
                "error_cb": self._on_kafka_error,
            }
        )

    def _subscribe(self) -> None:
        self._consumer.subscribe(list(self.streams), on_assign=self._on_assign, on_revoke=self._on_revoke)

    def run(self, burst: bool = False) -> MirrorReport:
        """Copy until ``stop`` is set (burst: until every assigned partition is copied to its end).

        Outages are ridden out (:mod:`streams.outage`). Redis unreachable: wait with capped
        backoff, then seek every assigned partition back to the offset stored in Redis, since a
        Redis restarted from its append-only file may have lost its last second of copies, which
        the broker consumer has already read past. Broker unreachable: the client reconnects by
        itself; the outage is logged once each way.
        """
        self._subscribe()
        log.info("mirror start topics=%s", list(self.streams))
        next_check = 0.0
        try:
            while not self.stop.is_set():
                try:
                    if self._reseek:
                        self._seek_to_stored()
                    messages = self._fetch()
                    if messages:
                        self._copy(messages)
                    now = time.monotonic()
                    if messages or now >= next_check:  # after every copy: overshoot at most one batch
                        self._apply_backpressure()
                        next_check = now + _BACKPRESSURE_EVERY_S
                    if self._kafka.recycle_messages and now >= self._next_recycle_check:
                        self._next_recycle_check = now + RECYCLE_CHECK_S
                        self._maybe_recycle()
                    if not self.broker.ready and now >= self._next_broker_probe:
                        self._probe_broker(now)
                    if burst and not messages and self._caught_up():
                        break
                except REDIS_DOWN as exc:
                    self._reseek = True
                    self.stop.wait(self.redis.failed(exc))
                    continue
                self.redis.ok()
        finally:
            self._consumer.close()
        log.info("mirror stop copied=%s skipped=%d", dict(self.report.copied), self.report.skipped)
        return self.report

    @property
    def ready(self) -> bool:
        """False while Redis or the broker is unreachable."""
        return self.redis.ready and self.broker.ready

    def _on_kafka_error(self, error: KafkaError) -> None:
        """librdkafka's error callback: the client reconnects by itself; note the outage once."""
        if error.code() in _BROKER_DOWN:
            if self.broker.ready:
                self.broker.failed(KafkaException(error))
                self._next_broker_probe = time.monotonic() + self.broker.first_s
        else:
            log.warning("mirror broker client error %s", error)

    def _probe_broker(self, now: float) -> None:
        """While the broker is down: ask it for metadata (capped backoff) until it answers."""
        try:
            self._admin.list_topics(timeout=_BROKER_PROBE_TIMEOUT_S)
        except KafkaException as exc:
            self._next_broker_probe = now + self.broker.failed(exc)
            return
        self.broker.ok()

    def _seek_to_stored(self) -> None:
        """Position every assigned partition just after the last offset stored in Redis."""
        for topic in {tp.topic for tp in self._assigned}:
            self._forget_older_incarnation(topic)
        for tp in self._assigned:
            offset = self._copied_to(tp)
            self._consumer.seek(TopicPartition(tp.topic, tp.partition, offset or OFFSET_BEGINNING))
        held = [tp for tp in self._assigned if tp.topic not in self.paused]
        if held:
            self._consumer.resume(held)
        self._reseek = False
        log.info(
            "mirror resumed from the stored offsets %s", [(tp.topic, tp.partition) for tp in self._assigned]
        )

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
        try:
            for topic in {tp.topic for tp in partitions}:
                self._forget_older_incarnation(topic)
            for tp in partitions:
                stored: Any = self.client.hget(self._offsets(tp.topic, tp.partition), str(tp.partition))
                tp.offset = int(stored) + 1 if stored is not None else OFFSET_BEGINNING
        except REDIS_DOWN as exc:  # no stored offsets to start from: hold the partitions until Redis is back
            consumer.assign(partitions)
            consumer.pause(partitions)
            self._assigned = list(partitions)
            self._reseek = True
            log.warning("mirror assigned %d partitions while Redis is unreachable (%s); holding them",
                        len(partitions), exc)  # fmt: skip
            return
        consumer.assign(partitions)
        self._assigned = list(partitions)
        self.paused -= {tp.topic for tp in partitions}
        log.info("mirror assigned %s", [(tp.topic, tp.partition, tp.offset) for tp in partitions])

    def _offsets(self, topic: str, partition: int) -> str:
        """The offsets hash of ``partition``: its shard's."""
        return self.shards.keys(self.shards.of_partition(partition)).mirror_offsets(topic)

    def _forget_older_incarnation(self, topic: str) -> None:
        """Drop the stored offsets (of every shard) when they belong to an earlier topic of the same name."""
        try:
            current = str(self._admin.describe_topics(TopicCollection([topic]))[topic].result(10).topic_id)
        except KafkaException as exc:
            log.warning("mirror: cannot read the id of topic %s (%s); keeping its stored offsets", topic, exc)
            return
        for keys in self.shards:
            key = keys.mirror_offsets(topic)
            stored: Any = self.client.hget(key, _TOPIC_ID)
            if stored is not None and stored.decode() != current:
                # the mirror's own recycle is routine (INFO); a topic recreated by someone else is not
                level = logging.INFO if topic in self._recycled else logging.WARNING
                log.log(level, "mirror: topic %s was recreated (id %s -> %s); copying it from the start",
                        topic, stored.decode(), current)  # fmt: skip
                self.client.delete(key)
            self.client.hset(key, _TOPIC_ID, current)
        self._recycled.discard(topic)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.unassign()
        self._assigned = []
        log.info("mirror revoked %s", [(tp.topic, tp.partition) for tp in partitions])

    def _copy(self, messages: list[Message]) -> None:
        by_stream: dict[tuple[str, int], list[Message]] = defaultdict(list)  # (topic, shard) -> messages
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.fatal():
                    raise KafkaException(error)
                log.warning("mirror consume error %s", error)
                continue
            by_stream[message.topic() or "", self.shards.of_partition(message.partition() or 0)].append(
                message
            )
        for (topic, shard), batch in by_stream.items():
            args: list[Any] = [len(batch)]
            for message in batch:
                fields = _fields(topic, message)
                args.extend((message.partition(), message.offset(), len(fields), *fields))
            args.append(f"copied:{topic}")
            names = self.shards.keys(shard)
            keys = [names.stream(self.streams[topic]), names.mirror_offsets(topic), names.mirror_stats]
            written = int(self._script(keys=keys, args=args))
            self.report.copied[topic] += written
            self.report.skipped += len(batch) - written

    def _apply_backpressure(self) -> None:
        for topic, stream in self.streams.items():
            partitions = [tp for tp in self._assigned if tp.topic == topic]
            if not partitions:
                continue
            shards = {self.shards.of_partition(tp.partition) for tp in partitions}
            size = max(backlog(self.client, self.shards.keys(shard).stream(stream)) for shard in shards)
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
        return all(self._copied_to(tp) >= high for tp, high in self._high_watermarks(self._assigned).items())

    def _copied_to(self, tp: TopicPartition) -> int:
        stored: Any = self.client.hget(self._offsets(tp.topic, tp.partition), str(tp.partition))
        return int(stored) + 1 if stored is not None else 0

    def _high_watermarks(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {
            tp: self._consumer.get_watermark_offsets(
                TopicPartition(tp.topic, tp.partition), timeout=5, cached=False
            )[1]
            for tp in partitions
        }

    def _all_partitions(self) -> list[TopicPartition]:
        topics = self._consumer.list_topics(timeout=5).topics
        return [TopicPartition(t, p) for t in self.streams if t in topics for p in topics[t].partitions]

    def _maybe_recycle(self) -> None:
        partitions = self._all_partitions()
        highs = self._high_watermarks(partitions)
        if sum(highs.values()) < self._kafka.recycle_messages or self.paused:
            return
        owned = {(tp.topic, tp.partition) for tp in self._assigned}
        if owned != {(tp.topic, tp.partition) for tp in partitions}:
            if not self._recycle_refused:
                log.warning("mirror: the topics hold %d messages but this instance does not own every "
                            "partition; recycling needs a single mirror", sum(highs.values()))  # fmt: skip
                self._recycle_refused = True
            return
        self._recycle(partitions)

    def _recycle(self, partitions: list[TopicPartition]) -> None:
        """Hold producers, copy everything, then delete and recreate the topics; see the module doc."""
        hold = self.keys.mirror_hold
        self.client.set(hold, "recycling", px=_HOLD_TTL_MS)
        log.info("mirror: holding producers to recycle the broker topics")
        try:
            published = wait_for_publishers(self.client, self.keys, RECYCLE_DRAIN_S, self.stop, _HOLD_TTL_MS)
            if not published or not self._drain(partitions):
                if not self.stop.is_set():  # a producer that ignores the hold: try again later
                    log.warning("mirror: topics not quiet within %.0f s; recycling later", RECYCLE_DRAIN_S)
                    self._next_recycle_check = time.monotonic() + RECYCLE_DRAIN_S
                return
            self._consumer.close()
            self._assigned = []
            try:
                self._recycled.update(self.streams)
                self._recreate_topics(partitions)
            finally:  # the new topics' ids make _on_assign drop the old offsets
                self._consumer = self._new_consumer()
                self._subscribe()
            self.report.recycles += 1
            self.client.hincrby(self.keys.mirror_stats, "recycles", 1)
            log.info("mirror: recycled the broker topics %s", list(self.streams))
        finally:
            self.client.delete(hold)

    def _drain(self, partitions: list[TopicPartition]) -> bool:
        """Copy until every partition is copied to its end and no end moved for RECYCLE_QUIET_S."""
        deadline = time.monotonic() + RECYCLE_DRAIN_S
        highs: dict[TopicPartition, int] = {}
        quiet_since = time.monotonic()
        while time.monotonic() < deadline and not self.stop.is_set():
            self.client.pexpire(self.keys.mirror_hold, _HOLD_TTL_MS)
            messages = self._fetch()
            if messages:
                self._copy(messages)
                continue
            now_highs = self._high_watermarks(partitions)
            if now_highs != highs:
                highs, quiet_since = now_highs, time.monotonic()
            copied = all(self._copied_to(tp) >= high for tp, high in highs.items())
            if copied and time.monotonic() - quiet_since >= RECYCLE_QUIET_S:
                return True
        return False

    def _recreate_topics(self, partitions: list[TopicPartition]) -> None:
        counts = {topic: sum(1 for tp in partitions if tp.topic == topic) for topic in self.streams}
        for future in self._admin.delete_topics(list(self.streams), operation_timeout=10).values():
            future.result(10)
        new = [NewTopic(topic, num_partitions=n, replication_factor=1) for topic, n in counts.items() if n]
        for future in self._admin.create_topics(new, operation_timeout=10).values():
            future.result(10)


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
