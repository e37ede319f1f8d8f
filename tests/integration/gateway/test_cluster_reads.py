"""The gateway's reads on the real three-master Redis Cluster, three stream shards: the scored
transactions paged across the shards, a transaction's forensics from the shard that scored it
(its state features put together from every slot), the overview summed over the shards, the
alert list and queue over every shard (an alert resolved), live events from every shard; sync
scoring on the shard the broker's partitioner and the mirror send the card to."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from confluent_kafka import Producer
from litestar.testing import TestClient

from core.connect import redis_client as connect
from core.settings import Settings
from data.schema import Label, decode_transaction, encode_label
from data.simulator import producer_config
from functions.keys import ScoreKeys
from infra.bench.gateway_process import GatewayProcess
from infra.gateway import gateway_app
from infra.pipeline.streams import LABELS, RAW, SCORED
from infra.pipeline.table import PIPELINE
from streams.events import PUBLISHED_NS, entry_fields
from streams.keys import Shards, partition_of
from streams.mirror import run_mirror
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

        # every transaction's label, into its shard: each shard's label stage stores its own
        for payload in raw:
            tx = decode_transaction(payload)
            label: Any = entry_fields(encode_label(Label(TransactionID=tx.TransactionID, isFraud=0)), {})
            cluster.xadd(Shards.of(on_cluster).keys(where[tx.TransactionID]).stream(LABELS), label)
        for shard in range(SHARDS):
            Worker(PIPELINE.chain(["label"]), cluster, on_cluster, shard=shard).run(burst=True)
        breakdown = client.get("/v1/metrics/breakdown?minutes=5", headers=auth("analyst")).json()
        assert breakdown["labels"] == N  # every shard's label window, merged
        products = next(d for d in breakdown["dimensions"] if d["name"] == "ProductCD")
        assert sum(row["scored"] for row in products["rows"]) == N  # every shard's segment counters
        assert sum(row["labelled"] for row in products["rows"]) == N
        proposal = {"review_threshold": 0.3, "decline_threshold": 0.8}
        simulated = client.post("/v1/strategy/simulate", json=proposal, headers=auth("analyst")).json()
        assert simulated["transactions"] == N
        assert client.get("/readyz").status_code == 200


def test_sync_scoring_runs_on_the_shard_its_card_reaches_through_the_broker(
    on_cluster: Settings, cluster: redis.Redis, trained: Trained, broker_settings: Settings, topic_suffix: str
) -> None:
    """Cards' earlier transactions go through the real broker (the producers' partitioner), the
    mirror and every shard's workers; each card's last one through POST /v1/score: it is recorded on
    the shard the mirror sent the card to, and its card features count the streamed ones."""
    live = on_cluster.replace(
        kafka=broker_settings.kafka.model_dump(),
        streams={"pipeline": broker_settings.streams.pipeline, "mirror_group": f"m-{topic_suffix}"},
    )
    rows = [(decode_transaction(p), p) for p in trained.raw[2_000:2_400]]
    last: dict[int, int] = {}
    for i, (tx, _) in enumerate(rows):
        last[tx.card1] = i
    repeated = {card for card in last if sum(tx.card1 == card for tx, _ in rows) >= 2}
    sync = [rows[last[card]] for card in sorted(repeated, key=lambda c: last[c])]
    streamed = [
        (tx, p) for i, (tx, p) in enumerate(rows) if i != last.get(tx.card1) or tx.card1 not in repeated
    ]
    assert len(sync) >= 10

    acked: dict[int, int] = {}  # TransactionID -> partition the broker acknowledged
    producer = Producer(producer_config(live))
    for tx, payload in streamed:
        on_delivery = lambda err, msg, t=tx.TransactionID: acked.__setitem__(t, msg.partition())  # noqa: E731
        producer.produce(
            live.kafka.topic_transactions, payload, key=str(tx.card1).encode(), on_delivery=on_delivery
        )
    assert producer.flush(30) == 0
    assert all(
        acked[tx.TransactionID] == partition_of(str(tx.card1).encode(), live.kafka.partitions)
        for tx, _ in streamed
    )
    assert run_mirror(live, burst=True, client=cluster).copied[live.kafka.topic_transactions] == len(streamed)
    shards = Shards.of(live)
    for shard in range(SHARDS):
        Worker(PIPELINE.chain(["enrich", "score"]), cluster, live, shard=shard).run(burst=True)
    home = {tx.card1: shards.of_partition(acked[tx.TransactionID]) for tx, _ in streamed}
    assert set(home.values()) == {0, 1, 2}

    with TestClient(app=gateway_app(live)) as client:
        for tx, payload in sync:
            response = client.post(
                "/v1/score", content=payload, headers={**auth("scorer"), "Content-Type": "application/json"}
            )
            assert response.status_code == 200, response.text
            assert response.json()["replayed"] is False
            record = ScoreKeys(shards.keys(home[tx.card1]).prefix).result(tx.TransactionID)
            assert cluster.exists(record)  # on the card's shard
            before = max(
                (t for t, _ in streamed if t.card1 == tx.card1),
                key=lambda t: (t.TransactionDT, t.TransactionID),
            )
            features = [
                client.get(f"/v1/transactions/{t.TransactionID}", headers=auth("analyst")).json()["features"]
                for t in (before, tx)
            ]
            assert features[1]["card_cnt_all"] == features[0]["card_cnt_all"] + 1  # the card's own state
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
