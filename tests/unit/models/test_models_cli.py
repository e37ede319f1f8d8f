"""``sentinel models``: list, show, promote, rollback against a real registry directory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.settings import get_settings
from models.cli import models
from models.registry import Registry
from models.training import TrainingResult, register


@pytest.fixture
def registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str, key_prefix: str
) -> Iterator[Registry]:
    monkeypatch.setenv("SENTINEL_MODELS_REGISTRY_DIR", str(tmp_path))
    monkeypatch.setenv("SENTINEL_REDIS_URL", redis_url)  # pointer changes are audit-logged there
    monkeypatch.setenv("SENTINEL_REDIS_KEY_PREFIX", key_prefix)
    get_settings.cache_clear()
    yield Registry(tmp_path)
    get_settings.cache_clear()


def test_promote_show_list_rollback(registry: Registry, trained: dict[str, TrainingResult]) -> None:
    first, second = register(registry, trained["lightgbm"], []), register(registry, trained["xgboost"], [])
    runner = CliRunner()
    assert "no champion yet" in runner.invoke(models, ["show"]).output
    assert runner.invoke(models, ["promote", first]).exit_code == 0
    assert runner.invoke(models, ["promote", second]).exit_code == 0
    shown = json.loads(runner.invoke(models, ["show", "--json"]).output)
    assert shown["version"] == second and shown["manifest"]["algorithm"] == "xgboost"
    assert {"pr_auc", "ece"} <= set(shown["metrics"]["test"])
    listing = runner.invoke(models, ["list"], env={"COLUMNS": "200"}).output
    assert first in listing and second in listing and "champion" in listing
    result = runner.invoke(models, ["rollback"])
    assert result.exit_code == 0 and first in result.output
    assert registry.pointer()["champion"] == first
    missing = runner.invoke(models, ["promote", "no-such-version"])
    assert missing.exit_code != 0 and "no model version" in missing.output


def test_list_at_80_columns_shows_every_version_whole(
    registry: Registry, trained: dict[str, TrainingResult]
) -> None:
    versions = [register(registry, trained["lightgbm"], []), register(registry, trained["xgboost"], [])]
    output = CliRunner().invoke(models, ["list"], env={"COLUMNS": "80"}).output
    assert max(len(line) for line in output.splitlines()) <= 80, output
    for version in versions:
        assert version in output.splitlines()  # whole, on a line of its own
    assert "recall@1%FPR" in output and "decline" in output
