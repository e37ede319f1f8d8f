"""Issue 11, item 3: the gateway's 202 holds across the mirror's recycling of the embedded broker.

Before: ``POST /v1/transactions`` ignored the mirror's hold; a request acknowledged in the instant
before the mirror deleted the topics (or just after: the embedded broker acknowledges a message
produced into a topic it has just deleted) was lost. Here the gateway gets bursts of requests of
20 with quiet between (when the mirror recycles), and at every recycle one more request arrives
exactly between the mirror's last check and the deletion. Every transaction answered 202 must reach
Redis, once.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import msgspec
import pytest
import redis
from confluent_kafka import TopicPartition
from litestar.testing import TestClient

from core.settings import Settings
from data.schema import transaction_to_dict
from infra.gateway import gateway_app
from infra.pipeline.streams import RAW
from infra.services import ServiceError, wait_until
from streams.keys import Keys
from streams.mirror import Mirror
from tests.integration.functions.test_stages import transactions
from tests.integration.streams.conftest import read

pytestmark = pytest.mark.integration

SCORER = {"X-API-Key": "k-recycle-scorer"}
RECYCLE_AT = 200
PER_REQUEST = 20
BURST = 6  # requests


class LateArrivals(Mirror):
    """A mirror at whose every recycle one request arrives just before the topics are deleted."""

    def __init__(
        self, settings: Settings, client: redis.Redis, stop: threading.Event, post: Any, publisher: Any
    ) -> None:
        super().__init__(settings, client, stop)
        self.post, self.publisher = post, publisher
        self.arrivals: list[threading.Thread] = []

    def _recreate_topics(self, partitions: list[TopicPartition]) -> None:
        done = threading.Event()

        def arrive() -> None:
            self.post()
            done.set()

        thread = threading.Thread(target=arrive)
        thread.start()
        self.arrivals.append(thread)
        # the request is either answered (it went to the broker) or waiting for the hold to end
        leases = self.publisher.leases
        wait_until(
            lambda: done.is_set() or (leases is not None and leases.waiting > 0), 10, "the late request"
        )
        super()._recreate_topics(partitions)


def test_every_transaction_answered_202_reaches_redis_across_recycles(
    broker_settings: Settings, redis_client: redis.Redis, topic_suffix: str
) -> None:
    live = broker_settings.replace(
        kafka={"recycle_messages": RECYCLE_AT},
        gateway={"api_keys": f"scorer:{SCORER['X-API-Key']}", "publish_timeout_s": 5.0},
        streams={"mirror_group": f"mirror-{topic_suffix}", "session_timeout_ms": 2000},
    )
    keys = Keys(live.redis.key_prefix)
    txs = transactions(1_400, seed=11)
    batches = [txs[i : i + PER_REQUEST] for i in range(0, len(txs), PER_REQUEST)]
    accepted: list[int] = []
    refused: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    with TestClient(app=gateway_app(live)) as gateway:

        def post(batch: list[Any]) -> None:
            answer = gateway.post(
                "/v1/transactions", json=[transaction_to_dict(tx) for tx in batch], headers=SCORER
            )
            with lock:
                if answer.status_code == 202:
                    accepted.extend(answer.json()["transaction_ids"])
                else:
                    refused.append(answer.text)

        late = iter(batches[-10:])  # one for each recycle (at most 1,400 / 200 = 7)
        publisher = gateway.app.state.services.publisher
        mirror = LateArrivals(live, redis_client, stop, lambda: post(next(late)), publisher)
        runner = threading.Thread(target=mirror.run)
        runner.start()
        try:
            wait_until(lambda: len(mirror._assigned) == 2 * live.kafka.partitions, 30, "the mirror to join")

            regular = batches[:-10]
            for start in range(0, len(regular), BURST):  # bursts with quiet between: the mirror recycles
                for batch in regular[start : start + BURST]:
                    post(batch)
                stop.wait(1.5)  # pacing, not synchronisation
            for thread in mirror.arrivals:
                thread.join(60)
            with contextlib.suppress(ServiceError):  # the assertions below say what is missing
                wait_until(lambda: len(read(redis_client, keys.stream(RAW))) >= len(accepted), 30, "mirrored")
        finally:
            stop.set()
            runner.join(30)

    assert refused == []
    assert mirror.report.recycles >= 3 and len(mirror.arrivals) == mirror.report.recycles
    copied = [
        msgspec.json.decode(p or b"{}")["TransactionID"] for _, p, _ in read(redis_client, keys.stream(RAW))
    ]
    lost = set(accepted) - set(copied)
    assert not lost, f"{len(lost)} of {len(accepted)} transactions answered 202 never reached Redis"
    assert sorted(copied) == sorted(accepted)  # none lost, none twice
    assert not redis_client.exists(keys.mirror_hold)
