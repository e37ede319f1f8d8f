"""Hostile request bodies on the real gateway app: a 4xx problem document each, never a 500.

The five messages of issue 11 on the JSON routes, then a property test: arbitrary bytes, JSON and
corrupted transactions POSTed to /v1/transactions with a real broker behind it; each body is
either accepted whole (202) or refused with a 4xx problem document.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from litestar.testing import TestClient

from core.settings import Settings
from data.schema import encode_transaction, transaction_to_dict
from infra.gateway import gateway_app
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


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_body)
def test_every_body_is_accepted_or_refused_with_a_problem(
    body: bytes, publishing_client: tuple[Client, Settings]
) -> None:
    client, _ = publishing_client
    response = client.post("/v1/transactions", content=body, headers={**auth("scorer"), **JSON})
    if response.status_code == 202:  # only a valid body is accepted, all of it
        sent = json.loads(body)
        assert response.json()["accepted"] == (len(sent) if isinstance(sent, list) else 1) >= 1
        return
    assert response.status_code in (400, 413, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] and "Traceback" not in response.text


def test_an_accepted_batch_logs_no_info_line(
    publishing_client: tuple[Client, Settings], caplog: pytest.LogCaptureFixture
) -> None:
    """One INFO line per POST /v1/transactions is noise at any real rate: DEBUG (issue 16, item 13)."""
    client, _ = publishing_client
    caplog.set_level(logging.INFO)
    body = b'{"TransactionID": 3000001, "TransactionDT": 86400, "TransactionAmt": 10.5, "ProductCD": "W", "card1": 1000}'
    response = client.post("/v1/transactions", content=body, headers={**auth("scorer"), **JSON})
    assert response.status_code == 202, response.text
    assert [r.getMessage() for r in caplog.records if r.name == "gateway.services.publisher"] == []
