"""Overview breakdown and reliability diagram: scored through POST /v1/score (the score stage's code),
labelled through the Ops Center's verdicts and the label stage, read back per segment and per bin."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
import redis

from core.settings import Settings
from data.schema import decode_transaction
from infra.pipeline.table import PIPELINE
from streams.worker import Worker
from tests.integration.gateway.conftest import Client, Trained, auth

pytestmark = pytest.mark.integration

N = 30


def test_breakdown_and_reliability_follow_scores_and_labels(
    scoring_client: Client, scoring_settings: Settings, redis_client: redis.Redis, trained: Trained
) -> None:
    everything_alerts = {"review_threshold": 0.0, "decline_threshold": 1.0}
    assert (
        scoring_client.put("/v1/strategy", json=everything_alerts, headers=auth("admin")).status_code == 200
    )
    raw = trained.raw[3_000 : 3_000 + N]
    txs = [decode_transaction(p) for p in raw]
    probability = {}
    for payload in raw:
        response = scoring_client.post(
            "/v1/score", content=payload, headers={"Content-Type": "application/json"} | auth("scorer")
        )
        assert response.status_code == 200, response.text
        probability[response.json()["transaction_id"]] = response.json()["probability"]
    truth = {tx.TransactionID: i % 3 == 0 for i, tx in enumerate(txs)}  # every third one is fraud
    for tx_id, fraud in truth.items():
        verdict = {"verdict": "fraud" if fraud else "legitimate"}
        assert (
            scoring_client.post(
                f"/v1/alerts/{tx_id}/resolve", json=verdict, headers=auth("analyst")
            ).status_code
            == 200
        )
    Worker(PIPELINE.chain(["label"]), redis_client, scoring_settings).run(burst=True)
    review = float(np.median(list(probability.values())))
    strategy = {"review_threshold": review, "decline_threshold": 1.0}
    assert scoring_client.put("/v1/strategy", json=strategy, headers=auth("admin")).status_code == 200

    breakdown = scoring_client.get("/v1/metrics/breakdown?minutes=5", headers=auth("analyst")).json()
    assert breakdown["labels"] == N and breakdown["review_threshold"] == review
    for dimension in breakdown["dimensions"]:
        column = dimension["name"]
        want: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for tx in txs:
            value = getattr(tx, column) or ""
            w = want[value]
            w["scored"] += 1
            w["reviewed"] += 1
            w["amount_reviewed"] += tx.TransactionAmt
            w["labelled"] += 1
            if truth[tx.TransactionID]:
                w["frauds"] += 1
                w["fraud_amount"] += tx.TransactionAmt
                if probability[tx.TransactionID] >= review:
                    w["fraud_amount_caught"] += tx.TransactionAmt
        got = {row["value"]: row for row in dimension["rows"]}
        assert set(got) == set(want), column
        for value, expected in want.items():
            for name, number in expected.items():
                assert got[value][name] == pytest.approx(number, abs=0.01), (column, value, name)
            assert got[value]["approved"] == got[value]["declined"] == 0
    scored = [row["scored"] for row in breakdown["dimensions"][0]["rows"]]
    assert scored == sorted(scored, reverse=True)  # most scored first

    reliability = scoring_client.get("/v1/metrics/reliability?bins=4", headers=auth("analyst")).json()
    assert reliability["labels"] == N and len(reliability["bins"]) == 4
    for b in reliability["bins"]:
        inside = [
            t for t, p in probability.items() if b["lower"] <= p < b["upper"] or (b["upper"] == 1 and p == 1)
        ]
        assert b["count"] == len(inside) and b["frauds"] == sum(truth[t] for t in inside)
        if inside:
            assert b["mean_predicted"] == pytest.approx(np.mean([probability[t] for t in inside]))
            assert b["observed_rate"] == pytest.approx(np.mean([truth[t] for t in inside]))
        else:
            assert b["mean_predicted"] is None and b["observed_rate"] is None


@pytest.mark.parametrize("path", ["/v1/metrics/breakdown", "/v1/metrics/reliability"])
def test_the_new_metrics_need_an_analyst_and_check_their_parameters(client: Client, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers=auth("scorer")).status_code == 403
    empty = client.get(path, headers=auth("analyst"))
    assert empty.status_code == 200
    bad = client.get(path + "?labels=0", headers=auth("analyst"))
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")
