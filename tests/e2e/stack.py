"""Run `sentinel` commands against a local stack of a test's own (state dir, free ports)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from infra.services import free_port

ROOT = Path(__file__).resolve().parents[2]
# The system Chromium (never `playwright install`) and the flags it needs here.
CHROMIUM = os.environ.get("SENTINEL_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def sentinel(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def stack_env(state: Path, **settings: str) -> dict[str, str]:
    """The environment of a stack in ``state`` on free ports; ``settings`` are more SENTINEL_* values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    env.update(
        {
            "SENTINEL_LOCAL_STATE_DIR": str(state),
            "SENTINEL_MODELS_REGISTRY_DIR": str(state / "models"),
            "SENTINEL_GATEWAY_PORT": str(free_port()),
            "SENTINEL_LOCAL_RQ_DASHBOARD_PORT": str(free_port()),
            "SENTINEL_LOCAL_DASHBOARD_PORT": str(free_port()),
            **settings,
        }
    )
    return env


def api_keys(state: Path) -> dict[str, str]:
    return dict(pair.split(":", 1) for pair in (state / "api-keys").read_text().split(","))
