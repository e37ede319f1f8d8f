"""Outages of the real Redis and the real broker during a run: every process rides them out.

Redis runs here as a dedicated ``redis-server`` with an append-only file (``everysec``, as in
production) on a fixed port of this test, so it can be SIGKILLed and started again on the same
data; or as a three-master Redis Cluster of such servers (no replicas, ``cluster-require-full-
coverage no``), one master of which is SIGKILLed and started again. The mirror and the enrich
workers run in threads of the test the whole time: nothing is restarted by the test but the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from confluent_kafka import Producer
from litestar.testing import TestClient
from prometheus_client import CollectorRegistry, generate_latest

from core.connect import redis_client as connect
from core.settings import KafkaSettings, Settings
from data.schema import encode_transaction, transaction_to_dict
from data.simulator import simulate
from infra.gateway import gateway_app
from infra.pipeline.streams import RAW
from infra.pipeline.table import PIPELINE
from infra.services import (
    ManagedProcess,
    ServiceError,
    cluster_ok,
    ensure_topics,
    find_binary,
    free_port,
    local_broker,
    wait_until,
)
from streams.events import split_fields
from streams.groups import backlog, group_states
from streams.keys import Keys, Shards, shard_tag
from streams.metrics import StreamsCollector
from streams.mirror import Mirror
from streams.outage import REDIS_DOWN
from streams.worker import Worker
from tests.integration.functions.test_stages import transactions

pytestmark = pytest.mark.integration


class RedisServer:
    """A redis-server with an append-only file that can be killed and started again on its data."""

    def __init__(self, data_dir: Path, fsync: str = "everysec", extra: Sequence[str] = ()) -> None:
        binary = find_binary(None, ["redis-server", "valkey-server"])
        assert binary, "redis-server not found"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        argv = [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(data_dir)]
        argv += ["--save", "", "--appendonly", "yes", "--appendfsync", fsync, *extra]
        self.process = ManagedProcess("outage-redis", argv, data_dir / "redis.log")

    def start(self) -> None:
        self.process.start()
        client = redis.Redis.from_url(self.url)
        try:
            wait_until(lambda: self.process.check_alive() and _answers(client), 20, "redis")
        finally:
            client.close()

    @property
    def pid(self) -> int:
        proc = self.process.proc
        assert proc is not None
        return proc.pid

    def kill(self, sig: int = signal.SIGKILL) -> None:
        os.kill(self.pid, sig)
        assert self.process.proc is not None
        self.process.proc.wait(20)

    def stop(self) -> None:
        self.process.stop()


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError):
        return False


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    (tmp_path / "redis").mkdir()
    server.start()
    yield server
    server.stop()


@dataclass
class Target:
    """What an outage test runs on: a URL, the stream shards, and the one server it kills."""

    url: str
    shards: int
    victim: RedisServer


@pytest.fixture(params=["redis", "cluster"])
def outage_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """One Redis (one shard), or a three-master cluster (three shards) whose master of shard 1 dies."""
    if request.param == "redis":
        yield Target(request.getfixturevalue("own_redis").url, 1, request.getfixturevalue("own_redis"))
        return
    cli = find_binary(None, ["redis-cli", "valkey-cli"])
    assert cli, "redis-cli not found"
    nodes = []
    for i in range(3):
        (tmp_path / f"node-{i}").mkdir()
        cluster = ["--cluster-enabled", "yes", "--cluster-port", str(free_port())]
        cluster += ["--cluster-node-timeout", "2000", "--cluster-require-full-coverage", "no"]
        nodes.append(RedisServer(tmp_path / f"node-{i}", extra=cluster))
    try:
        for node in nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in nodes]
        create = [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"]
        assert subprocess.run(create, capture_output=True, timeout=60, check=False).returncode == 0
        url = "redis+cluster://" + ",".join(addresses)
        client: Any = connect(url)
        wait_until(lambda: _cluster_ok(nodes), 30, "cluster state ok")
        owner = client.get_node_from_key(Keys(f"x:{{{shard_tag(1, 3)}}}:").stream(RAW)).port
        client.close()
        yield Target(url, 3, next(node for node in nodes if node.port == owner))
    finally:
        for node in nodes:
            node.stop()


def _cluster_ok(nodes: Sequence[RedisServer]) -> bool:
    return all(cluster_ok(node.port) for node in nodes)


def _metrics(client: redis.Redis, keys: Keys, worker: Worker) -> str:
    """What `sentinel fn run --metrics-port` serves for ``worker``."""
    registry = CollectorRegistry()
    registry.register(StreamsCollector(client, keys, [("enrich", RAW, "enrich")], lambda: worker.ready))
    return generate_latest(registry).decode()


def _xlen(client: redis.Redis, key: str) -> int:
    return int(client.xlen(key))  # type: ignore[arg-type]


def _publish(settings: Settings, txs: list[Any], per_second: float, stop: threading.Event) -> None:
    """Publish ``txs`` to the transactions topic at about ``per_second``, every one acknowledged."""
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap, "linger.ms": 5})
    chunk = max(1, int(per_second / 20))
    for start in range(0, len(txs), chunk):
        for tx in txs[start : start + chunk]:
            producer.produce(settings.kafka.topic_transactions, encode_transaction(tx), key=str(tx.card1))
        producer.poll(0)
        if stop.wait(0.05):  # pacing, not synchronisation
            break
    assert producer.flush(30) == 0


def _entries(client: redis.Redis, key: str) -> list[tuple[bytes | None, dict[str, str]]]:
    rows: Any = client.xrange(key)
    return [split_fields(fields) for _, fields in rows]


class Running:
    """Threads running a long-lived process loop; ``stop()`` ends them and re-raises a crash."""

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.loops: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, target: Any, name: str, finite: bool = False) -> None:
        def body() -> None:
            try:
                target()
            except BaseException as exc:  # the test fails on it after stopping the others
                self.errors.append(exc)
                raise

        thread = threading.Thread(target=body, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)
        if not finite:
            self.loops.append(thread)

    def alive(self) -> bool:
        """Every long-lived loop still runs."""
        return all(t.is_alive() for t in self.loops)

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(30)
        assert not self.errors, self.errors


@dataclass
class EnrichRun:
    """The mirror and one enrich worker per stream shard, fed by a publisher, in threads."""

    observer: redis.Redis  # a client of the test's own, to look at the streams
    clients: list[redis.Redis]
    run: Running
    mirror: Mirror
    workers: list[Worker]
    shards: Shards

    def enriched(self) -> int:
        try:
            return sum(_xlen(self.observer, keys.stream("tx.enriched")) for keys in self.shards)
        except REDIS_DOWN:  # a (re)started or promoted master not serving its slots yet: look again
            return 0

    def assert_each_enriched_once(self, txs: Sequence[Any]) -> None:
        ids = [
            json.loads(p or b"")["TransactionID"]
            for keys in self.shards
            for p, _ in _entries(self.observer, keys.stream("tx.enriched"))
        ]
        assert sorted(ids) == sorted(tx.TransactionID for tx in txs)  # each exactly once
        for keys in self.shards:
            assert self.observer.xlen(keys.dead_letters) == 0
            assert backlog(self.observer, keys.stream(RAW)) == 0


def _start_enrich(url: str, settings: Settings, txs: list[Any]) -> EnrichRun:
    shards = Shards.of(settings)
    clients = [connect(url) for _ in range(2 + shards.count)]
    run = Running()
    mirror = Mirror(settings, clients[1], run.stop_event)
    workers = [
        Worker(PIPELINE.chain(["enrich"]), clients[2 + s], settings, stop=run.stop_event, shard=s)
        for s in range(shards.count)
    ]
    run.start(mirror.run, "mirror")
    for shard, each in enumerate(workers):
        run.start(each.run, f"enrich-{shard}")
    run.start(
        lambda: _publish(settings, txs, per_second=1_000, stop=run.stop_event), "publisher", finite=True
    )
    return EnrichRun(clients[0], clients, run, mirror, workers, shards)


def test_a_redis_outage_is_ridden_out_without_loss_or_duplicates(
    outage_target: Target, broker_settings: Settings, topic_suffix: str
) -> None:
    """On one Redis, and on a cluster whose master of shard 1 is killed: the other shards go on
    meanwhile; the shard's writes of its last second may be lost (everysec), the mirror's offsets
    with them, so the broker delivers those again: every transaction enriched exactly once."""
    settings = broker_settings.replace(
        redis={"url": outage_target.url},
        streams={
            "mirror_group": f"mirror-{topic_suffix}",
            "session_timeout_ms": 2000,
            "claim_idle_ms": 1000,
            "shards": outage_target.shards,
        },
    )
    shards = Shards.of(settings)
    victim = 1 if outage_target.shards > 1 else 0  # the shard whose server goes down
    down = shards.keys(victim)
    txs = transactions(3_000, seed=21)
    on = _start_enrich(outage_target.url, settings, txs)
    observer, run, mirror, workers = on.observer, on.run, on.mirror, on.workers
    worker = workers[victim]
    try:
        wait_until(
            lambda: _xlen(observer, down.stream("tx.enriched")) >= 500 // shards.count, 60, "enrich to start"
        )
        outage_target.victim.kill()  # mid-stream: the writes of the last second may be lost (everysec)
        wait_until(lambda: worker.redis.attempts >= 4 and mirror.redis.attempts >= 4, 30, "a few retries")
        assert not mirror.ready and not worker.ready and run.alive()
        assert "sentinel_process_ready 0.0" in _metrics(observer, down, worker)  # and no stale figures
        outage_target.victim.start()
        wait_until(lambda: on.enriched() >= len(txs), 90, "all enriched")
        wait_until(lambda: mirror.ready and all(w.ready for w in workers), 30, "all to report ready again")
        assert "sentinel_process_ready 1.0" in _metrics(observer, down, worker)
        assert run.alive()
    finally:
        run.stop()
    on.assert_each_enriched_once(txs)


def test_the_backlog_cannot_report_a_phantom_after_a_redis_restart(
    own_redis: RedisServer, settings: Settings
) -> None:
    """Redis 7.0 restarted from a rewritten append-only file undercounts what a group has read:
    XINFO GROUPS then reports a lag for good, with an empty stream and nothing pending."""
    live = settings.replace(redis={"url": own_redis.url}, streams={"trim_interval_ms": 1})
    keys = Keys(live.redis.key_prefix)
    stream = keys.stream("bench.in")
    client = redis.Redis.from_url(own_redis.url)

    def traffic() -> None:
        for n in range(300):
            client.xadd(stream, {"d": b"%d" % n})
        Worker(PIPELINE.chain(["noop"]), client, live).run(burst=True)  # reads, acks, trims

    traffic()
    client.bgrewriteaof()  # type: ignore[no-untyped-call]
    wait_until(lambda: not _rewriting(client), 30, "the append-only file rewrite")
    traffic()
    own_redis.kill(signal.SIGTERM)  # a clean restart: the file holds every write
    own_redis.start()

    assert backlog(client, stream) == 0
    assert group_states(client, stream)["noop"].lag == 0
    groups: Any = client.xinfo_groups(stream)
    assert groups[0]["lag"] == 0 and groups[0]["pending"] == 0  # Redis's own counter repaired too
    client.xadd(stream, {"d": b"one more"})
    assert backlog(client, stream) == 1
    client.close()


def _rewriting(client: redis.Redis) -> bool:
    info: Any = client.info("persistence")
    return bool(int(info["aof_rewrite_in_progress"]) or int(info["aof_rewrite_scheduled"]))


SCORER = {"X-API-Key": "k-outage-scorer"}


def _rows(txs: Sequence[Any]) -> list[dict[str, Any]]:
    return [transaction_to_dict(tx) for tx in txs]


class BrokerServer:
    """The local broker on a port of its own, to stop and start again (memory storage: it comes
    back empty, like a broker that lost its disk; the topics are created again as at start-up)."""

    def __init__(self, data_dir: Path) -> None:
        self.cfg = KafkaSettings(broker="tansu", port=free_port())
        self.data_dir = data_dir
        self.bootstrap = f"127.0.0.1:{self.cfg.port}"
        self._block: contextlib.ExitStack | None = None

    def start(self, topics: Sequence[str], partitions: int) -> None:
        self._block = contextlib.ExitStack()
        self._block.enter_context(local_broker(self.cfg, self.data_dir))
        ensure_topics(self.bootstrap, topics, partitions)

    def stop(self) -> None:
        if self._block is not None:
            self._block.close()
            self._block = None


def test_a_broker_outage_is_ridden_out_by_the_mirror_and_the_simulator(
    settings: Settings, redis_client: redis.Redis, tmp_path: Path, topic_suffix: str
) -> None:
    broker = BrokerServer(tmp_path / "broker")
    live = settings.replace(
        gateway={"api_keys": f"scorer:{SCORER['X-API-Key']}", "publish_timeout_s": 1.0},
        kafka={
            "bootstrap": broker.bootstrap,
            "topic_transactions": f"tx-{topic_suffix}",
            "topic_labels": f"labels-{topic_suffix}",
        },
        streams={"mirror_group": f"mirror-{topic_suffix}", "session_timeout_ms": 2000},
    )
    topics = [live.kafka.topic_transactions, live.kafka.topic_labels]
    keys = Keys(live.redis.key_prefix)
    txs = transactions(1_000, seed=5)
    broker.start(topics, live.kafka.partitions)
    run = Running()
    mirror = Mirror(live, redis.Redis.from_url(live.redis.url or ""), run.stop_event)
    run.start(mirror.run, "mirror")
    gateway = TestClient(app=gateway_app(live))
    gateway.__enter__()
    try:
        first = simulate(live, txs[:500], rate=1e9)
        assert first.sent == 500 and first.errors == 0
        wait_until(lambda: _xlen(redis_client, keys.stream(RAW)) >= 500, 60, "the first half mirrored")

        broker.stop()
        wait_until(lambda: not mirror.ready, 30, "the mirror to notice the broker outage")
        outcome: list[Any] = []
        run.start(lambda: outcome.append(simulate(live, txs[500:900], rate=1e9)), "simulator", finite=True)
        refused = gateway.post("/v1/transactions", json=_rows(txs[900:]), headers=SCORER)
        assert refused.status_code == 503, refused.text  # never 202 for what the broker does not have
        assert refused.headers["content-type"].startswith("application/problem+json")
        wait_until(lambda: mirror.broker.attempts >= 3, 30, "a few probes of the broker")
        assert run.alive()
        broker.start(topics, live.kafka.partitions)  # back, empty, topics created as at start-up

        wait_until(lambda: bool(outcome), 120, "the simulator to finish")
        assert outcome[0].sent == 400 and outcome[0].errors == 0, outcome[0]
        wait_until(lambda: _xlen(redis_client, keys.stream(RAW)) >= 900, 60, "the second half mirrored")
        wait_until(lambda: mirror.ready, 30, "the mirror to report ready again")
        # the gateway's producer lived through the restart; what it now acknowledges must arrive
        # (an idempotent producer's id was handed out again by the new broker: its messages were
        # acknowledged as duplicates of the simulator's and dropped, 100 of 100)
        accepted = gateway.post("/v1/transactions", json=_rows(txs[900:]), headers=SCORER)
        assert accepted.status_code == 202, accepted.text
        with contextlib.suppress(ServiceError):  # the assertion below says what is missing
            wait_until(
                lambda: _xlen(redis_client, keys.stream(RAW)) >= 1_000, 30, "the gateway's 100 mirrored"
            )
        assert run.alive()
    finally:
        gateway.__exit__(None, None, None)
        run.stop()
        broker.stop()
    ids = [json.loads(p or b"")["TransactionID"] for p, _ in _entries(redis_client, keys.stream(RAW))]
    assert sorted(ids) == sorted(tx.TransactionID for tx in txs)  # each exactly once


@dataclass
class Failover:
    """A three-master cluster whose master of shard 1 has a replica."""

    url: str
    master: RedisServer
    replica: RedisServer


@pytest.fixture
def failover_cluster(tmp_path: Path) -> Iterator[Failover]:
    cli = find_binary(None, ["redis-cli", "valkey-cli"])
    assert cli, "redis-cli not found"
    nodes = []
    for i in range(4):
        (tmp_path / f"node-{i}").mkdir()
        cluster = ["--cluster-enabled", "yes", "--cluster-port", str(free_port())]
        cluster += ["--cluster-node-timeout", "2000", "--cluster-require-full-coverage", "no"]
        nodes.append(RedisServer(tmp_path / f"node-{i}", extra=cluster))
    masters, spare = nodes[:3], nodes[3]
    try:
        for node in nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in masters]
        create = [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"]
        assert subprocess.run(create, capture_output=True, timeout=60, check=False).returncode == 0
        wait_until(lambda: _cluster_ok(masters), 30, "cluster state ok")
        url = "redis+cluster://" + ",".join(addresses)
        client: Any = connect(url)
        owner = client.get_node_from_key(Keys(f"x:{{{shard_tag(1, 3)}}}:").stream(RAW)).port
        client.close()
        master = next(node for node in masters if node.port == owner)
        admin: Any = redis.Redis(port=master.port)
        master_id = admin.execute_command("CLUSTER", "MYID").decode()
        admin.close()
        add = [cli, "--cluster", "add-node", f"127.0.0.1:{spare.port}", f"127.0.0.1:{master.port}"]
        add += ["--cluster-slave", "--cluster-master-id", master_id]
        done = subprocess.run(add, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        replica: Any = redis.Redis(port=spare.port)
        wait_until(lambda: replica.info("replication").get("master_link_status") == "up", 30, "replica")
        wait_until(lambda: _cluster_ok(nodes), 30, "cluster state ok with the replica")
        replica.close()
        yield Failover(url, master, spare)
    finally:
        for node in nodes:
            node.stop()


def _role(server: RedisServer) -> str:
    client: Any = redis.Redis(port=server.port)
    try:
        return str(client.execute_command("ROLE")[0].decode())
    except (redis.ConnectionError, redis.TimeoutError):
        return "down"
    finally:
        client.close()


def test_a_master_killed_mid_run_fails_over_to_its_replica_without_loss_or_duplicates(
    failover_cluster: Failover, broker_settings: Settings, topic_suffix: str
) -> None:
    """The master of shard 1 is SIGKILLed mid-stream, after writes its replica never received (its
    link cut, CLIENT KILL, while it is frozen, SIGSTOP), and never comes back; the replica is promoted (the cluster's own failover) without the master's last
    writes (asserted by the replication offsets). As each commit is one script, replicated whole, what the replica holds
    is the shard a few commits back, and those are redone (the mirror's lost copies from the broker,
    a worker's lost commits from its unacknowledged inputs; the e-mail/device/address state on the
    other masters by its per-slot vector): every transaction enriched exactly once, no dead letter."""
    settings = broker_settings.replace(
        redis={"url": failover_cluster.url},
        streams={
            "mirror_group": f"mirror-{topic_suffix}",
            "session_timeout_ms": 2000,
            "claim_idle_ms": 1000,
            "shards": 3,
        },
    )
    shards = Shards.of(settings)
    down = shards.keys(1)
    txs = transactions(3_000, seed=23)
    on = _start_enrich(failover_cluster.url, settings, txs)
    observer, run, mirror, workers = on.observer, on.run, on.mirror, on.workers
    master: Any = redis.Redis(port=failover_cluster.master.port)
    replica: Any = redis.Redis(port=failover_cluster.replica.port)
    replica_pid = failover_cluster.replica.pid

    def offset() -> int:
        return int(master.info("replication")["master_repl_offset"])

    try:
        wait_until(lambda: _xlen(observer, down.stream("tx.enriched")) >= 200, 60, "enrich to start")
        # frozen, the replica can neither read its link nor reconnect (a DEBUG SLEEP of a few
        # seconds raced the writes: once in a few runs it woke, caught up, and nothing was lost)
        os.kill(replica_pid, signal.SIGSTOP)
        try:
            master.execute_command("CLIENT", "KILL", "TYPE", "replica")  # nothing more reaches it
            cut = offset()
            wait_until(lambda: offset() > cut + 20_000, 10, "writes the replica never receives")
            killed_at = offset()
            failover_cluster.master.kill()  # mid-stream, for good: its unreplicated writes are gone
        finally:
            os.kill(replica_pid, signal.SIGCONT)
        wait_until(lambda: _role(failover_cluster.replica) == "master", 60, "the replica's promotion")
        promoted_at = int(replica.info("replication")["master_repl_offset"])
        assert promoted_at < killed_at  # the promoted replica lacks the master's last writes
        wait_until(lambda: on.enriched() >= len(txs), 120, "all enriched")
        wait_until(lambda: mirror.ready and all(w.ready for w in workers), 30, "all to report ready again")
        assert run.alive()
    finally:
        run.stop()
    on.assert_each_enriched_once(txs)
    for client in (*on.clients, master, replica):
        client.close()
