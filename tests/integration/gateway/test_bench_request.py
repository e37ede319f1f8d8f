"""`sentinel bench request`: POST /v1/score through the app in-process, its cost per request."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.settings import get_settings
from infra.cli import cli
from tests.integration.gateway.conftest import Trained

pytestmark = pytest.mark.integration


def test_request_bench_scores_new_transactions_and_reports_cpu_per_request(
    tmp_path: Path, trained: Trained
) -> None:
    out = tmp_path / "request.json"
    env = {
        "SENTINEL_MODELS_REGISTRY_DIR": str(trained.registry_dir),
        "SENTINEL_LOCAL_STATE_DIR": str(tmp_path),
    }
    args = ["bench", "request", "--warm", "3", "--requests", "5", "--json", str(out)]
    # a thread of its own: in the whole suite the browser tests' Playwright (sync API) leaves an
    # event loop running in the main thread, where the bench's asyncio.run refuses to start
    get_settings.cache_clear()  # an earlier test's cached settings would hide this environment
    try:
        with ThreadPoolExecutor(1) as pool:
            result = pool.submit(CliRunner().invoke, cli, args, env=env).result()
    finally:
        get_settings.cache_clear()  # nor leak the bench's to a later test
    assert result.exit_code == 0, result.output
    (row,) = json.loads(out.read_text())["results"]
    assert (
        row["requests"] == 5 and row["cpu_us_per_request"] > 0
    )  # every request answered 200 (else it fails)
