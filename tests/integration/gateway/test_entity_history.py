"""A card's and a client's history (`GET /v1/transactions?card1=` / `?uid=`) on a real Redis, through the
real enrich and score workers: read from the score stage's per-entity index, so it is found however
much else was scored since (the stream scan it replaced gave up after the newest 50,000 entries)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import msgspec
import pytest
import redis
from litestar.testing import TestClient

from core.settings import Settings
from data.schema import decode_transaction
from functions.events import TxScored, encode_event
from infra.gateway import gateway_app
from infra.pipeline.streams import RAW, SCORED
from infra.pipeline.table import PIPELINE
from streams.events import PUBLISHED_NS, entry_fields
from streams.keys import Keys, Shards
from streams.worker import Worker
from tests.integration.gateway.conftest import Client, Trained, auth, score_on_the_stream_path
from tests.integration.gateway.test_cluster_reads import SHARDS, cluster, on_cluster

__all__ = ["cluster", "on_cluster"]  # the cluster fixtures, used below

pytestmark = pytest.mark.integration

OTHERS = 60_000  # scored transactions of another card after the ones looked for


def _bury(settings: Settings, client: redis.Redis) -> None:
    """OTHERS scored transactions of a card of no one's, appended after everything scored so far."""
    other = TxScored(
        TransactionID=10**12, TransactionDT=86_400, TransactionAmt=1.0, card1=999_999, uid="other",
        probability=0.01, risk="low", decision="approve", reasons=[], model_version="m",
        review_threshold=0.5, decline_threshold=0.9,
    )  # fmt: skip
    fields: Any = entry_fields(encode_event(other), {})
    pipe = client.pipeline(transaction=False)
    for _ in range(OTHERS):
        pipe.xadd(Keys(settings.redis.key_prefix).stream(SCORED), fields)
    pipe.execute()


def _pages(client: Client, query: str, limit: int) -> list[list[int]]:
    pages, cursor = [], ""
    while True:
        page = client.get(f"/v1/transactions?{query}&limit={limit}{cursor}", headers=auth("analyst")).json()
        pages.append([t["transaction_id"] for t in page["items"]])
        if page["next_cursor"] is None:
            return pages
        cursor = f"&cursor={page['next_cursor']}"


def test_a_card_and_a_client_history_are_found_behind_any_number_of_other_transactions(
    scoring_client: Client, scoring_settings: Settings, redis_client: redis.Redis, trained: Trained
) -> None:
    raw = trained.raw[2_000:2_300]
    score_on_the_stream_path(scoring_settings, redis_client, raw)
    rows = [decode_transaction(p) for p in raw]
    card = Counter(tx.card1 for tx in rows).most_common(1)[0][0]
    mine = [tx.TransactionID for tx in rows if tx.card1 == card]
    assert len(mine) >= 3
    _bury(scoring_settings, redis_client)

    # newest first (scored in TransactionDT order here), in pages that neither skip nor repeat
    pages = _pages(scoring_client, f"card1={card}", limit=2)
    assert pages[0] == mine[::-1][:2]  # the first page is the newest, whatever was scored since
    assert [tx for page in pages for tx in page] == mine[::-1]
    assert all(len(page) == 2 for page in pages[:-1])

    # the client of the card's newest transaction: its own index, the same records
    newest = scoring_client.get(f"/v1/transactions/{mine[-1]}", headers=auth("analyst")).json()
    uid = newest["uid"]
    client_page = scoring_client.get("/v1/transactions", params={"uid": uid}, headers=auth("analyst")).json()
    ids = [t["transaction_id"] for t in client_page["items"]]
    assert ids[0] == mine[-1] and all(t["uid"] == uid for t in client_page["items"])
    assert set(ids) <= set(mine)  # a client is one card's (card1 is part of the uid)
    assert client_page["items"][0]["decision"] == newest["decision"]

    # filters still apply to an entity's history
    by_decision: dict[str, list[int]] = {}
    for tx_id in mine[::-1]:
        decision = json.loads(scoring_client.get(f"/v1/transactions/{tx_id}", headers=auth("analyst")).text)[
            "decision"
        ]
        by_decision.setdefault(decision, []).append(tx_id)
    for decision, expected in by_decision.items():
        page = scoring_client.get(
            f"/v1/transactions?card1={card}&decision={decision}&limit=100", headers=auth("analyst")
        ).json()
        assert [t["transaction_id"] for t in page["items"]] == expected

    # the newest 50,000 scored entries are all another card's: the history did not come from them
    latest: Any = redis_client.xrevrange(Keys(scoring_settings.redis.key_prefix).stream(SCORED), count=1)
    assert msgspec.json.decode(latest[0][1][b"d"])["card1"] == 999_999


def test_an_entity_history_keeps_only_its_newest_transactions(
    scoring_client: Client, scoring_settings: Settings, redis_client: redis.Redis, trained: Trained
) -> None:
    bounded = scoring_settings.replace(features={"history_per_entity": 2})
    raw = trained.raw[2_000:2_300]
    score_on_the_stream_path(bounded, redis_client, raw)
    rows = [decode_transaction(p) for p in raw]
    card = Counter(tx.card1 for tx in rows).most_common(1)[0][0]
    mine = [tx.TransactionID for tx in rows if tx.card1 == card]
    page = scoring_client.get(f"/v1/transactions?card1={card}&limit=100", headers=auth("analyst")).json()
    assert [t["transaction_id"] for t in page["items"]] == mine[::-1][:2]
    assert page["next_cursor"] is None


def test_a_card_history_spread_over_the_shards_of_a_cluster_is_read_from_every_shard(
    on_cluster: Settings, cluster: redis.Redis, trained: Trained
) -> None:
    raw = trained.raw[2_000:2_300]
    rows = [decode_transaction(p) for p in raw]
    card = Counter(tx.card1 for tx in rows).most_common(1)[0][0]
    shards = Shards.of(on_cluster)
    placed: dict[int, int] = {}
    for n, (payload, tx) in enumerate(zip(raw, rows, strict=True)):
        placed[tx.TransactionID] = n % SHARDS  # the card's rows land on every shard
        fields: Any = entry_fields(payload, {PUBLISHED_NS: "1"})
        cluster.xadd(shards.keys(placed[tx.TransactionID]).stream(RAW), fields)
    for shard in range(SHARDS):  # one shard after the other: the newest are the last shard's
        Worker(PIPELINE.chain(["enrich", "score"]), cluster, on_cluster, shard=shard).run(burst=True)
    mine = [tx.TransactionID for tx in rows if tx.card1 == card]
    assert {placed[tx_id] for tx_id in mine} == set(range(SHARDS))
    scored_order = sorted(mine, key=lambda tx_id: (placed[tx_id], mine.index(tx_id)), reverse=True)
    with TestClient(app=gateway_app(on_cluster)) as client:
        pages = _pages(client, f"card1={card}", limit=3)
    assert [tx for page in pages for tx in page] == scored_order
