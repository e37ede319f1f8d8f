"""The gateway's reads on the real three-master Redis Cluster, three stream shards: the scored
transactions paged across the shards, a transaction's forensics from the shard that scored it
(its state features put together from every slot), the overview summed over the shards, the
alert list and queue over every shard (an alert resolved), live events from every shard; sync
scoring refused with the reason, readiness not held by it."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from litestar.testing import TestClient

from core.connect import redis_client as connect
from core.settings import Settings
from data.schema import decode_transaction
from infra.bench.gateway_process import GatewayProcess
from infra.gateway import gateway_app
from infra.pipeline.streams import RAW, SCORED
from infra.pipeline.table import PIPELINE
from streams.events import PUBLISHED_NS, entry_fields
from streams.keys import Shards
from streams.worker import Worker
from tests.integration.gateway.conftest import Trained, auth
from tests.integration.gateway.test_events import DEADLINE_S, _listen
from tests.keyspace import delete_prefix

pytestmark = pytest.mark.integration

SHARDS = 3
N = 60


@pytest.fixture
def on_cluster(gateway_settings: Settings, trained: Trained, redis_cluster_url: str) -> Iterator[Settings]:
    yield gateway_settings.replace(
        redis={"url": redis_cluster_url},
        streams={"shards": SHARDS},
        models={"registry_dir": trained.registry_dir},
    )
    delete_prefix(redis_cluster_url, gateway_settings.redis.key_prefix)


@pytest.fixture
def cluster(on_cluster: Settings) -> Iterator[redis.Redis]:
    client = connect(on_cluster.redis.url or "")
    yield client
    client.close()


def _score_through_the_shards(settings: Settings, client: redis.Redis, raw: list[bytes]) -> dict[int, int]:
    """Each row into shard card1 mod 3 (as the mirror routes a card's partition), then enrich+score
    on every shard; TransactionID -> its shard."""
    shards = Shards.of(settings)
    where = {}
    for payload in raw:
        tx = decode_transaction(payload)
        where[tx.TransactionID] = tx.card1 % SHARDS
        fields: Any = entry_fields(payload, {PUBLISHED_NS: "1"})
        client.xadd(shards.keys(where[tx.TransactionID]).stream(RAW), fields)
    for shard in sorted(set(where.values())):
        Worker(PIPELINE.chain(["enrich", "score"]), client, settings, shard=shard).run(burst=True)
    return where


def _newest_first(client: redis.Redis, settings: Settings) -> list[int]:
    """TransactionIDs of every shard's scored stream, newest entry id first."""
    entries = []
    for keys in Shards.of(settings):
        rows: Any = client.xrange(keys.stream(SCORED))
        for entry_id, fields in rows:
            ms, _, seq = entry_id.decode().partition("-")
            entries.append(((int(ms), int(seq)), json.loads(fields[b"d"])["TransactionID"]))
    return [tx_id for _, tx_id in sorted(entries, reverse=True)]


def test_transactions_forensics_and_overview_read_every_shard(
    on_cluster: Settings, cluster: redis.Redis, trained: Trained
) -> None:
    raw = trained.raw[2_000 : 2_000 + N]
    where = {decode_transaction(p).TransactionID: decode_transaction(p).card1 % SHARDS for p in raw}
    assert set(where.values()) == {0, 1, 2}
    with TestClient(app=gateway_app(on_cluster)) as client:
        strategy = {"review_threshold": 0.0, "decline_threshold": 1.0}  # every transaction an alert
        assert client.put("/v1/strategy", json=strategy, headers=auth("admin")).status_code == 200
        _score_through_the_shards(on_cluster, cluster, raw)
        listed: list[int] = []
        cursor = ""
        while True:
            page = client.get(f"/v1/transactions?limit=7{cursor}", headers=auth("analyst")).json()
            listed += [t["transaction_id"] for t in page["items"]]
            if page["next_cursor"] is None:
                break
            cursor = f"&cursor={page['next_cursor']}"
        assert listed == _newest_first(cluster, on_cluster)  # every shard's, newest first, once
        assert sorted(listed) == sorted(where)

        for shard in range(SHARDS):
            payload = next(p for p in raw if where[decode_transaction(p).TransactionID] == shard)
            sent = json.loads(payload)
            record = client.get(f"/v1/transactions/{sent['TransactionID']}", headers=auth("analyst"))
            assert record.status_code == 200, record.text
            forensics = record.json()
            assert forensics["raw"] == sent
            features = forensics["features"]
            assert features["card_cnt_all"] >= 1  # the shard's own slot
            if sent.get("P_emaildomain"):
                assert features["email_cnt_all"] >= 1  # the e-mail's slot, wherever it is

        overview = client.get("/v1/metrics/overview?minutes=5", headers=auth("analyst")).json()
        volumes = overview["volumes"]
        assert volumes["scored"] == N
        assert volumes["approved"] + volumes["reviewed"] + volumes["declined"] == N

        alerts = client.get("/v1/alerts?status=all&limit=200", headers=auth("analyst")).json()["items"]
        raised = [a["transaction_id"] for a in alerts]
        assert len(raised) == len(set(raised)) and {where[t] for t in raised} == {0, 1, 2}

        queue = client.get("/v1/alerts/queue?limit=200", headers=auth("analyst"))  # every shard's alerts
        assert queue.status_code == 200, queue.text
        assert sorted(a["transaction_id"] for a in queue.json()["items"]) == sorted(raised)
        resolved = client.post(
            f"/v1/alerts/{raised[0]}/resolve", json={"verdict": "fraud"}, headers=auth("analyst")
        )
        assert resolved.status_code == 200, resolved.text
        assert client.get("/v1/alerts/queue", headers=auth("analyst")).json()["open"] == len(raised) - 1

        refused = client.post(
            "/v1/score", content=raw[0], headers={**auth("scorer"), "Content-Type": "application/json"}
        )
        assert refused.status_code == 503 and "sharded streams" in refused.text
        assert client.get("/readyz").status_code == 200


def test_live_events_come_from_every_shard(
    on_cluster: Settings, cluster: redis.Redis, trained: Trained
) -> None:
    with GatewayProcess(on_cluster) as server:
        for shard in range(SHARDS):
            received: queue.Queue[dict[str, str]] = queue.Queue()
            ready = threading.Event()
            url = f"{server.url}/v1/events?types=scored&max_seconds={DEADLINE_S}"
            listener = threading.Thread(
                target=_listen, args=(url, auth("analyst"), received, ready), daemon=True
            )
            listener.start()
            assert received.get(timeout=DEADLINE_S) == {"status": "200"}
            assert ready.wait(DEADLINE_S)
            payload = next(p for p in trained.raw[3_000:] if decode_transaction(p).card1 % SHARDS == shard)
            _score_through_the_shards(on_cluster, cluster, [payload])
            message = received.get(timeout=DEADLINE_S)
            assert message["event"] == "scored"
            assert json.loads(message["data"])["transaction_id"] == json.loads(payload)["TransactionID"]
            assert f"scored.{shard}=" in message["id"]  # the resume id holds every shard's position
            listener.join(DEADLINE_S)
