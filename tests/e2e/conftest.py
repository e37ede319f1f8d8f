"""Browser fixtures: the system Chromium (never `playwright install`), and a live local stack to test.

``dashboard`` runs `sentinel up --detach` once per test module with its own state directory
and free ports: Redis, the broker, the functions, the gateway, the simulator streaming
generated traffic, and the dashboard in production mode. It yields the URLs and API keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.stack import CHROMIUM, CHROMIUM_ARGS, api_keys, sentinel, stack_env


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def base_url() -> str | None:
    """No fixed base URL (each module's stack has its own port); replaces pytest-base-url's fixture,
    which pytest 9 deprecates."""
    return None


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}}


@dataclass(frozen=True)
class Stack:
    dashboard: str
    gateway: str
    keys: dict[str, str]

    def api(self, role: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method, f"{self.gateway}{path}", headers={"X-API-Key": self.keys[role]}, timeout=30, **kwargs
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("stack") / "state"
    env = stack_env(
        state,
        SENTINEL_LOCAL_SYNTH_ROWS="20000",
        SENTINEL_LOCAL_RATE="20",  # 10,000 streamed rows: 500 s of traffic, alerts keep arriving while the tests run
    )
    started = sentinel(["up", "--detach"], env, timeout=900)
    assert started.returncode == 0, started.stderr + (state / "stack.log").read_text()
    try:
        yield Stack(
            dashboard=f"http://127.0.0.1:{env['SENTINEL_LOCAL_DASHBOARD_PORT']}",
            gateway=f"http://127.0.0.1:{env['SENTINEL_GATEWAY_PORT']}",
            keys=api_keys(state),
        )
    finally:
        sentinel(["down"], env, timeout=120)


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    """Errors the page logs to the browser console or throws (a test asserts there are none)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def sign_in(page: Page, stack: Stack, role: str) -> None:
    page.goto(f"{stack.dashboard}/signin")
    page.locator("#api-key").fill(stack.keys[role])
    page.locator("#sign-in").click()
    expect(page.locator("#role-badge")).to_have_text(role, timeout=15_000)


def screenshot(page: Page, name: str) -> None:
    """Keep a screenshot of the page when SENTINEL_E2E_SCREENSHOTS names a folder (docs/ uses them)."""
    folder = os.environ.get("SENTINEL_E2E_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.jpg"), type="jpeg", quality=70, full_page=True)
