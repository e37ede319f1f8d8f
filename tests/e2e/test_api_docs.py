"""The API docs in a real browser on a host without internet: every asset comes from the gateway."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from core.settings import Settings
from infra.bench.gateway_process import GatewayProcess
from tests.keyspace import delete_prefix

pytestmark = pytest.mark.e2e


@pytest.fixture
def gateway(redis_url: str, tmp_path: Path) -> Iterator[str]:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    live = Settings().replace(
        redis={"url": redis_url, "key_prefix": prefix},
        local={"state_dir": tmp_path / "state"},
        models={"registry_dir": tmp_path / "models"},
    )
    try:
        with GatewayProcess(live, workers=1) as server:
            yield server.url
    finally:
        delete_prefix(redis_url, prefix)


@pytest.mark.parametrize("path", ["/schema/swagger", "/schema"])
def test_the_api_docs_load_with_no_outside_request(page: Page, gateway: str, path: str) -> None:
    outside: list[str] = []

    def offline(route: Route) -> None:  # as on a host with no internet: anything else fails
        outside.append(route.request.url)
        route.abort()

    page.route(re.compile(rf"^(?!{re.escape(gateway)}/).*"), offline)
    page.goto(f"{gateway}{path}")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Sentinel API", timeout=30_000)
    expect(page.locator(".opblock-summary-path").first).to_be_visible()  # the operations rendered
    assert outside == []
