"""Drift check job on real Redis, run by real `rq worker --burst` processes, JSON-serialized.

A stationary stream after the champion's training rows raises no alarm; an injected covariate shift (amounts x1.5, half of
product W sold as C) is significant and names the shifted inputs; the estimate before labels
is re-calibrated on the arrived labels and given for exactly the unlabelled rows; the stored
job holds no pickle.
"""

from __future__ import annotations

import base64
import json
import shutil
import uuid
import zlib
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
import redis
from rq.job import Job

from core.settings import Settings
from data.shift import Shift
from functions.keys import ModelJobKeys
from models.calibration import fit_platt
from models.estimate import estimate
from models.jobs.drift import recent_reports
from models.jobs.schedule import run_now
from models.monitoring import DriftReport, Recalibration
from models.registry import Registry
from tests.integration.jobs.conftest import WINDOW, Traffic, deliver_labels, run_worker, serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _drift_report(client: redis.Redis, settings: Settings) -> tuple[Job, DriftReport]:
    job = run_now(settings, client, "drift")
    run_worker(settings)
    assert job.get_status(refresh=True) == "finished", job.exc_info
    reports = recent_reports(client, ModelJobKeys(settings.redis.key_prefix).drift_reports, 5)
    assert len(reports) == 1
    return job, reports[0]


def test_stationary_stream_raises_no_alarm(
    steady_traffic: Traffic,
    steady_champion_dir: Path,
    tmp_path: Path,
    settings: Settings,
    redis_client: redis.Redis,
) -> None:
    """A steady stream (same volume and fraud rate every day) after the champion's training rows:
    the next 10,000 transactions, none of which the champion or its reference has seen."""
    registry = Registry(Path(shutil.copytree(steady_champion_dir, tmp_path / "models")))
    job_settings = settings.replace(
        models={"registry_dir": registry.root},
        jobs={"queue": f"test-{uuid.uuid4().hex[:10]}", "drift_window": WINDOW},
    )
    champion = registry.load(registry.pointer()["champion"])
    reference_end = int(registry.read(champion.version, "fingerprint.json")["transaction_dt_max"])
    assert int(steady_traffic.window.meta.transaction_dt[0]) > reference_end
    serve(redis_client, job_settings, steady_traffic.window, champion)
    deliver_labels(redis_client, job_settings, steady_traffic.window.rows(0, WINDOW // 2))
    _, report = _drift_report(redis_client, job_settings)
    assert report.rows == WINDOW
    watched = [d for d in report.features if d.watched]
    assert len(watched) > 0.7 * len(report.features)
    moved = " ".join(f"{d.name}={d.psi:.2f}" for d in watched if d.psi >= 0.05)
    assert all(d.psi < 0.1 for d in watched), moved
    assert report.score is not None and report.score.psi < 0.1, report.score
    assert report.status == "stable" and report.top == []
    # 5,000 arrived labels, enough to re-fit; a stable window keeps the champion's calibration
    assert report.calibration is not None and report.calibration.method == "champion", report.calibration
    assert "stable" in report.calibration.reason


def test_covariate_shift_is_significant_and_named(
    traffic: Traffic, registry: Registry, job_settings: Settings, redis_client: redis.Redis
) -> None:
    shift = Shift(traffic.window_start_dt, amount_factor=1.5, product_mix=("W", "C", 0.5))
    shifted = traffic.shifted(job_settings.redis.url or "", shift)
    champion = registry.load(registry.pointer()["champion"])
    serve(redis_client, job_settings, shifted.latest(WINDOW), champion)
    _, report = _drift_report(redis_client, job_settings)
    assert report.status == "significant"
    named = {d.name: d for d in report.features}
    # x1.5 on log-normal amounts moves each decile about one bin: PSI ~0.16 (moderate); the
    # amount aggregates (a card's, an address's mean) and the product mix move more (significant).
    assert named["TransactionAmt"].status != "stable", named["TransactionAmt"]
    assert named["ProductCD"].status == "significant", named["ProductCD"]
    assert "ProductCD" in report.top, report.top
    assert {"card_mean_7d", "addr_mean_7d"} <= set(report.top), report.top


def test_estimate_before_labels_is_recalibrated_on_the_arrived_labels_for_the_unlabelled_rows(
    traffic: Traffic,
    early_champion_dir: Path,
    tmp_path: Path,
    job_settings: Settings,
    redis_client: redis.Redis,
) -> None:
    """The champion knows only the rows before the window; the labels of the window's older half
    have arrived. The job re-fits the scores' calibration on exactly those labels and reports its
    estimate for exactly the newer, unlabelled half: the transactions the later labels will judge."""
    registry = Registry(Path(shutil.copytree(early_champion_dir, tmp_path / "early")))
    settings = job_settings.replace(models={"registry_dir": registry.root})
    champion = registry.load(registry.pointer()["champion"])
    window, arrived = traffic.window, WINDOW // 2
    probs = serve(redis_client, settings, window, champion)
    deliver_labels(redis_client, settings, window.rows(0, arrived))
    _, report = _drift_report(redis_client, settings)
    labels = window.meta.is_fraud.astype(np.int_)
    assert report.status != "stable"  # the growing world moves: the policy re-fits
    assert report.calibration == Recalibration(
        method="platt",
        labels=arrived,
        fraud=int(labels[:arrived].sum()),
        reason=f"the drift check says {report.status}: re-fitted on the arrived labels",
    ), report.calibration
    assert report.pending is not None and report.pending.rows == WINDOW - arrived
    review, decline = report.review_threshold, report.decline_threshold
    chances = fit_platt(probs[:arrived], labels[:arrived]).apply(probs[arrived:])
    expected = estimate(probs[arrived:], window.meta.amount[arrived:], review, decline, chances)
    as_trained = estimate(probs[arrived:], window.meta.amount[arrived:], review, decline)
    for name in (
        "fraud",
        "precision_at_review",
        "recall_at_review",
        "precision_at_decline",
        "recall_at_decline",
    ):
        assert getattr(report.pending, name) == pytest.approx(getattr(expected, name), rel=1e-6), name
    assert report.pending.fraud != pytest.approx(as_trained.fraud, rel=0.01)  # not the champion's own
    assert report.estimated.rows == WINDOW and report.realised is not None
    assert report.realised.rows == arrived  # counted from the arrived labels only


def test_stored_jobs_hold_no_pickle(
    traffic: Traffic, registry: Registry, job_settings: Settings, redis_client: redis.Redis
) -> None:
    champion = registry.load(registry.pointer()["champion"])
    serve(redis_client, job_settings, traffic.window.rows(0, 1_000), champion)
    job, _ = _drift_report(redis_client, job_settings)
    stored: Any = redis_client.hgetall(f"rq:job:{job.id}")
    data = zlib.decompress(stored[b"data"])
    assert not data.startswith(b"\x80"), "job data is a pickle"
    assert json.loads(data)[0] == "models.jobs.drift.drift_check"
    assert json.loads(stored[b"meta"])["progress"]["step"]
    results: Any = redis_client.xrange(f"rq:results:{job.id}")
    assert len(results) == 1, "no stored result"
    raw = base64.b64decode(results[0][1][b"return_value"])  # RQ stores the serialized value in base64
    assert not raw.startswith(b"\x80"), "job result is a pickle"
    assert json.loads(raw)["status"] in ("stable", "moderate", "significant")
    reports: Any = redis_client.xrevrange(ModelJobKeys(job_settings.redis.key_prefix).drift_reports)
    assert msgspec.json.decode(reports[0][1][b"d"])["rows"] == 1_000  # the report itself: JSON


def test_gateway_serves_drift_reports_and_performance(
    traffic: Traffic, registry: Registry, job_settings: Settings, redis_client: redis.Redis
) -> None:
    from litestar.testing import TestClient

    from infra.gateway import gateway_app

    keys = {"analyst": "k-analyst", "admin": "k-admin"}
    live = job_settings.replace(gateway={"api_keys": ",".join(f"{r}:{k}" for r, k in keys.items())})
    champion = registry.load(registry.pointer()["champion"])
    with TestClient(app=gateway_app(live)) as http:
        analyst, admin = {"X-API-Key": keys["analyst"]}, {"X-API-Key": keys["admin"]}
        missing = http.get("/v1/drift", headers=analyst)
        assert missing.status_code == 404 and missing.headers["content-type"].startswith(
            "application/problem"
        )
        serve(redis_client, live, traffic.window.rows(0, 2_000), champion)
        deliver_labels(redis_client, live, traffic.window.rows(0, 1_000))
        _drift_report(redis_client, live)
        latest = http.get("/v1/drift", headers=analyst).json()
        assert latest["rows"] == 2_000 and latest["model_version"] == champion.version
        assert len(latest["features"]) == len(registry.read(champion.version, "features.json")["kept"])
        history = http.get("/v1/drift/history", params={"count": 10}, headers=analyst).json()
        assert [h["at"] for h in history] == [latest["at"]]
        assert http.get("/v1/drift/history", params={"count": 10_000}, headers=analyst).status_code == 400
        performance = http.get("/v1/metrics/performance", headers=analyst).json()
        real, estimated = performance["realised"], performance["estimated"]
        assert estimated["rows"] == 2_000 and real["rows"] == 1_000  # from the arrived labels only
        assert sum(b["estimated"]["rows"] for b in performance["buckets"]) == 2_000
        # each realised share with the 95 % interval of the few rows it is counted on; none on an estimate
        assert 0 < real["at_review"] < estimated["at_review"] and estimated["intervals"] is None
        low, high = real["intervals"]["precision_at_review"]
        assert low < real["precision_at_review"] < high, real
        low, high = real["intervals"]["recall_at_review"]
        assert low <= real["recall_at_review"] <= high, real
        assert http.post("/v1/models/retrain", headers=analyst).status_code == 403
        queued = http.post("/v1/models/retrain", json={"reason": "test"}, headers=admin)
        assert queued.status_code == 202, queued.text
        job_id = queued.json()["job_id"]
        stored: Any = redis_client.hgetall(f"rq:job:{job_id}")
        assert json.loads(zlib.decompress(stored[b"data"]))[0] == "models.jobs.retrain.retrain"
        audit = http.get("/v1/audit", headers=admin).json()
        assert any(entry["action"] == "model.retrain" for entry in audit)
