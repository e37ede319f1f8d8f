"""The gateway warms up before it serves (issue 16, item 12): a real `sentinel gateway` process.

Before the first request it has scored a probe transaction (dry) with the champion and loaded
every script a score uses into Redis, so the first `POST /v1/score` pays no first-use cost.
What is checked is that the warm-up has happened by the time the server answers at all, not
how fast anything is (that is measured, not asserted: see the closing note of issue 16).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
import redis
from litestar.testing import TestClient

from core.settings import Settings
from functions.velocity import _SCRIPT as FEATURE_SCRIPT
from infra.gateway import gateway_app
from models.loaded import LoadedModel
from models.registry import Registry
from streams.commit import _GUARDED_SCRIPT as COMMIT_SCRIPT
from tests.integration.gateway.conftest import Trained, auth, gateway_process

pytestmark = pytest.mark.integration


def test_the_gateway_answers_only_once_warmed_up(
    redis_url: str, redis_client: redis.Redis, trained: Trained, tmp_path: Path
) -> None:
    shas = [hashlib.sha1(script.encode()).hexdigest() for script in (FEATURE_SCRIPT, COMMIT_SCRIPT)]
    redis_client.script_flush()  # as after a Redis restart: nothing cached
    assert redis_client.script_exists(*shas) == [False, False]
    with gateway_process(redis_url, trained, tmp_path) as server:
        # GatewayProcess returns at the first answer of /healthz: the warm-up is done by then.
        assert redis_client.script_exists(*shas) == [True, True]
        log = server.log_path.read_text()
        assert "scoring warmed up in" in log and f"model {trained.version} scored a probe row" in log
        checks = {c["name"]: c for c in httpx.get(f"{server.url}/readyz").json()["checks"]}
        assert checks["model"] == {"name": "model", "ok": True, "detail": "loaded and warmed up"}
        prefix = server.settings.redis.key_prefix
        assert not list(redis_client.scan_iter(match=f"{prefix}*"))  # the warm-up recorded nothing
        first = httpx.post(f"{server.url}/v1/score", content=trained.raw[0], headers=auth("scorer"))
        assert first.status_code == 200 and first.json()["model_version"] == trained.version


def test_the_first_request_loads_no_model(
    scoring_settings: Settings, trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warm-up loads the champion the requests use (the live and dry chains share it)."""
    loads: list[str] = []
    real_load = Registry.load

    def load(self: Registry, version: str) -> LoadedModel:
        loads.append(version)
        return real_load(self, version)

    monkeypatch.setattr(Registry, "load", load)
    with TestClient(app=gateway_app(scoring_settings)) as client:
        assert loads == [trained.version]  # once, by the warm-up, before anything is served
        for row in trained.raw[:3]:
            assert client.post("/v1/score", content=row, headers=auth("scorer")).status_code == 200
        assert loads == [trained.version]  # no request loaded a model
