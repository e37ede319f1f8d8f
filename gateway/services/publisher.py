"""Async scoring intake: publish accepted transactions to the broker topic the mirror reads.

Same contract as the simulator (``data.simulator``): JSON with the original column names,
key ``card1`` (so a card's transactions stay in order on one partition), header
``published_ns``. A request returns once the broker acknowledged every message, or fails
with 503 naming the broker error.

A 202 is a promise, so the producer differs from the simulator's in two ways:

- ``acks=all`` and no idempotence. An idempotent producer that outlives a broker which forgot
  its producer ids (the embedded broker restarted empty) shares its id with a new producer and
  has its next messages acknowledged as "duplicates" and dropped. Without idempotence a retry
  may publish a message twice; an exact re-send is a replay downstream (counted once), and one
  request in flight per connection keeps a card's order.
- With a broker without retention (``kafka.recycle_messages``), every request holds a publish
  lease while it produces and honours the mirror's recycle hold (``streams.hold``): nothing it
  acknowledges is produced into a topic the mirror is about to delete.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import redis
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from core.settings import Settings
from data.schema import Transaction, encode_transaction
from data.simulator import PUBLISHED_HEADER, producer_config
from gateway.problems import Unavailable
from streams.hold import Held, PublishLeases
from streams.keys import Shards
from streams.outage import REDIS_DOWN

log = logging.getLogger(__name__)
_LEASE_MARGIN_S = 2.0  # a lease outlives the broker timeout of the request that holds it


class Publisher:
    """Publishes a request's transactions; each one the broker has not acknowledged within the
    timeout expires in the client (``message.timeout.ms``), so a 503 is never followed by a
    late delivery of what it refused (a broker outage is answered 503 until the broker is back)."""

    def __init__(self, settings: Settings, client: redis.Redis | None = None) -> None:
        self.topic = settings.kafka.topic_transactions
        self._timeout_s = settings.gateway.publish_timeout_s
        self._producer: Producer | None = None
        self.leases: PublishLeases | None = None
        if settings.kafka.bootstrap:
            timeout_ms = int(self._timeout_s * 1000)
            self._producer = Producer(
                {
                    **producer_config(settings),
                    "enable.idempotence": False,
                    "acks": "all",
                    "max.in.flight.requests.per.connection": 1,
                    "linger.ms": 1,
                    "message.timeout.ms": timeout_ms,
                }
            )
        if settings.kafka.recycle_messages and client is not None:
            keys = Shards.of(settings).home  # where the mirror's hold is
            self.leases = PublishLeases(client, keys, self._timeout_s + _LEASE_MARGIN_S)

    def publish(self, batch: Sequence[Transaction]) -> list[int]:
        if self._producer is None:
            raise Unavailable("no broker configured (SENTINEL_KAFKA_BOOTSTRAP): cannot accept transactions")
        if self.leases is None:
            self._produce(self._producer, batch)
            return [tx.TransactionID for tx in batch]
        try:
            token = self.leases.acquire(self._timeout_s)
        except Held as exc:
            raise Unavailable(f"{exc}; retry shortly") from exc
        except REDIS_DOWN as exc:  # the hold cannot be checked: the topics might be going
            raise Unavailable(f"redis unreachable, cannot check the broker's recycle hold: {exc}") from exc
        try:
            self._produce(self._producer, batch)
        finally:
            try:
                self.leases.release(token)
            except REDIS_DOWN:  # the lease expires by itself
                log.warning("publish lease not released (redis unreachable); it expires by itself")
        return [tx.TransactionID for tx in batch]

    def _produce(self, producer: Producer, batch: Sequence[Transaction]) -> None:
        failures: list[str] = []

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(str(err))

        headers: Any = [(PUBLISHED_HEADER, str(time.time_ns()).encode())]
        try:
            for tx in batch:
                producer.produce(
                    self.topic,
                    value=encode_transaction(tx),
                    key=str(tx.card1).encode(),
                    headers=headers,
                    on_delivery=delivered,
                )
        except (BufferError, KafkaException) as exc:
            raise Unavailable(f"broker not accepting messages: {exc}") from exc
        remaining = producer.flush(self._timeout_s + 1)  # by then each one is acknowledged or expired
        if remaining or failures:
            log.warning(
                "publish failed topic=%s undelivered=%d errors=%s", self.topic, remaining, failures[:3]
            )
            raise Unavailable(
                f"broker did not acknowledge {remaining + len(failures)} of {len(batch)} transactions"
            )
        log.debug("published topic=%s count=%d", self.topic, len(batch))  # one per request: DEBUG

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(self._timeout_s)
