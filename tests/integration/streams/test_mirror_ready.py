"""`sentinel mirror --metrics-port`: the readiness a supervisor checks, through a Redis outage.

Before, the mirror had a ``ready`` property and logs only: nothing outside the process could
tell that it was waiting for Redis. Now ``sentinel_process_ready`` on its metrics port reads 0
while Redis is down and 1 again once it is back, with the process never restarted.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from infra.services import free_port, wait_until
from tests.integration.streams.conftest import sentinel_env
from tests.integration.test_outages import RedisServer

pytestmark = pytest.mark.integration


def _ready(port: int) -> float | None:
    """The gauge as served, or None while nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
    lines = [line for line in text.splitlines() if line.startswith("sentinel_process_ready ")]
    return float(lines[0].split()[1]) if lines else None


def test_the_mirror_reports_not_ready_while_redis_is_down(
    broker_settings: Settings, tmp_path: Path, spawn: Any, topic_suffix: str
) -> None:
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        settings = broker_settings.replace(
            redis={"url": server.url}, streams={"mirror_group": f"mirror-{topic_suffix}"}
        )
        port = free_port()
        mirror = spawn(["mirror", "--metrics-port", str(port)], sentinel_env(settings))
        wait_until(lambda: _ready(port) == 1.0, 90, "the mirror to report ready")
        server.kill()
        wait_until(lambda: _ready(port) == 0.0, 30, "the mirror to report not ready")
        server.start()
        wait_until(lambda: _ready(port) == 1.0, 60, "the mirror to report ready again")
        assert mirror.poll() is None  # it rode the outage out
    finally:
        server.stop()
