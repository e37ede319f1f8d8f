"""Benchmark fixture: a `sentinel gateway` process on a free port, ready when /v1/score answers."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

from core.settings import Settings
from infra.bench.cost import descendants


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(settings: Settings, port: int, workers: int) -> dict[str, str]:
    """The environment of a gateway process serving ``settings`` (SENTINEL_* variables only for it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    env.update(
        SENTINEL_REDIS_URL=settings.redis.url or "",
        SENTINEL_REDIS_KEY_PREFIX=settings.redis.key_prefix,
        SENTINEL_GATEWAY_API_KEYS=settings.gateway.api_keys.get_secret_value(),
        SENTINEL_GATEWAY_HOST="127.0.0.1",
        SENTINEL_GATEWAY_PORT=str(port),
        SENTINEL_GATEWAY_WORKERS=str(workers),
        SENTINEL_MODELS_REGISTRY_DIR=str(settings.models.registry_dir.resolve()),
        SENTINEL_LOCAL_STATE_DIR=str(settings.local.state_dir.resolve()),
        SENTINEL_STREAMS_PIPELINE=settings.streams.pipeline,
        SENTINEL_STREAMS_SHARDS=str(settings.streams.shards),
    )
    if settings.kafka.bootstrap:
        env.update(
            SENTINEL_KAFKA_BOOTSTRAP=settings.kafka.bootstrap,
            SENTINEL_KAFKA_TOPIC_TRANSACTIONS=settings.kafka.topic_transactions,
            SENTINEL_KAFKA_TOPIC_LABELS=settings.kafka.topic_labels,
        )
    return env


class GatewayProcess:
    """``with GatewayProcess(settings, workers) as server:`` -> ``server.url``; stopped (whole group) on exit."""

    def __init__(self, settings: Settings, workers: int = 1, ready_timeout_s: float = 120.0) -> None:
        self.settings = settings
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = server_env(settings, self.port, workers)
        self._timeout = ready_timeout_s
        self._log_dir = Path(tempfile.mkdtemp(prefix="sentinel-gateway-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pids(self) -> list[int]:
        """The server process and its workers (for the cost table's CPU times)."""
        if self._proc is None:
            return []
        return [self._proc.pid, *descendants(self._proc.pid)]

    @property
    def log_path(self) -> Path:
        return self._log_dir / "gateway.log"

    def __enter__(self) -> GatewayProcess:
        sentinel = Path(sys.executable).parent / "sentinel"
        with self.log_path.open("wb") as out:
            self._proc = subprocess.Popen(
                [str(sentinel), "gateway"],
                env=self._env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"gateway exited during start-up:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"gateway not answering after {self._timeout:.0f}s; log {self.log_path}")

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        os.killpg(self._proc.pid, signal.SIGTERM)
        try:
            self._proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        if kind is None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
