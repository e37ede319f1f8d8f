"""The Ops Center's work queue and entity history: filters, sorting, paging, KPIs, 10,000 open alerts."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import redis

from core.settings import Settings
from functions.events import AlertRaised
from functions.keys import OperatorKeys
from infra.gateway import wiring
from streams.events import entry_fields
from streams.keys import Keys
from tests.integration.gateway.conftest import Client, auth

pytestmark = pytest.mark.integration


def _raise(client: redis.Redis, settings: Settings, alerts: list[tuple[int, float, float, str]]) -> None:
    """Append alerts (id, amount, probability, decision) to the alerts stream, in order."""
    key = Keys(settings.redis.key_prefix).stream(wiring(settings).alerts_stream)
    pipe = client.pipeline(transaction=False)
    for tx_id, amount, probability, decision in alerts:
        alert = AlertRaised(
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
        )
        fields: Any = entry_fields(msgspec.json.encode(alert), {})
        pipe.xadd(key, fields)
    pipe.execute()


def _resolve(client: redis.Redis, settings: Settings, tx_id: int, at: str) -> None:
    key = OperatorKeys(settings.redis.key_prefix).alert_verdict(tx_id)
    client.hset(key, mapping={"verdict": "fraud", "by": "analyst#1", "at": at, "note": ""})


def test_filters_sort_page_and_kpis(
    client: Client, redis_client: redis.Redis, gateway_settings: Settings
) -> None:
    _raise(
        redis_client,
        gateway_settings,
        [
            (1, 50.0, 0.5, "review"),
            (2, 900.0, 0.95, "decline"),
            (3, 20.0, 0.4, "review"),
            (4, 300.0, 0.85, "decline"),
        ],
    )
    _resolve(redis_client, gateway_settings, 3, "2999-01-01T00:00:00+00:00")

    def queue(**params: Any) -> dict[str, Any]:
        response = client.get("/v1/alerts/queue", params=params, headers=auth("analyst"))
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def ids(page: dict[str, Any]) -> list[int]:
        return [item["transaction_id"] for item in page["items"]]

    first = queue()
    assert ids(first) == [4, 2, 1]  # open only, newest first
    assert (first["total"], first["open"], first["resolved"]) == (3, 3, 1)
    assert first["oldest_open_age_s"] is not None and first["oldest_open_age_s"] >= 0
    assert first["median_time_to_verdict_s"] is not None
    assert ids(queue(sort="amount_desc")) == [2, 4, 1]
    assert ids(queue(sort="probability_asc")) == [1, 4, 2]
    assert ids(queue(decision="decline", sort="oldest")) == [2, 4]
    assert ids(queue(min_amount=100, max_amount=500)) == [4]
    assert ids(queue(status="resolved")) == [3]
    assert queue(status="resolved")["items"][0]["verdict"] == "fraud"
    assert ids(queue(status="all", sort="oldest", offset=1, limit=2)) == [2, 3]
    assert ids(queue(min_age_s=3600)) == []
    item = first["items"][0]
    assert (item["card1"], item["uid"], item["model_version"]) == (1004, "u1", "m1")


def test_invalid_queue_parameters_are_problems(client: Client) -> None:
    response = client.get("/v1/alerts/queue?sort=sideways", headers=auth("analyst"))
    assert response.status_code == 400 or response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_ten_thousand_open_alerts_are_paged_on_the_server(
    client: Client, redis_client: redis.Redis, gateway_settings: Settings
) -> None:
    # Correctness at the size the dashboard must handle; its speed is measured by
    # `python -m tests.benchmarks.dashboard --open-alerts 10000`, not asserted here.
    n = 10_000
    _raise(
        redis_client,
        gateway_settings,
        [
            (i, float(i % 997), (i % 100) / 100, "decline" if i % 5 == 0 else "review")
            for i in range(1, n + 1)
        ],
    )
    for sort in ("newest", "amount_desc"):
        response = client.get(f"/v1/alerts/queue?limit=25&sort={sort}", headers=auth("analyst"))
        assert response.status_code == 200
        page = response.json()
        assert page["open"] == n and page["total"] == n and len(page["items"]) == 25
        amounts = [item["amount"] for item in page["items"]]
        if sort == "amount_desc":
            assert amounts == sorted(amounts, reverse=True) and amounts[0] == 996.0
