"""Hostile request bodies on the real gateway app: a 4xx problem document each, never a 500.

The five messages of issue 11 on the JSON routes, then a property test: arbitrary bytes, JSON and
corrupted transactions POSTed to /v1/transactions with a real broker behind it; each body is
either accepted (202, and then on the topic) or refused with a 4xx problem document.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from litestar.testing import TestClient

from core.settings import Settings
from data.schema import encode_transaction, transaction_to_dict
from infra.gateway import gateway_app
from infra.services import wait_until
from tests.integration.functions.test_stages import transactions
from tests.integration.gateway.conftest import KEYS, Client, auth
from tests.poison import JSON_VALUES, POISON

pytestmark = pytest.mark.integration

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("route", ["/v1/transactions", "/v1/score"])
@pytest.mark.parametrize("case", list(POISON))
def test_a_malformed_body_is_a_400_problem_document(case: str, route: str, client: Client) -> None:
    response = client.post(route, content=POISON[case], headers={**auth("scorer"), **JSON})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 400 and problem["detail"]
    assert "Traceback" not in response.text and "internal" not in problem["detail"]


@pytest.fixture
def publishing_client(broker_settings: Settings) -> Iterator[tuple[Client, Settings]]:
    spec = ",".join(f"{role}:{key}" for role, key in KEYS.items())
    live = broker_settings.replace(gateway={"api_keys": spec, "max_batch": 5, "max_body_bytes": 200_000})
    with TestClient(app=gateway_app(live)) as test_client:
        yield test_client, live


@st.composite
def _transactions(draw: st.DrawFn) -> bytes:
    rows = [
        transaction_to_dict(tx) for tx in transactions(draw(st.integers(1, 3)), seed=draw(st.integers(0, 99)))
    ]
    for row in rows:
        if draw(st.booleans()):
            row[draw(st.sampled_from([*sorted(row), "D1", "V3", "id_01"]))] = draw(JSON_VALUES)
    return json.dumps(rows if len(rows) > 1 else rows[0]).encode()


_body = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(list(POISON.values())),
    _transactions(),
    st.just(encode_transaction(transactions(1)[0])),
)


def _on_topic(settings: Settings) -> int:
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": "watermarks"})
    try:
        topic = settings.kafka.topic_transactions
        parts: Any = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts)
    finally:
        consumer.close()


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_body)
def test_every_body_is_accepted_or_refused_with_a_problem(
    body: bytes, publishing_client: tuple[Client, Settings]
) -> None:
    client, settings = publishing_client
    before = _on_topic(settings)
    response = client.post("/v1/transactions", content=body, headers={**auth("scorer"), **JSON})
    if response.status_code == 202:
        accepted = response.json()["accepted"]
        assert accepted >= 1
        # the broker's high watermark may trail its acknowledgement briefly: poll, with a deadline
        wait_until(
            lambda: _on_topic(settings) - before == accepted, 10, "the accepted transactions on the topic"
        )
        return
    assert response.status_code in (400, 413, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] and "Traceback" not in response.text
    assert _on_topic(settings) == before
