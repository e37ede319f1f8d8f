"""POST /v1/score on a real Redis with a trained champion: same score as the stream path, idempotent,
dry run changes nothing, and what it records shows up in transactions, forensics, alerts and KPIs."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import redis

from core.settings import Settings
from data.schema import decode_transaction
from functions.features import CATEGORICAL_COLUMNS
from functions.keys import FeatureKeys, ScoreKeys
from infra.pipeline.streams import LABELS, RAW
from infra.pipeline.table import PIPELINE
from streams.events import PUBLISHED_NS, entry_fields, split_fields
from streams.keys import Keys
from streams.worker import Worker
from tests.integration.gateway.conftest import Client, Trained, auth, score_on_the_stream_path

pytestmark = pytest.mark.integration

N = 40  # transactions of a few cards, so entity state builds up between them
SPAN = 300  # the sync == stream comparison: rows of several calibration steps and decisions


def _sample(trained: Trained, n: int = N) -> list[bytes]:
    """``n`` consecutive rows from the middle of the data (cards with history)."""
    return trained.raw[2_000 : 2_000 + n]


def _stream_scores(settings: Settings, client: redis.Redis, raw: list[bytes]) -> dict[int, dict[str, Any]]:
    """The stream path's scores (``score_on_the_stream_path``) by TransactionID."""
    score_on_the_stream_path(settings, client, raw)
    keys = Keys(settings.redis.key_prefix)
    entries: Any = client.xrange(keys.stream("tx.scored"))
    scored = [json.loads(split_fields(fields)[0] or b"{}") for _, fields in entries]
    return {s["TransactionID"]: s for s in scored}


def test_sync_score_equals_the_stream_path_score(
    scoring_client: Client, scoring_settings: Settings, redis_client: redis.Redis, trained: Trained
) -> None:
    # enough rows to span several steps of the calibration and to flag some (their reasons are
    # compared too): a step calibrator maps a run of low-risk rows to one probability
    raw = _sample(trained, SPAN)
    stream_settings = scoring_settings.replace(redis={"key_prefix": f"test:{uuid.uuid4().hex[:12]}:"})
    try:
        expected = _stream_scores(stream_settings, redis_client, raw)
    finally:
        _drop(redis_client, stream_settings.redis.key_prefix)
    assert len(expected) == SPAN
    decisions = set()
    for payload in raw:
        response = scoring_client.post("/v1/score", content=payload, headers=_json(auth("scorer")))
        assert response.status_code == 200, response.text
        got = response.json()
        want = expected[got["transaction_id"]]
        assert got["probability"] == want["probability"]
        assert (got["decision"], got["risk_level"], got["model_version"]) == (
            want["decision"],
            want["risk"],
            want["model_version"],
        )
        assert [{**r, "description": ""} for r in got["reasons"]] == [  # the API adds descriptions
            {**r, "description": ""} for r in want["reasons"]
        ]
        assert got["replayed"] is False
        decisions.add(got["decision"])
    assert len({expected[t]["probability"] for t in expected}) > 1  # not a constant model
    assert len(decisions) > 1  # flagged rows too, so their reasons were compared


def _json(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Content-Type": "application/json"}


def _drop(client: redis.Redis, prefix: str) -> None:
    stale = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if stale:
        client.delete(*stale)


def _snapshot(client: redis.Redis, prefix: str) -> dict[bytes, bytes | None]:
    return {key: client.dump(key) for key in sorted(client.scan_iter(match=f"{prefix}*", count=1000))}  # type: ignore[misc]


def test_idempotent_by_transaction_id(
    scoring_client: Client, scoring_settings: Settings, redis_client: redis.Redis, trained: Trained
) -> None:
    payload = _sample(trained, 1)[0]
    first = scoring_client.post("/v1/score", content=payload, headers=_json(auth("scorer"))).json()
    again = scoring_client.post("/v1/score", content=payload, headers=_json(auth("scorer"))).json()
    assert again["replayed"] is True and first["replayed"] is False
    assert (again["probability"], again["decision"], again["reasons"]) == (
        first["probability"],
        first["decision"],
        first["reasons"],
    )
    keys = Keys(scoring_settings.redis.key_prefix)
    assert redis_client.xlen(keys.stream("tx.scored")) == 1  # recorded once
    kpis: list[Any] = [redis_client.hgetall(k) for k in redis_client.scan_iter(match=f"{keys.prefix}kpi:*")]
    assert sum(int(k[b"scored"]) for k in kpis) == 1


def _record_reads(client: redis.Redis) -> int:
    stats: Any = client.info("commandstats")
    return int(stats.get("cmdstat_hgetall", {}).get("calls", 0))


def test_a_new_transaction_is_scored_without_looking_its_record_up_first(
    scoring_client: Client, redis_client: redis.Redis, trained: Trained
) -> None:
    """Idempotency costs a new transaction no round trip of its own: the enrich stage's check of
    what was received finds a resend, and only then is its record read (test above)."""
    payload = _sample(trained, 1)[0]
    before = _record_reads(redis_client)
    response = scoring_client.post("/v1/score", content=payload, headers=_json(auth("scorer")))
    assert response.status_code == 200 and response.json()["replayed"] is False
    assert _record_reads(redis_client) == before


def test_the_body_is_kept_as_received(
    scoring_client: Client, scoring_settings: Settings, redis_client: redis.Redis, trained: Trained
) -> None:
    """As the stream path keeps the broker's message: forensics shows what the client sent."""
    sent = json.dumps(json.loads(_sample(trained, 1)[0]), indent=1).encode()  # not the canonical form
    response = scoring_client.post("/v1/score", content=sent, headers=_json(auth("scorer")))
    assert response.status_code == 200
    received = FeatureKeys(scoring_settings.redis.key_prefix).received(response.json()["transaction_id"])
    stored: Any = redis_client.hget(received, "raw")
    assert stored == sent


def test_dry_run_changes_nothing_and_matches_the_recorded_score(
    scoring_client: Client, scoring_settings: Settings, redis_client: redis.Redis, trained: Trained
) -> None:
    history, target = _sample(trained, 12)[:-1], _sample(trained, 12)[-1]
    for payload in history:
        assert (
            scoring_client.post("/v1/score", content=payload, headers=_json(auth("scorer"))).status_code
            == 200
        )
    prefix = scoring_settings.redis.key_prefix
    before = _snapshot(redis_client, prefix)
    dry = scoring_client.post("/v1/score?dry_run=true", content=target, headers=_json(auth("scorer"))).json()
    assert dry["dry_run"] is True and dry["replayed"] is False
    assert _snapshot(redis_client, prefix) == before  # no key added, removed or changed
    real = scoring_client.post("/v1/score", content=target, headers=_json(auth("scorer"))).json()
    assert (real["probability"], real["decision"], real["reasons"]) == (
        dry["probability"],
        dry["decision"],
        dry["reasons"],
    )


def test_invalid_transaction_names_the_column(scoring_client: Client, trained: Trained) -> None:
    row = json.loads(_sample(trained, 1)[0])
    row["card1"] = 5
    response = scoring_client.post("/v1/score", json=row, headers=auth("scorer"))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "card1"


def test_without_a_champion_scoring_is_unavailable(client: Client, trained: Trained) -> None:
    response = client.post("/v1/score", content=_sample(trained, 1)[0], headers=_json(auth("scorer")))
    assert response.status_code == 503
    assert "champion" in response.json()["detail"]
    ready = client.get("/readyz")
    assert ready.status_code == 503


def test_recorded_scores_feed_transactions_forensics_alerts_and_kpis(
    scoring_client: Client, scoring_settings: Settings, redis_client: redis.Redis, trained: Trained
) -> None:
    # every transaction goes to review: thresholds far apart around everything
    strategy = {"review_threshold": 0.0, "decline_threshold": 1.0}
    assert scoring_client.put("/v1/strategy", json=strategy, headers=auth("admin")).status_code == 200
    raw = _sample(trained, 5)
    ids = [decode_transaction(p).TransactionID for p in raw]
    for payload in raw:
        assert (
            scoring_client.post("/v1/score", content=payload, headers=_json(auth("scorer"))).json()[
                "decision"
            ]
            == "review"
        )

    listed = scoring_client.get("/v1/transactions?limit=3", headers=auth("analyst")).json()
    assert [t["transaction_id"] for t in listed["items"]] == ids[::-1][:3]
    rest = scoring_client.get(
        f"/v1/transactions?cursor={listed['next_cursor']}", headers=auth("analyst")
    ).json()
    assert [t["transaction_id"] for t in rest["items"]] == ids[::-1][3:]
    none = scoring_client.get("/v1/transactions?decision=decline", headers=auth("analyst")).json()
    assert none["items"] == []

    record = scoring_client.get(f"/v1/transactions/{ids[0]}", headers=auth("analyst")).json()
    assert record["decision"] == "review" and record["reasons"]
    assert record["features"]["card_cnt_24h"] >= 1
    assert record["label"] is None

    alerts = scoring_client.get("/v1/alerts", headers=auth("analyst")).json()
    assert [a["transaction_id"] for a in alerts["items"]] == ids[::-1]
    resolved = scoring_client.post(
        f"/v1/alerts/{ids[0]}/resolve",
        json={"verdict": "fraud", "note": "card reported stolen"},
        headers=auth("analyst"),
    )
    assert resolved.status_code == 200 and resolved.json()["label"] == 1
    again = scoring_client.post(
        f"/v1/alerts/{ids[0]}/resolve", json={"verdict": "legitimate"}, headers=auth("analyst")
    )
    assert again.status_code == 409
    still_open = scoring_client.get("/v1/alerts", headers=auth("analyst")).json()
    assert ids[0] not in [a["transaction_id"] for a in still_open["items"]]
    done = scoring_client.get("/v1/alerts?status=resolved", headers=auth("analyst")).json()
    assert [(a["transaction_id"], a["verdict"]) for a in done["items"]] == [(ids[0], "fraud")]

    keys = Keys(scoring_settings.redis.key_prefix)
    labels: Any = redis_client.xrange(keys.stream(LABELS))
    label_payload, meta = split_fields(labels[-1][1])
    assert json.loads(label_payload or b"{}") == {"TransactionID": ids[0], "isFraud": 1}
    assert meta["origin"] == "analyst/analyst#2"
    audit = scoring_client.get("/v1/audit?action=alert.resolve", headers=auth("analyst")).json()
    assert audit[0]["actor"] == "analyst#2" and audit[0]["detail"]["note"] == "card reported stolen"

    overview = scoring_client.get("/v1/metrics/overview?minutes=5", headers=auth("analyst")).json()
    amount = sum(decode_transaction(p).TransactionAmt for p in raw)
    assert overview["volumes"]["scored"] == 5 and overview["volumes"]["reviewed"] == 5
    assert overview["volumes"]["amount_reviewed"] == pytest.approx(amount, abs=0.01)
    series = scoring_client.get("/v1/metrics/timeseries?minutes=5", headers=auth("analyst")).json()
    assert len(series["points"]) == 5 and sum(p["scored"] for p in series["points"]) == 5
    volumes = overview["volumes"]  # publish (the request) -> scored, from the latency histogram
    assert 0 < volumes["latency_p50_ms"] <= volumes["latency_p95_ms"] <= volumes["latency_p99_ms"]
    assert all(p["latency_p99_ms"] is not None for p in series["points"] if p["scored"])
    assert ScoreKeys(keys.prefix).result(ids[0]).startswith(keys.prefix)


def test_forensics_holds_the_transaction_as_received_with_readable_reasons(
    scoring_client: Client, trained: Trained
) -> None:
    strategy = {"review_threshold": 0.0, "decline_threshold": 1.0}  # every transaction gets reasons
    assert scoring_client.put("/v1/strategy", json=strategy, headers=auth("admin")).status_code == 200
    categorical_reasons = 0
    for payload in _sample(trained):
        sent = json.loads(payload)
        scored = scoring_client.post("/v1/score", content=payload, headers=_json(auth("scorer"))).json()
        record = scoring_client.get(f"/v1/transactions/{sent['TransactionID']}", headers=auth("analyst"))
        forensics = record.json()
        assert forensics["raw"] == sent  # every column, as received
        assert "None" not in forensics["uid"]
        assert forensics["reasons"] == scored["reasons"]
        for reason in scored["reasons"]:
            assert reason["description"], reason
            if reason["feature"] in CATEGORICAL_COLUMNS:  # the original text, not its code
                assert reason["value"] == sent.get(reason["feature"]), reason
                categorical_reasons += 1
    assert categorical_reasons  # the sample does exercise categorical reasons


def test_the_model_report_is_served_and_linked(scoring_client: Client, trained: Trained) -> None:
    shown = scoring_client.get(f"/v1/models/{trained.version}", headers=auth("analyst")).json()
    assert shown["report"] == f"/v1/models/{trained.version}/report"
    page = scoring_client.get(shown["report"], headers=auth("analyst"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f"Model {trained.version}" in page.text and page.text.count("data:image/png;base64,") == 4
    assert scoring_client.get(shown["report"]).status_code == 401
    assert scoring_client.get(shown["report"], headers=auth("scorer")).status_code == 403
    assert scoring_client.get("/v1/models/nope/report", headers=auth("analyst")).status_code == 404


def test_prometheus_scrapes_the_pipeline(
    scoring_client: Client, scoring_settings: Settings, redis_client: redis.Redis, trained: Trained
) -> None:
    strategy = {"review_threshold": 0.0, "decline_threshold": 1.0}
    assert scoring_client.put("/v1/strategy", json=strategy, headers=auth("admin")).status_code == 200
    keys = Keys(scoring_settings.redis.key_prefix)
    for payload in _sample(trained, 3):  # scored here; 2 more wait in tx.raw for the enrich group
        assert (
            scoring_client.post("/v1/score", content=payload, headers=_json(auth("scorer"))).status_code
            == 200
        )
    redis_client.xgroup_create(keys.stream(RAW), "enrich", id="0", mkstream=True)
    for payload in _sample(trained, 5)[3:]:
        fields: Any = entry_fields(payload, {PUBLISHED_NS: "1"})
        redis_client.xadd(keys.stream(RAW), fields)

    scraped = scoring_client.get("/metrics").text  # one target: HTTP metrics and the pipeline's
    assert 'sentinel_decisions_5m{decision="review"} 3.0' in scraped
    assert "sentinel_scored_5m 3.0" in scraped
    assert 'sentinel_scored_latency_5m_ms{quantile="0.99"}' in scraped
    assert f'sentinel_model_info{{role="champion",version="{trained.version}"}} 1.0' in scraped
    assert 'sentinel_function_lag{function="enrich"} 2.0' in scraped
    assert 'sentinel_function_processed_total{function="score"}' in scraped
    assert "sentinel_gateway_requests_total" in scraped


def test_another_transaction_under_a_scored_id_is_409(
    scoring_client: Client, scoring_settings: Settings, redis_client: redis.Redis, trained: Trained
) -> None:
    payload = _sample(trained, 1)[0]
    first = scoring_client.post("/v1/score", content=payload, headers=_json(auth("scorer")))
    assert first.status_code == 200
    other = json.loads(payload)
    other["TransactionAmt"] = float(other["TransactionAmt"]) + 1.0
    response = scoring_client.post("/v1/score", json=other, headers=auth("scorer"))
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "TransactionAmt" in response.json()["detail"] and "probability" not in response.text
    keys = Keys(scoring_settings.redis.key_prefix)
    assert redis_client.xlen(keys.stream("tx.scored")) == 1  # the first one only
    again = scoring_client.post("/v1/score", content=payload, headers=_json(auth("scorer")))
    assert again.status_code == 200 and again.json()["replayed"] is True  # the exact resend is a replay


def test_sync_scores_look_for_waiting_labels_once_while_none_wait(
    scoring_client: Client, redis_client: redis.Redis, trained: Trained
) -> None:
    """The score stage joins labels waiting for their score before a batch; the synchronous
    endpoint's batch is one transaction, so with none waiting it looks (a ZRANGE) about once a
    second, not once per request."""

    def zrange_calls() -> int:
        stats: Any = redis_client.info("commandstats")
        return int(stats.get("cmdstat_zrange", {}).get("calls", 0))

    payloads = _sample(trained, 10)
    before = zrange_calls()
    for payload in payloads:
        answer = scoring_client.post("/v1/score", content=payload, headers=_json(auth("scorer")))
        assert answer.status_code == 200, answer.text
    looks = zrange_calls() - before
    assert 1 <= looks < len(payloads)  # this test's requests take well under the 1 s between looks


def test_an_id_received_on_the_stream_is_not_scored_again_by_score(
    scoring_client: Client, scoring_settings: Settings, redis_client: redis.Redis, trained: Trained
) -> None:
    """Issue 11, item 4: a transaction the stream path has received (enriched, not scored yet):
    the same content is a 503 (its score comes from the stream), other content a 409."""
    payload = _sample(trained, 1)[0]
    keys = Keys(scoring_settings.redis.key_prefix)
    redis_client.xadd(keys.stream("tx.raw"), {"d": payload})
    Worker(PIPELINE.chain(["enrich"]), redis_client, scoring_settings).run(burst=True)
    other = {**json.loads(payload), "TransactionAmt": float(json.loads(payload)["TransactionAmt"]) + 1.0}
    reused = scoring_client.post("/v1/score", json=other, headers=auth("scorer"))
    assert reused.status_code == 409, reused.text
    assert "TransactionID reused with different content" in reused.json()["detail"]
    same = scoring_client.post("/v1/score", content=payload, headers=_json(auth("scorer")))
    assert same.status_code == 503, same.text
    assert redis_client.xlen(keys.stream("tx.scored")) == 0  # neither scored it
