"""Models API over a real registry directory: list, show, promote, roll back (audit-logged)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import Settings
from models.registry import Registry, write_json
from tests.integration.gateway.conftest import Client, Trained, auth

pytestmark = pytest.mark.integration


def register(registry: Registry, algorithm: str, pr_auc: float) -> str:
    """A registry version with the JSON documents the API reads (no booster is loaded)."""
    with registry.new_version(algorithm) as (version, directory):
        write_json(
            directory / "manifest.json",
            {
                "version": version,
                "algorithm": algorithm,
                "members": [{"algorithm": algorithm}],
                "params": {"rounds": 10},
            },
        )
        write_json(directory / "features.json", {"input_names": ["a", "b", "c"], "kept": ["a", "b"]})
        write_json(directory / "thresholds.json", {"review": 0.3, "decline": 0.8, "expected_cost": 12.5})
        write_json(directory / "metrics.json", {"test": {"pr_auc": pr_auc, "roc_auc": 0.9}})
    return version


@pytest.fixture
def versions(gateway_settings: Settings) -> list[str]:
    registry = Registry(gateway_settings.models.registry_dir)
    return [register(registry, "lightgbm", 0.6), register(registry, "xgboost", 0.7)]


def test_list_and_show(client: Client, versions: list[str]) -> None:
    listed = client.get("/v1/models", headers=auth("analyst")).json()
    assert [m["version"] for m in listed] == versions[::-1]
    assert listed[0]["metrics"]["pr_auc"] == 0.7 and listed[0]["role"] is None
    shown = client.get(f"/v1/models/{versions[0]}", headers=auth("analyst")).json()
    assert shown["algorithm"] == "lightgbm" and shown["thresholds"]["review"] == 0.3
    assert (shown["feature_inputs"], shown["feature_kept"]) == (3, 2)


def test_a_version_that_does_not_load_is_not_promoted(client: Client, versions: list[str]) -> None:
    response = client.post(f"/v1/models/{versions[0]}/promote", headers=auth("admin"))
    assert response.status_code == 409 and "cannot be loaded" in response.json()["detail"]
    assert client.get("/v1/models/pointer", headers=auth("analyst")).json()["champion"] is None


def test_unknown_version_is_404(client: Client, versions: list[str]) -> None:
    response = client.get("/v1/models/nope", headers=auth("analyst"))
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]
    assert client.post("/v1/models/nope/promote", headers=auth("admin")).status_code == 404


@pytest.fixture
def loadable(gateway_settings: Settings, trained: Trained) -> list[str]:
    """Two versions that load and score (copies of the session's trained model): promotable."""
    registry = Registry(gateway_settings.models.registry_dir)
    out = []
    for algorithm in ("lightgbm", "lightgbm"):
        with registry.new_version(algorithm) as (version, directory):
            shutil.copytree(trained.registry_dir / trained.version, directory, dirs_exist_ok=True)
        out.append(version)
    return out


def test_promote_challenger_champion_and_roll_back(client: Client, loadable: list[str]) -> None:
    first, second = loadable
    assert client.post(f"/v1/models/{first}/promote", headers=auth("admin")).json()["champion"] == first
    challenger = client.post(
        f"/v1/models/{second}/promote", json={"role": "challenger"}, headers=auth("admin")
    )
    assert challenger.json()["challenger"] == second
    roles = {m["version"]: m["role"] for m in client.get("/v1/models", headers=auth("analyst")).json()}
    assert roles == {first: "champion", second: "challenger"}

    promoted = client.post(f"/v1/models/{second}/promote", headers=auth("admin")).json()
    assert (promoted["champion"], promoted["challenger"]) == (second, None)
    rolled = client.post("/v1/models/rollback", headers=auth("admin"))
    assert rolled.status_code == 200 and rolled.json()["champion"] == first
    pointer = client.get("/v1/models/pointer", headers=auth("analyst")).json()
    assert [h["action"] for h in pointer["history"]] == ["promote", "challenger", "promote", "rollback"]


def test_rollback_without_history_is_409(client: Client, versions: list[str]) -> None:
    response = client.post("/v1/models/rollback", headers=auth("admin"))
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")


def test_cli_model_changes_join_the_api_audit_trail(
    client: Client, gateway_settings: Settings, trained: Trained, tmp_path: Path
) -> None:
    registry_dir = tmp_path / "registry"
    shutil.copytree(trained.registry_dir, registry_dir)
    env = {
        **os.environ,
        "SENTINEL_REDIS_URL": gateway_settings.redis.url or "",
        "SENTINEL_REDIS_KEY_PREFIX": gateway_settings.redis.key_prefix,
        "SENTINEL_MODELS_REGISTRY_DIR": str(registry_dir),
    }

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "infra.cli", "models", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("promote", trained.version, "--challenger")
    assert cli("retire-challenger").strip() == (
        f"retired challenger {trained.version}; it is no longer scored in shadow"
    )
    history = Registry(registry_dir).pointer()["history"]
    assert cli("retire-challenger").strip() == "there is no challenger to retire"
    assert Registry(registry_dir).pointer()["history"] == history  # nothing written when nothing changed

    audit = client.get("/v1/audit", headers=auth("analyst")).json()
    assert [(e["actor"], e["action"], e["detail"]) for e in audit[:2]] == [
        ("cli", "model.retire-challenger", {"version": trained.version}),
        ("cli", "model.promote", {"version": trained.version, "role": "challenger"}),
    ]
