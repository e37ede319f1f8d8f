"""Strategy API on a real Redis: live thresholds, validation, audit trail, simulation over labels."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from core.settings import Settings
from functions.keys import LabelKeys, OperatorKeys
from models.registry import Registry
from tests.integration.gateway.conftest import Client, Trained, auth

pytestmark = pytest.mark.integration


def test_defaults_come_from_settings_until_changed(client: Client, gateway_settings: Settings) -> None:
    body = client.get("/v1/strategy", headers=auth("analyst")).json()
    assert body["review_threshold"] == gateway_settings.strategy.review_threshold
    assert body["decline_threshold"] == gateway_settings.strategy.decline_threshold
    assert body.get("updated_by") is None
    assert body["source"] == "defaults"  # no champion in this registry


def test_put_changes_redis_and_is_audited(
    client: Client,
    gateway_settings: Settings,
    redis_client: redis.Redis,
) -> None:
    response = client.put(
        "/v1/strategy", json={"review_threshold": 0.25, "decline_threshold": 0.7}, headers=auth("admin")
    )
    assert response.status_code == 200
    keys = OperatorKeys(gateway_settings.redis.key_prefix)
    stored: Any = redis_client.hgetall(keys.strategy)
    assert float(stored[b"review"]) == 0.25 and float(stored[b"decline"]) == 0.7
    assert stored[b"updated_by"] == b"admin#3"

    now = client.get("/v1/strategy", headers=auth("analyst")).json()
    assert (now["review_threshold"], now["decline_threshold"], now["updated_by"]) == (0.25, 0.7, "admin#3")

    history = client.get("/v1/strategy/history", headers=auth("analyst")).json()
    assert len(history) == 1
    assert history[0]["actor"] == "admin#3" and history[0]["action"] == "strategy.update"
    assert history[0]["detail"]["decline"].endswith("-> 0.7")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"review_threshold": 0.8, "decline_threshold": 0.3}, "decline_threshold"),
        ({"review_threshold": 0.5, "decline_threshold": 0.5}, "decline_threshold"),
        ({"review_threshold": 1.5, "decline_threshold": 0.9}, "review_threshold"),
        ({"review_threshold": 0.1}, "decline_threshold"),
    ],
)
def test_invalid_thresholds_are_rejected_and_not_stored(
    client: Client,
    gateway_settings: Settings,
    redis_client: redis.Redis,
    body: dict[str, float],
    field: str,
) -> None:
    response = client.put("/v1/strategy", json=body, headers=auth("admin"))
    assert response.status_code in (400, 422)
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert not redis_client.exists(OperatorKeys(gateway_settings.redis.key_prefix).strategy)


def test_simulate_over_labelled_scores(
    client: Client,
    gateway_settings: Settings,
    redis_client: redis.Redis,
) -> None:
    keys = LabelKeys(gateway_settings.redis.key_prefix)
    labelled = [(1, 0, 0.05, 10.0), (2, 1, 0.5, 20.0), (3, 0, 0.6, 30.0), (4, 1, 0.95, 40.0)]
    for seq, (tx, label, score, amount) in enumerate(labelled):
        redis_client.zadd(keys.window, {f"{tx}:{label}:{score}": seq})
        redis_client.hset(keys.label(tx), mapping={"isFraud": label, "amount": amount})
    response = client.post(
        "/v1/strategy/simulate",
        json={"review_threshold": 0.4, "decline_threshold": 0.9},
        headers=auth("analyst"),
    )
    assert response.status_code == 200
    result = response.json()
    assert result["transactions"] == 4 and result["frauds"] == 2
    assert result["precision"] == pytest.approx(2 / 3) and result["recall"] == 1.0
    assert result["fraud_amount_caught"] == 60.0
    assert result["decline_rate"] == 0.25 and result["false_decline_cost"] == 0.0


def test_a_champion_is_served_with_its_own_thresholds_until_a_strategy_is_set(
    scoring_client: Client, scoring_settings: Settings, trained: Trained
) -> None:
    review, decline = Registry(trained.registry_dir).thresholds(trained.version) or (None, None)
    assert (review, decline) != (
        scoring_settings.strategy.review_threshold,
        scoring_settings.strategy.decline_threshold,
    )

    body = scoring_client.get("/v1/strategy", headers=auth("analyst")).json()
    assert (body["review_threshold"], body["decline_threshold"], body["source"]) == (
        review,
        decline,
        "champion",
    )
    payload = trained.raw[2_500]
    scored = scoring_client.post(
        "/v1/score", content=payload, headers={**auth("scorer"), "Content-Type": "application/json"}
    )
    assert scored.status_code == 200, scored.text
    tx_id = scored.json()["transaction_id"]
    record = scoring_client.get(f"/v1/transactions/{tx_id}", headers=auth("analyst")).json()
    assert (record["review_threshold"], record["decline_threshold"]) == (review, decline)

    changed = {"review_threshold": 0.2, "decline_threshold": 0.6}
    assert scoring_client.put("/v1/strategy", json=changed, headers=auth("admin")).status_code == 200
    body = scoring_client.get("/v1/strategy", headers=auth("analyst")).json()
    assert (body["review_threshold"], body["decline_threshold"], body["source"]) == (0.2, 0.6, "strategy")


def test_overview_quality_is_measured_at_the_review_threshold_in_force(
    client: Client,
    gateway_settings: Settings,
    redis_client: redis.Redis,
) -> None:
    keys = LabelKeys(gateway_settings.redis.key_prefix)
    for seq, (tx, label, score) in enumerate([(1, 0, 0.05), (2, 1, 0.5), (3, 0, 0.6), (4, 1, 0.95)]):
        redis_client.zadd(keys.window, {f"{tx}:{label}:{score}": seq})

    def quality() -> dict[str, float]:
        overview = client.get("/v1/metrics/overview", headers=auth("analyst"))
        assert overview.status_code == 200, overview.text
        return dict(overview.json()["quality"])

    put = {"review_threshold": 0.4, "decline_threshold": 0.9}
    assert client.put("/v1/strategy", json=put, headers=auth("admin")).status_code == 200
    at_04 = quality()  # flags 0.5, 0.6, 0.95: two of the two frauds
    assert at_04["window"] == 4 and at_04["fraud"] == 2
    assert at_04["precision"] == pytest.approx(2 / 3) and at_04["recall"] == 1.0
    assert at_04["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)  # fraud at ranks 1 and 3
    put = {"review_threshold": 0.7, "decline_threshold": 0.9}
    assert client.put("/v1/strategy", json=put, headers=auth("admin")).status_code == 200
    at_07 = quality()  # flags 0.95 only
    assert at_07["precision"] == 1.0 and at_07["recall"] == 0.5
