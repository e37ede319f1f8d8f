"""The Ops Center's work queue: filters, sorting, paging and KPIs from the open-alerts index; 10,000 open alerts.

Each test runs on one Redis and on the session's three-master Redis Cluster with three stream
shards (an alert raised on shard TransactionID mod 3, its result record there): one index over
every shard's alerts stream, verdicts committed in one slot, labels appended to their shard.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import msgspec
import pytest
import redis
from litestar.testing import TestClient

from core.connect import redis_client as connect
from core.settings import Settings
from functions.events import AlertRaised, TxScored
from functions.keys import LabelKeys, OperatorKeys, ScoreKeys
from functions.result import to_hash
from gateway.services.outbox import LabelOutbox
from gateway.services.queue_index import DECISIONS, FAMILIES, ORDERS
from infra.gateway import gateway_app, wiring
from infra.pipeline.table import PIPELINE
from streams.events import entry_fields
from streams.keys import Keys, Shards
from streams.worker import Worker
from tests.integration.gateway.conftest import Client, auth
from tests.keyspace import delete_prefix

pytestmark = pytest.mark.integration

Alert = tuple[int, float, float, str]  # id, amount, probability, decision
SORTS = ("newest", "oldest", "amount_desc", "amount_asc", "probability_desc", "probability_asc")
SHARDS = 3
_SEQ = itertools.count()  # explicit entry ids on the cluster: one order over every shard's stream


@pytest.fixture(params=["redis", "cluster"])
def queue_settings(request: pytest.FixtureRequest, gateway_settings: Settings) -> Iterator[Settings]:
    if request.param == "redis":
        yield gateway_settings
        return
    url = request.getfixturevalue("redis_cluster_url")
    yield gateway_settings.replace(redis={"url": url}, streams={"shards": SHARDS})
    delete_prefix(url, gateway_settings.redis.key_prefix)


@pytest.fixture
def client(queue_settings: Settings) -> Iterator[Client]:
    with TestClient(app=gateway_app(queue_settings)) as test_client:
        yield test_client


@pytest.fixture
def redis_client(queue_settings: Settings) -> Iterator[redis.Redis]:
    client = connect(queue_settings.redis.url or "")
    yield client
    client.close()


def _shard(settings: Settings, tx_id: int) -> Keys:
    shards = Shards.of(settings)
    return shards.keys(tx_id % shards.count)


def _alert_streams(settings: Settings) -> list[str]:
    return [keys.stream(wiring(settings).alerts_stream) for keys in Shards.of(settings)]


def _raise(
    client: redis.Redis, settings: Settings, alerts: list[Alert], spacing_ms: int = 0
) -> dict[int, float]:
    """Append alerts to the alerts stream of their shard in order (``spacing_ms`` apart, the last one
    now), with their result records (so they can be resolved through the API); returns id -> raise
    time (s)."""
    sharded = Shards.of(settings).count > 1
    now_ms = int(time.time() * 1000)
    raised = {}
    pipe = client.pipeline(transaction=False)
    for i, (tx_id, amount, probability, decision) in enumerate(alerts):
        scored = TxScored(
            TransactionID=tx_id,
            TransactionDT=86_400 + tx_id,
            TransactionAmt=amount,
            card1=1000 + tx_id % 7,
            uid=f"u{tx_id % 3}",
            probability=probability,
            risk="high" if decision == "decline" else "medium",
            decision=decision,  # type: ignore[arg-type]
            reasons=[],
            model_version="m1",
            review_threshold=0.3,
            decline_threshold=0.8,
        )
        fields: Any = entry_fields(msgspec.json.encode(AlertRaised.of(scored)), {})
        keys = _shard(settings, tx_id)
        key = keys.stream(wiring(settings).alerts_stream)
        if spacing_ms:
            at_ms = now_ms - (len(alerts) - 1 - i) * spacing_ms
            pipe.xadd(key, fields, id=f"{at_ms}-{i}")
            raised[tx_id] = at_ms / 1000
        elif sharded:  # auto ids of separate streams tie within a millisecond
            seq = next(_SEQ)
            pipe.xadd(key, fields, id=f"{now_ms + seq // 1000}-{seq % 1000}")
            raised[tx_id] = now_ms / 1000
        else:
            pipe.xadd(key, fields)
            raised[tx_id] = now_ms / 1000
        pipe.hset(ScoreKeys(keys.prefix).result(tx_id), mapping=to_hash(scored, None, 0))
    pipe.execute()
    return raised


def _resolve(client: Client, tx_id: int, verdict: str = "fraud") -> None:
    response = client.post(f"/v1/alerts/{tx_id}/resolve", json={"verdict": verdict}, headers=auth("analyst"))
    assert response.status_code == 200, response.text


def _queue(client: Client, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/alerts/queue", params=params, headers=auth("analyst"))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _ids(page: dict[str, Any]) -> list[int]:
    return [item["transaction_id"] for item in page["items"]]


def test_filters_sort_page_and_kpis(
    client: Client, redis_client: redis.Redis, queue_settings: Settings
) -> None:
    _raise(
        redis_client,
        queue_settings,
        [
            (1, 50.0, 0.5, "review"),
            (2, 900.0, 0.95, "decline"),
            (3, 20.0, 0.4, "review"),
            (4, 300.0, 0.85, "decline"),
        ],
    )
    _resolve(client, 3)

    first = _queue(client)
    assert _ids(first) == [4, 2, 1]  # open only, newest first
    assert (first["total"], first["open"], first["resolved"]) == (3, 3, 1)
    assert first["oldest_open_age_s"] is not None and first["oldest_open_age_s"] >= 0
    assert first["median_time_to_verdict_s"] is not None
    assert _ids(_queue(client, sort="amount_desc")) == [2, 4, 1]
    assert _ids(_queue(client, sort="probability_asc")) == [1, 4, 2]
    assert _ids(_queue(client, decision="decline", sort="oldest")) == [2, 4]
    assert _ids(_queue(client, min_amount=100, max_amount=500)) == [4]
    assert _ids(_queue(client, status="resolved")) == [3]
    assert _queue(client, status="resolved")["items"][0]["verdict"] == "fraud"
    assert _ids(_queue(client, status="all", sort="oldest", offset=1, limit=2)) == [2, 3]
    assert _ids(_queue(client, min_age_s=3600)) == []
    item = first["items"][0]
    assert (item["card1"], item["uid"], item["model_version"]) == (1004, "u1", "m1")


def test_every_sort_filter_and_page_of_the_index_matches_a_full_sort(
    client: Client, redis_client: redis.Redis, queue_settings: Settings
) -> None:
    rng = random.Random(7)
    n = 120
    alerts = [
        (i, round(rng.uniform(1, 1000), 2), round(rng.uniform(0.3, 1), 6), rng.choice(DECISIONS))
        for i in range(1, n + 1)
    ]
    raised = _raise(redis_client, queue_settings, alerts, spacing_ms=60_000)  # one a minute, 2 h
    resolved = set(rng.sample(range(1, n + 1), 20))
    for tx_id in resolved:
        _resolve(client, tx_id, rng.choice(("fraud", "legitimate")))
    by_id = {a[0]: a for a in alerts}
    now = time.time()

    def expected(
        sort: str, decision: str | None, amounts: tuple[float, float], ages: tuple[float, float]
    ) -> list[int]:
        keep = [
            a
            for a in alerts
            if a[0] not in resolved
            and (decision is None or a[3] == decision)
            and amounts[0] <= a[1] <= amounts[1]
            and ages[0] <= now - raised[a[0]] <= ages[1]
        ]
        field = {"newest": 0, "oldest": 0, "amount": 1, "probability": 2}[sort.split("_")[0]]
        ordered = sorted(keep, key=lambda a: raised[a[0]] if field == 0 else a[field])
        if sort == "newest" or sort.endswith("_desc"):
            ordered.reverse()
        return [a[0] for a in ordered]

    filters: list[dict[str, Any]] = [
        {},
        {"decision": "decline"},
        {"min_amount": 200, "max_amount": 700},
        {"max_age_s": 3_000},  # raised within the last 50 minutes
        {"min_age_s": 1_800, "decision": "review", "min_amount": 100},
    ]
    for sort in SORTS:
        for params in filters:
            want = expected(
                sort,
                params.get("decision"),
                (params.get("min_amount", 0.0), params.get("max_amount", 1e9)),
                (params.get("min_age_s", 0.0), params.get("max_age_s", 1e9)),
            )
            got: list[int] = []
            for offset in range(0, len(want) + 1, 25):
                page = _queue(client, sort=sort, offset=offset, limit=25, **params)
                assert page["total"] == len(want), (sort, params)
                got += _ids(page)
            assert got == want, (sort, params)
            assert all(by_id[i][0] == i for i in got)
    page = _queue(client)
    assert (page["open"], page["resolved"]) == (n - len(resolved), len(resolved))
    oldest_open = min(raised[a[0]] for a in alerts if a[0] not in resolved)
    assert page["oldest_open_age_s"] == pytest.approx(now - oldest_open, abs=5)


def test_resolving_removes_the_alert_from_the_index_and_a_prior_verdict_keeps_it_out(
    client: Client, redis_client: redis.Redis, queue_settings: Settings
) -> None:
    operators = OperatorKeys(Shards.of(queue_settings).common_prefix)
    _raise(redis_client, queue_settings, [(1, 10.0, 0.5, "review"), (2, 20.0, 0.9, "decline")])
    assert _ids(_queue(client)) == [2, 1]
    _resolve(client, 2)
    for family in FAMILIES:
        for order in ORDERS:
            assert redis_client.zscore(operators.queue_order(order, family), "2") is None
    assert redis_client.hget(operators.queue_entries, "2") is None
    page = _queue(client)
    assert _ids(page) == [1] and (page["open"], page["resolved"]) == (1, 1)
    assert _queue(client, status="resolved")["items"][0]["transaction_id"] == 2

    # a verdict recorded before the index took the alert in (a race with the index): never open
    _raise(redis_client, queue_settings, [(3, 30.0, 0.6, "review")])
    redis_client.hset(operators.alert_verdict(3), mapping={"verdict": "fraud", "by": "a", "at": "x"})
    assert _ids(_queue(client)) == [1]
    assert _queue(client)["resolved"] == 2


def test_alerts_trimmed_from_the_stream_leave_the_index(
    client: Client, redis_client: redis.Redis, queue_settings: Settings
) -> None:
    _raise(redis_client, queue_settings, [(i, float(i), 0.5, "review") for i in range(1, 11)])
    assert _queue(client)["open"] == 10
    streams = _alert_streams(queue_settings)
    kept: list[int] = []
    for stream in streams:  # one stream: its newest 4 stay; three shards: each shard's newest 2
        redis_client.xtrim(stream, maxlen=4 if len(streams) == 1 else 2, approximate=False)
        entries: Any = redis_client.xrange(stream)
        kept += [json.loads(fields[b"d"])["TransactionID"] for _, fields in entries]
    assert len(kept) == (4 if len(streams) == 1 else 6)
    page = _queue(client)
    assert page["open"] == len(kept) and _ids(page) == sorted(kept, reverse=True)


def test_invalid_queue_parameters_are_problems(client: Client) -> None:
    response = client.get("/v1/alerts/queue?sort=sideways", headers=auth("analyst"))
    assert response.status_code == 400 or response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_ten_thousand_open_alerts_are_paged_on_the_server(
    client: Client, redis_client: redis.Redis, queue_settings: Settings
) -> None:
    # Correctness at the size the dashboard must handle; its speed is measured by
    # `python -m tests.benchmarks.dashboard --open-alerts 10000`, not asserted here.
    n = 10_000
    _raise(
        redis_client,
        queue_settings,
        [
            (i, float(i % 997), (i % 100) / 100, "decline" if i % 5 == 0 else "review")
            for i in range(1, n + 1)
        ],
    )
    for sort in ("newest", "amount_desc"):
        page = _queue(client, limit=25, sort=sort)
        assert page["open"] == n and page["total"] == n and len(page["items"]) == 25
        amounts = [item["amount"] for item in page["items"]]
        if sort == "amount_desc":
            assert amounts == sorted(amounts, reverse=True) and amounts[0] == 996.0
        else:
            assert _ids(page) == list(range(n, n - 25, -1))
    last = _queue(client, limit=25, offset=n - 5, sort="oldest")
    assert _ids(last) == list(range(n - 4, n + 1))


def test_a_verdict_label_reaches_the_shard_that_scored_the_transaction_once(
    client: Client, redis_client: redis.Redis, queue_settings: Settings
) -> None:
    """A verdict's label lands in the labels stream of the transaction's shard (whose label stage
    joins it with the score), once: also when the gateway died between the verdict's commit and
    the label's append (the next queue page delivers it), and when an append is repeated."""
    _raise(redis_client, queue_settings, [(4, 40.0, 0.9, "decline"), (5, 50.0, 0.5, "review")])
    _resolve(client, 4, "fraud")
    with mock.patch.object(LabelOutbox, "deliver", return_value=True):  # dies after the commit
        _resolve(client, 5, "legitimate")
    assert _queue(client)["open"] == 0  # the page delivers what the dead request left staged
    operators = OperatorKeys(Shards.of(queue_settings).common_prefix)
    assert redis_client.hlen(operators.label_outbox) == 0

    labels_stream = wiring(queue_settings).labels_stream
    for tx_id, fraud in ((4, 1), (5, 0)):
        for keys in Shards.of(queue_settings):
            entries: Any = redis_client.xrange(keys.stream(labels_stream))
            found = [json.loads(fields[b"d"]) for _, fields in entries]
            mine = [label for label in found if label["TransactionID"] == tx_id]
            at_home = keys == _shard(queue_settings, tx_id)
            assert mine == ([{"TransactionID": tx_id, "isFraud": fraud}] if at_home else []), (tx_id, keys)

    if Shards.of(queue_settings).tagged:  # an append repeated (died after it, before the outbox drop)
        home = _shard(queue_settings, 4)
        redis_client.hset(
            operators.label_outbox,
            "4",
            json.dumps({"shard": 4 % SHARDS, "fields": {"d": '{"TransactionID":4,"isFraud":1}'}}),
        )
        assert _queue(client)["open"] == 0
        entries = redis_client.xrange(home.stream(labels_stream))
        assert sum(json.loads(f[b"d"])["TransactionID"] == 4 for _, f in entries) == 1
        assert redis_client.hlen(operators.label_outbox) == 0

    for tx_id, fraud in ((4, 1), (5, 0)):  # each shard's label stage joins its label with the score
        keys = _shard(queue_settings, tx_id)
        shard = tx_id % Shards.of(queue_settings).count
        Worker(PIPELINE.chain(["label"]), redis_client, queue_settings, shard=shard).run(burst=True)
        stored: Any = redis_client.hgetall(LabelKeys(keys.prefix).label(tx_id))
        assert stored[b"isFraud"] == str(fraud).encode() and stored[b"probability"]
