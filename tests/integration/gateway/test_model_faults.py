"""The model registry under faults, on the real gateway app: 503 problem documents and not-ready,
never a 500 or a "ready" that cannot score."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from core.settings import Settings
from infra.gateway import gateway_app
from tests.integration.gateway.conftest import Client, Trained, auth

pytestmark = pytest.mark.integration


@pytest.fixture
def registry_copy(trained: Trained, tmp_path: Path) -> Path:
    root = tmp_path / "models"
    shutil.copytree(trained.registry_dir, root)
    return root


@pytest.fixture
def faulty_client(gateway_settings: Settings, registry_copy: Path) -> Iterator[Client]:
    with TestClient(
        app=gateway_app(gateway_settings.replace(models={"registry_dir": registry_copy}))
    ) as client:
        yield client


def _score(client: Client, trained: Trained) -> tuple[int, dict[str, object]]:
    response = client.post(
        "/v1/score", content=trained.raw[0], headers={**auth("scorer"), "Content-Type": "application/json"}
    )
    return response.status_code, response.json()


def _model_check(client: Client) -> tuple[int, dict[str, object]]:
    response = client.get("/readyz")
    checks = {c["name"]: c for c in response.json()["checks"]}
    return response.status_code, checks["model"]


def test_an_unloadable_champion_is_503_and_not_ready(
    faulty_client: Client, trained: Trained, registry_copy: Path
) -> None:
    assert _model_check(faulty_client)[0] == 200
    for path in (registry_copy / trained.version).iterdir():
        if path.suffix in (".txt", ".ubj", ".cbm"):  # the model files: truncated
            path.write_bytes(path.read_bytes()[:100])

    status, problem = _score(faulty_client, trained)
    assert status == 503 and "cannot be loaded" in str(problem["detail"]), problem
    status, check = _model_check(faulty_client)
    assert status == 503 and check["ok"] is False and "cannot be loaded" in str(check["detail"])
    assert str(registry_copy) not in str(check["detail"])


def test_a_champion_pointer_to_a_missing_version_is_503(
    faulty_client: Client, trained: Trained, registry_copy: Path
) -> None:
    shutil.rmtree(registry_copy / trained.version)
    status, problem = _score(faulty_client, trained)
    assert status == 503, problem
    assert _model_check(faulty_client)[0] == 503


def test_an_unparsable_pointer_is_503_and_not_ready(
    faulty_client: Client, trained: Trained, registry_copy: Path
) -> None:
    (registry_copy / "champion.json").write_text('{"champion": ')
    status, problem = _score(faulty_client, trained)
    assert status == 503, problem
    response = faulty_client.get("/readyz")
    assert response.status_code == 503 and response.json()["ready"] is False
