"""Who may call what: every /v1 operation without a key (401), with each role's key (403 or allowed)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.gateway.conftest import Client, auth

pytestmark = pytest.mark.integration

TX = {"TransactionID": 7, "TransactionDT": 86_400, "TransactionAmt": 10.0, "ProductCD": "W", "card1": 5000}
THRESHOLDS = {"review_threshold": 0.2, "decline_threshold": 0.9}

# (method, path, json body, the least role that may call it)
OPERATIONS: list[tuple[str, str, Any, str]] = [
    ("POST", "/v1/score", TX, "scorer"),
    ("POST", "/v1/transactions", [TX], "scorer"),
    ("GET", "/v1/transactions", None, "analyst"),
    ("GET", "/v1/transactions/7", None, "analyst"),
    ("GET", "/v1/alerts", None, "analyst"),
    ("GET", "/v1/alerts/queue", None, "analyst"),
    ("POST", "/v1/alerts/7/resolve", {"verdict": "fraud"}, "analyst"),
    ("GET", "/v1/events?max_seconds=0.01", None, "analyst"),
    ("GET", "/v1/metrics/overview", None, "analyst"),
    ("GET", "/v1/metrics/timeseries", None, "analyst"),
    ("GET", "/v1/metrics/performance", None, "analyst"),
    ("GET", "/v1/metrics/breakdown", None, "analyst"),
    ("GET", "/v1/metrics/reliability", None, "analyst"),
    ("GET", "/v1/drift", None, "analyst"),
    ("GET", "/v1/drift/history", None, "analyst"),
    ("GET", "/v1/models", None, "analyst"),
    ("GET", "/v1/models/pointer", None, "analyst"),
    ("GET", "/v1/models/v1", None, "analyst"),
    ("GET", "/v1/models/v1/report", None, "analyst"),
    ("POST", "/v1/models/v1/promote", None, "admin"),
    ("POST", "/v1/models/rollback", None, "admin"),
    ("POST", "/v1/models/retrain", {"reason": "auth matrix"}, "admin"),
    ("GET", "/v1/strategy", None, "analyst"),
    ("PUT", "/v1/strategy", THRESHOLDS, "admin"),
    ("GET", "/v1/strategy/history", None, "analyst"),
    ("POST", "/v1/strategy/simulate", THRESHOLDS, "analyst"),
    ("GET", "/v1/audit", None, "analyst"),
    ("GET", "/v1/me", None, "any"),
]
GRANTS = {"scorer": {"scorer"}, "analyst": {"analyst"}, "admin": {"scorer", "analyst", "admin"}}
IDS = [f"{m} {p.split('?')[0]}" for m, p, _, _ in OPERATIONS]


def _call(client: Client, method: str, path: str, body: Any, headers: dict[str, str]) -> int:
    return client.request(method, path, json=body, headers=headers).status_code


def test_the_matrix_covers_every_operation(client: Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    documented = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if path.startswith("/v1/")
    }
    covered = {
        (
            m,
            p.split("?")[0]
            .replace("/7", "/{transaction_id}")
            .replace("/v1/models/v1", "/v1/models/{version}"),
        )
        for m, p, _, _ in OPERATIONS
    }
    assert documented == covered


@pytest.mark.parametrize(("method", "path", "body", "least"), OPERATIONS, ids=IDS)
def test_missing_or_unknown_key_is_401(client: Client, method: str, path: str, body: Any, least: str) -> None:
    assert _call(client, method, path, body, {}) == 401
    assert _call(client, method, path, body, {"X-API-Key": "not-a-key"}) == 401


@pytest.mark.parametrize(("method", "path", "body", "least"), OPERATIONS, ids=IDS)
@pytest.mark.parametrize("role", ["scorer", "analyst", "admin"])
def test_each_role(client: Client, method: str, path: str, body: Any, least: str, role: str) -> None:
    status = _call(client, method, path, body, auth(role))
    if least == "any" or least in GRANTS[role]:
        assert status not in (401, 403), status
    else:
        assert status == 403
