"""Failed authentications rate-limited per client address: many wrong keys -> 429 problem with
Retry-After, logged once (never the key); the limit lifts when the window ends (injected clock)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from core.settings import Settings
from infra.gateway import gateway_app
from tests.integration.gateway.conftest import KEYS, auth

pytestmark = pytest.mark.integration

WRONG = "k-wrong-guess-"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_wrong_keys_get_429_until_the_window_ends(gateway_settings: Settings) -> None:
    live = gateway_settings.replace(gateway={"auth_max_failures": 5, "auth_failure_window_s": 60})
    app = gateway_app(live)
    clock = Clock()
    app.state.auth_limiter.clock = clock
    records = Records()
    logging.getLogger("gateway.auth").addHandler(records)
    try:
        _run_window(app, clock)
    finally:
        logging.getLogger("gateway.auth").removeHandler(records)
    warnings = [m for m in records.messages if "failed authentications" in m]
    assert len(warnings) == 1 and "testclient" in warnings[0]
    assert not any(WRONG in m or KEYS["analyst"] in m for m in records.messages)


def _run_window(app: Litestar, clock: Clock) -> None:
    with TestClient(app=app) as client:
        statuses = [client.get("/v1/me", headers={"X-API-Key": f"{WRONG}{n}"}).status_code for n in range(30)]
        assert statuses == [401] * 5 + [429] * 25
        refused = client.get("/v1/me", headers={"X-API-Key": f"{WRONG}x"})
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["status"] == 429
        assert refused.headers["retry-after"] == "60"
        clock.now += 45
        # refused whatever it presents, the right key too, for the rest of the window
        again = client.get("/v1/me", headers=auth("analyst"))
        assert again.status_code == 429 and again.headers["retry-after"] == "15"
        clock.now += 15
        assert client.get("/v1/me", headers=auth("analyst")).status_code == 200
        assert client.get("/v1/me", headers={"X-API-Key": f"{WRONG}y"}).status_code == 401


def test_a_right_key_from_another_address_still_works(gateway_settings: Settings) -> None:
    live = gateway_settings.replace(gateway={"auth_max_failures": 3})
    app = gateway_app(live)
    with TestClient(app=app) as client:
        for n in range(5):
            client.get("/v1/me", headers={"X-API-Key": f"{WRONG}{n}"})
        assert client.get("/v1/me", headers=auth("analyst")).status_code == 429

        async def from_elsewhere() -> httpx.Response:
            transport = httpx.ASGITransport(
                app=app,  # type: ignore[arg-type]
                client=("192.0.2.7", 40_000),
            )
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as other:
                return await other.get("/v1/me", headers=auth("analyst"))

        # In a thread of its own: in a full run, pytest-playwright's session event loop is
        # running on this thread, and asyncio.run refuses to start inside it.
        with ThreadPoolExecutor(1) as thread:
            other = thread.submit(asyncio.run, from_elsewhere()).result()
        assert other.status_code == 200 and other.json()["role"] == "analyst"


def test_the_limit_is_shared_by_the_gateway_workers(gateway_settings: Settings) -> None:
    """Two workers (two apps on one Redis): wrong keys alternating between them are counted once
    together; per process, 2 x auth_max_failures wrong keys were answered (review finding)."""
    live = gateway_settings.replace(gateway={"auth_max_failures": 4, "auth_failure_window_s": 60})
    first, second = gateway_app(live), gateway_app(live)
    clock = Clock()
    first.state.auth_limiter.clock = second.state.auth_limiter.clock = clock
    with TestClient(app=first) as one, TestClient(app=second) as two:
        statuses = [
            (one if n % 2 else two).get("/v1/me", headers={"X-API-Key": f"{WRONG}{n}"}).status_code
            for n in range(10)
        ]
        assert statuses == [401] * 4 + [429] * 6
        clock.now += 60
        assert two.get("/v1/me", headers=auth("analyst")).status_code == 200
