"""Benchmark of the whole hot path: simulator -> broker -> mirror -> enrich (-> score), end to end.

``sentinel bench e2e --json bench-results/e2e.json`` runs, each on a scratch key prefix and
scratch topics (removed afterwards), with the mirror and the function worker in their own
processes as in production:

- ``paced``: the simulator publishes open loop at ``--rate`` (default 1,000/s) for ``--seconds``;
  achieved events/s and publish -> final-stream latency (p50/p95/p99/max), measured as the time
  the entry is read from the last stream minus its ``published_ns`` header (set at produce);
- ``saturation``: ``--events`` published as fast as the simulator can, the pipeline running; events/s
  from the first publish to the last output, and the same latencies (queueing included);
- ``enrich only``: ``--events`` pre-filled in ``tx.raw``, drained by one in-process enrich worker
  (burst): the cost of the enrich stage alone (worker + Redis script).

The last stage is ``score`` (enrich+score fused in one worker) when the pipeline table has a
score row and a champion model is registered; otherwise the run stops at ``tx.enriched`` and
the JSON says so (``"final_stage"``).

On a Redis Cluster (``SENTINEL_REDIS_URL=redis+cluster://…``, ``SENTINEL_STREAMS_SHARDS``): worker i
works on shard i mod shards (``--workers`` at least the shards), the final streams of every shard
are read, Redis CPU and commands are summed over the masters, and "each stage alone" drains one
shard (shard 0, its e-mail/device/address state on every master): the per-shard throughput.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import click
import redis
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from rich.console import Console

from core.connect import redis_client
from core.settings import Settings, get_settings
from data.loader import DataFiles, iter_json
from data.simulator import simulate
from data.synthetic import generate
from infra.bench import report
from infra.bench.children import Target, children, mirror_child, worker_child
from infra.bench.cost import Meter, broker_pids
from infra.pipeline.streams import ENRICHED, RAW, SCORED
from infra.pipeline.table import PIPELINE
from models.registry import Registry
from streams.events import PAYLOAD, PUBLISHED_NS
from streams.function import FunctionSpec
from streams.keys import Shards
from streams.metrics import percentile
from streams.worker import Worker

STAGE_WARM = 500
"""Rows each stage alone drains before it is measured (model load, connections, caches)."""


def _chain(names: list[str]) -> list[FunctionSpec]:
    """The specs of ``names`` (built in the worker process: the table holds closures)."""
    return PIPELINE.chain(names)


class _Collector:
    """Reads the final stream of every shard (a thread each); records (read time - published_ns)
    per entry, in ms."""

    def __init__(self, client: redis.Redis, streams: Sequence[str], expected: int, timeout_s: float) -> None:
        self.client, self.streams, self.expected, self.timeout_s = client, list(streams), expected, timeout_s
        self.latencies: list[float] = []
        self.last_ns = 0
        self.cursors = dict.fromkeys(self.streams, "0-0")
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        for stream in self.streams:
            self._threads.append(threading.Thread(target=self._read, args=(stream, deadline), daemon=True))
            self._threads[-1].start()

    def join(self) -> None:
        for thread in self._threads:
            thread.join()

    def _read(self, stream: str, deadline: float) -> None:
        while len(self.latencies) < self.expected and time.monotonic() < deadline:
            reply: Any = self.client.xread({stream: self.cursors[stream]}, count=5000, block=100)
            now = time.time_ns()
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    self.cursors[stream] = entry_id
                    self.latencies.append((now - int(fields[PUBLISHED_NS.encode()])) / 1e6)
                    self.last_ns = max(self.last_ns, now)


class _Run:
    """One measured run: fresh prefix and topics, the mirror and the worker as child processes."""

    def __init__(self, base: Settings, names: list[str], workers: int = 1) -> None:
        run_id = uuid.uuid4().hex[:8]
        self.settings = base.replace(
            redis={"key_prefix": f"bench:{run_id}:"},
            kafka={"topic_transactions": f"bench-e2e-tx-{run_id}", "topic_labels": f"bench-e2e-lb-{run_id}"},
            # a consumer group of its own: the previous run's mirror, stopped, may still be a member
            # of a shared one, and the broker holds the new member's join until it is evicted
            streams={
                "session_timeout_ms": 2000,
                "backlog_limit": 10_000_000,
                "mirror_group": f"bench-{run_id}",
            },
        )
        self.names = names
        self.workers = workers
        self.client = redis_client(self.settings.redis.url or "")
        self.shards = Shards.of(self.settings)
        if workers < self.shards.count:
            raise click.ClickException(
                f"--workers {workers} < {self.shards.count} stream shards: a shard unread"
            )
        self.keys = self.shards.home
        self.final = [keys.stream(SCORED if "score" in names else ENRICHED) for keys in self.shards]
        kafka = self.settings.kafka
        self.admin = AdminClient({"bootstrap.servers": kafka.bootstrap or ""})
        self.topics = [kafka.topic_transactions, kafka.topic_labels]
        for future in self.admin.create_topics(
            [NewTopic(t, num_partitions=kafka.partitions) for t in self.topics]
        ).values():
            future.result(15)

    def measure(self, rows: Sequence[bytes], rate: float, label: str) -> dict[str, Any]:
        warm, rest = rows[:1], rows[1:]
        targets: list[Target] = [(mirror_child, (self.settings,))]
        targets += [
            (worker_child, (self.settings, _chain, (self.names,), i % self.shards.count))
            for i in range(self.workers)
        ]
        meter = Meter(self.client, {"bench driver (simulator, collector)": [os.getpid()]})
        meter.watch("broker", broker_pids())
        with children(*targets) as pids:
            meter.watch("mirror", pids[:1])
            meter.watch("+".join(self.names), pids[1:])
            warmup = _Collector(self.client, self.final, 1, 120)
            warmup.start()
            simulate(self.settings, warm, rate=1.0)
            warmup.join()
            if not warmup.latencies:
                raise click.ClickException("the pipeline did not start within 120 s")
            collector = _Collector(self.client, self.final, len(rest), 120 + len(rest) / max(rate, 1))
            collector.cursors = dict(warmup.cursors)
            collector.start()
            meter.start()
            started_ns = time.time_ns()
            summary = simulate(self.settings, rest, rate=rate)
            collector.join()
            cost = meter.stop(len(collector.latencies))
        cpu = cost["cpu_us_per_event"]
        cpu["pipeline (mirror + workers + redis)"] = round(
            cpu["mirror"] + cpu["+".join(self.names)] + cpu["redis"], 1
        )
        lat = collector.latencies
        span_s = max(1e-9, (collector.last_ns - started_ns) / 1e9)
        return {
            "run": label,
            "final_stage": self.names[-1],
            "workers": self.workers,
            "requested_rate": None if rate >= 1e8 else rate,
            "published": summary.sent,
            "received": len(lat),
            "publish_rate": round(summary.achieved_rate),
            "events_per_s": round(len(lat) / span_s),
            **_percentiles(lat),
            "cpu_us_per_event": cpu["pipeline (mirror + workers + redis)"],
            "cost": cost,
        }

    def sustained(
        self, rows: Sequence[bytes], rates: Sequence[int], seconds: float, p99_ms: float
    ) -> dict[str, Any]:
        """The highest of ``rates`` (ascending, each for ``seconds``) whose publish -> scored p99 stays
        within ``p99_ms`` with every event through; stops at the first that does not."""
        steps: list[dict[str, Any]] = []
        best = None
        for rate in rates:
            count = min(len(rows), int(rate * seconds) + 1)
            step = self.measure(rows[:count], rate, f"paced {rate}/s")
            steps.append({k: step[k] for k in ("requested_rate", "publish_rate", "received", "events_per_s",
                                               "p99_ms", "cpu_us_per_event")})  # fmt: skip
            if step["received"] < count - 1 or (step["p99_ms"] or 0) > p99_ms:
                break
            best = rate
        return {
            "run": f"sustained (p99 <= {p99_ms:g} ms)",
            "final_stage": self.names[-1],
            "workers": self.workers,
            "events_per_s": best,
            "p99_bound_ms": p99_ms,
            "steps": steps,
        }

    def stages(self, rows: Sequence[bytes], warm: int = STAGE_WARM) -> dict[str, Any]:
        """Each stage alone, in-process and in burst: ``rows`` pre-filled in ``tx.raw`` drained by
        enrich, then its ``tx.enriched`` output drained by score. Events/s and the cost table of each
        (worker CPU = this process, the bench's own pre-fill excluded; with stream shards: shard 0's
        streams, the throughput of one shard). Each stage's worker first
        drains the ``warm`` rows before them, unmeasured: loading the model (importing LightGBM,
        parsing the trees) is a start-up cost, not one of the events."""
        workers = {name: Worker(PIPELINE.chain([name]), self.client, self.settings) for name in self.names}
        self._fill(rows[:warm])
        for worker in workers.values():
            worker.run(burst=True)
        measured = rows[warm:]
        self._fill(measured)
        stages: dict[str, Any] = {}
        for name, worker in workers.items():
            meter = Meter(self.client, {"worker": [os.getpid()]})
            before = worker.report.processed
            meter.start()
            started = time.perf_counter()
            worker.run(burst=True)
            elapsed = time.perf_counter() - started
            cost = meter.stop(len(measured))
            stages[name] = {
                "run": f"{name} alone (in-process worker, burst)",
                "final_stage": name,
                "received": worker.report.processed - before,
                "events_per_s": round(len(measured) / elapsed),
                "cpu_us_per_event": cost["cpu_us_per_event"]["total"],
                "cost": cost,
            }
        return stages

    def _fill(self, rows: Sequence[bytes]) -> None:
        """``rows`` appended to ``tx.raw`` as the mirror would (payload and publish time)."""
        pipe = self.client.pipeline(transaction=False)
        for i, raw in enumerate(rows):
            fields: Any = {PAYLOAD: raw, PUBLISHED_NS: str(time.time_ns())}
            pipe.xadd(self.keys.stream(RAW), fields)
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()

    def close(self) -> None:
        keys: Any = list(self.client.scan_iter(match=f"{self.settings.redis.key_prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            self.client.delete(*keys[start : start + 1000])
        for future in self.admin.delete_topics(self.topics).values():
            future.result(15)
        self.client.close()


def _percentiles(lat: list[float]) -> dict[str, float | None]:
    return {
        f"{name}_ms": None if not lat else round(value or 0.0, 2)
        for name, value in (
            ("p50", percentile(lat, 50)),
            ("p95", percentile(lat, 95)),
            ("p99", percentile(lat, 99)),
            ("max", max(lat) if lat else None),
        )
    }


def _stages(settings: Settings, stage: str) -> list[str]:
    """enrich+score when the table has a score row and a champion is registered, else enrich."""
    names = [spec.name for spec in PIPELINE]
    if stage == "enrich" or "score" not in names:
        return ["enrich"]
    if Registry(settings.models.registry_dir).pointer().get("champion") is None:
        Console(stderr=True).print(
            f"no champion model in {settings.models.registry_dir} (sentinel train --promote): enrich only"
        )
        return ["enrich"]
    return ["enrich", "score"]


def generated_rows(count: int, seed: int) -> list[bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        generate(count, seed, Path(tmp))
        return list(chain.from_iterable(iter_json(DataFiles.in_dir(Path(tmp)))))


@click.command()
@click.option(
    "--json", "json_path", type=click.Path(path_type=Path), default=None, help="Write results here."
)
@click.option("--rate", default=1_000, show_default=True, help="Events/s of the paced run.")
@click.option("--seconds", default=15.0, show_default=True, help="Length of the paced run.")
@click.option(
    "--events", default=20_000, show_default=True, help="Events of the saturation and per-stage runs."
)
@click.option(
    "--ladder", default="2500,5000,7500,10000", show_default=True,
    help="Rates (events/s, ascending) tried for the highest sustained with p99 <= --p99-ms ('' skips).",
)  # fmt: skip
@click.option("--ladder-seconds", default=8.0, show_default=True, help="Length of each ladder run.")
@click.option("--p99-ms", default=50.0, show_default=True, help="Latency bound of the sustained rate.")
@click.option(
    "--stage", type=click.Choice(["auto", "enrich"]), default="auto", show_default=True,
    help="Last stage: auto (score when the table has it), or enrich only.",
)  # fmt: skip
@click.option("--workers", default=2, show_default=True, help="Worker processes (fused enrich+score).")
@click.pass_context
def e2e(
    ctx: click.Context,
    json_path: Path | None,
    rate: int,
    seconds: float,
    events: int,
    ladder: str,
    ladder_seconds: float,
    p99_ms: float,
    stage: str,
    workers: int,
) -> None:
    """Events/s and publish -> scored latency through the real broker, mirror, enrich and score,
    with the cost table: CPU µs per event per process and per Redis command (see infra.bench.cost)."""
    base = ctx.obj() if callable(ctx.obj) else get_settings()
    names = _stages(base, stage)
    rates = sorted(int(r) for r in ladder.split(",") if r.strip())
    paced_rows = int(rate * seconds)
    pool = max(paced_rows, STAGE_WARM + events, int(max(rates, default=0) * ladder_seconds) + 1)
    console = Console(stderr=True)
    console.print(f"generating {pool} rows ...")
    rows = generated_rows(pool, seed=5)
    results = []
    plan: list[tuple[str, Callable[[_Run], list[dict[str, Any]]]]] = [
        ("paced", lambda run: [run.measure(rows[:paced_rows], rate, f"paced {rate}/s")]),
        ("saturation", lambda run: [run.measure(rows[:events], 1e9, "saturation")]),
        ("sustained", lambda run: [run.sustained(rows, rates, ladder_seconds, p99_ms)] if rates else []),
        ("each stage alone", lambda run: list(run.stages(rows[: STAGE_WARM + events]).values())),
    ]
    for label, step in plan:
        console.print(f"running {label} ...")
        run = _Run(base, names, workers)
        try:
            results += step(run)
        finally:
            run.close()
    _report(results, base, rate, seconds, events, workers, json_path)


def _report(
    results: list[dict[str, Any]], settings: Settings, rate: int, seconds: float, events: int,
    workers: int, json_path: Path | None,
) -> None:  # fmt: skip
    columns = (
        "run",
        "final_stage",
        "received",
        "events_per_s",
        "p50_ms",
        "p99_ms",
        "max_ms",
        "cpu_us_per_event",
    )
    report.print_rows(
        "end-to-end benchmark (publish -> last stage; CPU µs/event: pipeline)", columns, results
    )
    for row in results:
        if "cost" in row:
            report.print_cost(row["run"], row["cost"])
    report.write(json_path, "e2e", {
            "parameters": {"rate": rate, "seconds": seconds, "events": events, "workers": workers,
                           "batch_size": settings.streams.batch_size, "block_ms": settings.streams.block_ms,
                           "partitions": settings.kafka.partitions, "linger_ms": settings.kafka.linger_ms,
                           "fetch_wait_max_ms": settings.streams.fetch_wait_max_ms},
            "results": results,
        })  # fmt: skip
