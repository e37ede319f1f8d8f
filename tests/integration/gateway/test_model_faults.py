"""The model registry under faults, on the real gateway app: 503 problem documents and not-ready,
never a 500 or a "ready" that cannot score."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
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


def _truncate_model_files(registry: Path, version: str) -> None:
    for path in (registry / version).iterdir():
        if path.suffix in (".txt", ".ubj", ".cbm"):  # the model files: truncated
            path.write_bytes(path.read_bytes()[:100])


FAULTS: dict[str, Callable[[Path, str], object]] = {
    "unloadable champion": _truncate_model_files,
    "pointer to a missing version": lambda registry, version: shutil.rmtree(registry / version),
    "unparsable pointer": lambda registry, _: (registry / "champion.json").write_text('{"champion": '),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_broken_registry_at_start_is_503_and_not_ready(
    gateway_settings: Settings, trained: Trained, registry_copy: Path, fault: str
) -> None:
    FAULTS[fault](registry_copy, trained.version)
    settings = gateway_settings.replace(models={"registry_dir": registry_copy})
    with TestClient(app=gateway_app(settings)) as client:  # starts; its warm-up fails and is logged
        status, problem = _score(client, trained)
        assert status == 503, problem
        status, check = _model_check(client)
        assert status == 503 and check["ok"] is False
        assert str(registry_copy) not in str(check["detail"])
        if fault == "unloadable champion":
            assert "cannot be loaded" in str(problem["detail"]) and "cannot be loaded" in str(check["detail"])


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_registry_broken_after_start_keeps_the_warm_model_scoring_and_is_not_ready(
    faulty_client: Client, trained: Trained, registry_copy: Path, fault: str
) -> None:
    """The warm model in memory still scores (a broken promotion is never swapped in); readiness
    says the registry no longer loads (a restart would not come up), so an orchestrator stops
    sending traffic here."""
    assert _model_check(faulty_client)[0] == 200
    FAULTS[fault](registry_copy, trained.version)
    status, result = _score(faulty_client, trained)
    assert status == 200 and result["model_version"] == trained.version, result
    status, check = _model_check(faulty_client)
    assert status == 503 and check["ok"] is False


@pytest.mark.parametrize("path", ["/v1/models", "/v1/models/pointer", "/v1/models/{version}"])
def test_model_routes_with_an_unparsable_pointer_are_a_503_problem(
    faulty_client: Client, trained: Trained, registry_copy: Path, path: str
) -> None:
    """Issue 11, item 5: an unparsable champion.json gave 500 on /v1/models*."""
    FAULTS["unparsable pointer"](registry_copy, trained.version)
    response = faulty_client.get(path.format(version=trained.version), headers=auth("analyst"))
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "champion.json" in response.json()["detail"] and str(registry_copy) not in response.text
