"""Async scoring intake: publish accepted transactions to the broker topic the mirror reads.

Same contract as the simulator (``data.simulator``): JSON with the original column names,
key ``card1`` (so a card's transactions stay in order on one partition), header
``published_ns``. A request returns once the broker acknowledged every message, or fails
with 503 naming the broker error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from core.settings import Settings
from data.schema import Transaction, encode_transaction
from data.simulator import PUBLISHED_HEADER, producer_config
from gateway.problems import Unavailable

log = logging.getLogger(__name__)


class Publisher:
    """Publishes a request's transactions; each one the broker has not acknowledged within the
    timeout expires in the client (``message.timeout.ms``), so a 503 is never followed by a
    late delivery of what it refused (a broker outage is answered 503 until the broker is back)."""

    def __init__(self, settings: Settings) -> None:
        self.topic = settings.kafka.topic_transactions
        self._timeout_s = settings.gateway.publish_timeout_s
        self._producer: Producer | None = None
        if settings.kafka.bootstrap:
            timeout_ms = int(self._timeout_s * 1000)
            self._producer = Producer(
                {**producer_config(settings), "linger.ms": 1, "message.timeout.ms": timeout_ms}
            )

    def publish(self, batch: Sequence[Transaction]) -> list[int]:
        if self._producer is None:
            raise Unavailable("no broker configured (SENTINEL_KAFKA_BOOTSTRAP): cannot accept transactions")
        failures: list[str] = []

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(str(err))

        headers: Any = [(PUBLISHED_HEADER, str(time.time_ns()).encode())]
        try:
            for tx in batch:
                self._producer.produce(
                    self.topic,
                    value=encode_transaction(tx),
                    key=str(tx.card1).encode(),
                    headers=headers,
                    on_delivery=delivered,
                )
        except (BufferError, KafkaException) as exc:
            raise Unavailable(f"broker not accepting messages: {exc}") from exc
        remaining = self._producer.flush(self._timeout_s + 1)  # by then each one is acknowledged or expired
        if remaining or failures:
            log.warning(
                "publish failed topic=%s undelivered=%d errors=%s", self.topic, remaining, failures[:3]
            )
            raise Unavailable(
                f"broker did not acknowledge {remaining + len(failures)} of {len(batch)} transactions"
            )
        log.debug("published topic=%s count=%d", self.topic, len(batch))  # one per request: DEBUG
        return [tx.TransactionID for tx in batch]

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(self._timeout_s)
