"""Runtime benchmark: events/s and per-hop latency through the mirror and a no-op function.

``sentinel bench streams --json bench-results/streams.json`` measures, on a scratch key
prefix and scratch topics (removed afterwards):

- throughput at batch sizes 1, 100, 500: N messages pre-published, then copied by the mirror
  (burst, timed by its first and last entry); N entries pre-filled, then drained by a no-op
  function (burst; N capped at 5,000 for batch 1);
- latency per hop at a paced rate, with the hop running in its own process: mirror hop =
  ``published_ns`` header (set at produce) -> entry visible in the Redis stream; function hop
  = input XADD (its ``published_ns``) -> output entry visible. The metadata carried through the
  hop is what makes this measurable (it checks the carry-over too). A function is paced at
  most at a quarter of its measured throughput, so the figure is latency, not queueing.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import redis
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from rich.progress import Progress

from core.connect import redis_client
from core.settings import Settings, get_settings
from infra.bench import report
from infra.bench.children import children, mirror_child, worker_child
from infra.pipeline.streams import BENCH_IN, BENCH_OUT
from streams.events import PAYLOAD, PUBLISHED_NS
from streams.function import FunctionSpec, identity, load_pipeline
from streams.keys import Shards
from streams.metrics import percentile
from streams.mirror import Mirror
from streams.worker import Worker

BATCH_SIZES = (1, 100, 500)


def _noop(batch_size: int) -> FunctionSpec:
    return FunctionSpec(
        name=f"noop{batch_size}", input=BENCH_IN, group="noop", outputs=(BENCH_OUT,),
        build=identity(BENCH_OUT), batch_size=batch_size,
    )  # fmt: skip


def _noop_chain(batch_size: int) -> list[FunctionSpec]:
    return [_noop(batch_size)]


def _payload(size: int, i: int) -> bytes:
    head = b'{"TransactionID":%d,"pad":"' % i
    return head + b"x" * max(0, size - len(head) - 2) + b'"}'


def _warm_up(client: redis.Redis, stream: str, send: Callable[[int], Any], deadline_s: float = 60) -> str:
    """Send one event and wait until it reaches ``stream`` (the hop is live); returns its entry id."""
    send(-1)
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        last: Any = client.xrevrange(stream, count=1)
        if last:
            return str(last[0][0].decode())
        time.sleep(0.01)
    raise click.ClickException(f"nothing reached {stream} within {deadline_s:.0f}s")


def _paced_latencies(
    client: redis.Redis, stream: str, send: Callable[[int], Any], rate: int, seconds: float
) -> tuple[int, list[float]]:
    """Send ``rate * seconds`` events at ``rate``; latency (ms) of each: seen on ``stream`` - published_ns."""
    after = _warm_up(client, stream, send)
    total = int(rate * seconds)
    latencies: list[float] = []

    def read() -> None:
        last = after
        deadline = time.monotonic() + seconds + 30
        while len(latencies) < total and time.monotonic() < deadline:
            reply: Any = client.xread({stream: last}, count=1000, block=100)
            now = time.time_ns()
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    last = entry_id
                    latencies.append((now - int(fields[PUBLISHED_NS.encode()])) / 1e6)

    reader = threading.Thread(target=read)
    reader.start()
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        while time.perf_counter() < due:
            time.sleep(max(0.0, min(0.001, due - time.perf_counter())))
        send(i)
    reader.join()
    return total, latencies


def _row(
    hop: str, batch: int | str, events: int, seconds: float | None, lat: list[float], rate: int | None = None
) -> dict[str, Any]:
    return {
        "hop": hop,
        "batch": batch,
        "events": events,
        "paced_rate": rate,
        "received": len(lat) if seconds is None else events,
        "events_per_s": round(events / seconds) if seconds else None,
        "p50_ms": None if not lat else round(percentile(lat, 50) or 0, 3),
        "p99_ms": None if not lat else round(percentile(lat, 99) or 0, 3),
    }


class _Bench:
    """One benchmark run on a scratch prefix and scratch topics."""

    def __init__(self, settings: Settings, payload_bytes: int) -> None:
        self.settings = settings
        self.client = redis_client(settings.redis.url or "")
        self.topic = settings.kafka.topic_transactions
        self.producer = Producer({"bootstrap.servers": settings.kafka.bootstrap or "", "linger.ms": 2})
        self.keys = Shards.of(settings).home  # one shard: the plain names on one Redis, {s0} on a cluster
        self.payload_bytes = payload_bytes
        routes = load_pipeline(settings.streams.pipeline).mirror_routes(settings.kafka)
        self.mirrored = self.keys.stream(routes[self.topic])  # where the mirror copies the topic

    def publish(self, i: int) -> None:
        headers: dict[str, str | bytes | None] = {PUBLISHED_NS: str(time.time_ns())}
        self.producer.produce(self.topic, _payload(self.payload_bytes, i), key=str(i % 97), headers=headers)
        self.producer.poll(0)
        if i < 0:
            self.producer.flush(10)

    def append(self, i: int) -> None:
        fields: Any = {PAYLOAD: _payload(self.payload_bytes, i), PUBLISHED_NS: str(time.time_ns())}
        self.client.xadd(self.keys.stream(BENCH_IN), fields)

    def prepublish(self, events: int) -> None:
        for i in range(events):
            self.publish(i)
        self.producer.flush(30)

    def mirror_throughput(self, batch_size: int, events: int) -> dict[str, Any]:
        """The pre-published topic copied from its start in burst; timed by the first and last entry ids
        (the group join is excluded)."""
        raw = self.mirrored
        self.client.delete(raw, self.keys.mirror_offsets(self.topic))
        Mirror(self.settings.replace(streams={"mirror_batch": batch_size}), self.client).run(burst=True)
        first: Any = self.client.xrange(raw, count=1)
        last: Any = self.client.xrevrange(raw, count=1)
        span_ms = max(1, int(last[0][0].split(b"-")[0]) - int(first[0][0].split(b"-")[0]))
        self.client.delete(raw)
        return _row("mirror", batch_size, events, span_ms / 1000, [])

    def mirror_latency(self, rate: int, seconds: float) -> dict[str, Any]:
        with children((mirror_child, (self.settings,))):
            sent, lat = _paced_latencies(self.client, self.mirrored, self.publish, rate, seconds)
        return _row("mirror (paced)", self.settings.streams.mirror_batch, sent, None, lat, rate)

    def function_throughput(self, batch_size: int, events: int) -> dict[str, Any]:
        source, sink = self.keys.stream(BENCH_IN), self.keys.stream(BENCH_OUT)
        self.client.delete(source, sink)
        pipe = self.client.pipeline(transaction=False)
        for i in range(events):
            pipe.xadd(source, {PAYLOAD: _payload(self.payload_bytes, i), PUBLISHED_NS: str(time.time_ns())})
        pipe.execute()
        started = time.perf_counter()
        Worker([_noop(batch_size)], self.client, self.settings).run(burst=True)
        elapsed = time.perf_counter() - started
        self.client.delete(source, sink)
        return _row("function noop", batch_size, events, elapsed, [])

    def function_latency(self, batch_size: int, rate: int, seconds: float) -> dict[str, Any]:
        with children((worker_child, (self.settings, _noop_chain, (batch_size,), 0))):
            sink = self.keys.stream(BENCH_OUT)
            sent, lat = _paced_latencies(self.client, sink, self.append, rate, seconds)
        self.client.delete(self.keys.stream(BENCH_IN), self.keys.stream(BENCH_OUT))
        return _row("function noop (paced)", batch_size, sent, None, lat, rate)

    def cleanup(self) -> None:
        self.producer.flush(10)
        keys: Any = list(self.client.scan_iter(match=f"{self.settings.redis.key_prefix}*", count=1000))
        if keys:
            self.client.delete(*keys)


@click.command()
@click.option(
    "--json", "json_path", type=click.Path(path_type=Path), default=None, help="Write results here."
)
@click.option("--events", default=20_000, show_default=True, help="Events per throughput run.")
@click.option("--rate", default=1_000, show_default=True, help="Events/s of the paced latency runs.")
@click.option("--seconds", default=3.0, show_default=True, help="Length of each latency run.")
@click.option("--payload-bytes", default=1_000, show_default=True, help="Size of each event.")
@click.pass_context
def streams(
    ctx: click.Context, json_path: Path | None, events: int, rate: int, seconds: float, payload_bytes: int
) -> None:
    """Events/s and p50/p99 per-hop latency of the mirror and a no-op function (batch 1, 100, 500)."""
    base = ctx.obj() if callable(ctx.obj) else get_settings()
    run_id = uuid.uuid4().hex[:8]
    settings = base.replace(
        redis={"key_prefix": f"bench:{run_id}:"},
        kafka={"topic_transactions": f"bench-tx-{run_id}", "topic_labels": f"bench-labels-{run_id}"},
        streams={"session_timeout_ms": 2000, "trim_interval_ms": 0, "backlog_limit": 10_000_000},
    )
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap or ""})
    topics = [settings.kafka.topic_transactions, settings.kafka.topic_labels]
    new_topics = [NewTopic(t, num_partitions=settings.kafka.partitions) for t in topics]
    for future in admin.create_topics(new_topics).values():
        future.result(15)
    bench = _Bench(settings, payload_bytes)
    results: list[dict[str, Any]] = []
    try:
        with Progress(transient=True) as progress:
            task = progress.add_task("benchmarking", total=1 + 3 * len(BATCH_SIZES))
            bench.prepublish(events)
            for batch_size in BATCH_SIZES:
                results.append(bench.mirror_throughput(batch_size, events))
                progress.advance(task)
            results.append(bench.mirror_latency(rate, seconds))
            progress.advance(task)
            for batch_size in BATCH_SIZES:
                throughput = bench.function_throughput(
                    batch_size, min(events, 5_000) if batch_size == 1 else events
                )
                results.append(throughput)
                progress.advance(task)
                # latency below saturation (else it measures queueing): a quarter of the burst throughput,
                # as the paced run shares the cores with its producer and reader
                paced = min(rate, max(50, throughput["events_per_s"] // 4))
                results.append(bench.function_latency(batch_size, paced, seconds))
                progress.advance(task)
    finally:
        bench.cleanup()
        for future in admin.delete_topics(topics).values():
            future.result(15)
    _report(results, settings, events, rate, seconds, payload_bytes, json_path)


def _report(
    results: list[dict[str, Any]], settings: Settings, events: int, rate: int, seconds: float,
    payload_bytes: int, json_path: Path | None,
) -> None:  # fmt: skip
    columns = ("hop", "batch", "events", "events_per_s", "paced_rate", "received", "p50_ms", "p99_ms")
    title = "streams benchmark (events/s: burst throughput; paced rows: latency at paced_rate)"
    report.print_rows(title, columns, results)
    report.write(json_path, "streams", {
            "parameters": {"events": events, "paced_rate": rate, "paced_seconds": seconds,
                           "payload_bytes": payload_bytes, "mirror_batch": settings.streams.mirror_batch,
                           "fetch_wait_max_ms": settings.streams.fetch_wait_max_ms},
            "results": results,
        })  # fmt: skip
