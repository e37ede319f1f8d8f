"""Runtime commands: ``sentinel fn``, ``sentinel dlq``, ``sentinel mirror`` (composition roots).

Each command loads settings, builds its Redis client, and runs; the pipeline table comes from
``settings.streams.pipeline`` (``module:attribute``), so these commands never import the
project's wiring. SIGTERM and SIGINT let the current batch finish and commit, then exit 0.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import sys
import threading
from collections.abc import Callable, Sequence

import click
import redis

from core.connect import redis_client
from core.errors import ConfigError
from core.settings import Settings, get_settings
from core.terminal import print_table
from streams import dlq as dead_letters
from streams.function import Pipeline, load_pipeline
from streams.keys import Shards
from streams.metrics import StreamsCollector, read_function_stats
from streams.worker import Worker, consumer_name

log = logging.getLogger(__name__)


def no_stack(settings: Settings, variable: str) -> click.ClickException:
    """The error of a command that needs a running stack and found none."""
    return click.ClickException(
        f"no Sentinel stack is running in {settings.local.state_dir} and {variable} is not set: "
        "start one with `sentinel up`, or set the variable"
    )


def _client(settings: Settings) -> redis.Redis:
    if not settings.redis.url:
        raise no_stack(settings, "SENTINEL_REDIS_URL")
    return redis_client(settings.redis.url)


def _pipeline(settings: Settings) -> Pipeline:
    try:
        return load_pipeline(settings.streams.pipeline)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (the loop finishes its batch, then returns)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@click.group()
def fn() -> None:
    """List and run the pipeline's functions (consumer groups on Redis Streams)."""


@fn.command("list")
@click.option("--stats", is_flag=True, help="Also show counters, latency and lag from Redis.")
def list_functions(stats: bool) -> None:
    """Show the pipeline table: input stream -> group -> function -> outputs (internal rows, e.g. the
    benchmarks' noop, are left out)."""
    settings = get_settings()
    pipeline = _pipeline(settings)
    columns = ["function", "input", "group", "outputs", "batch", "codec"]
    columns += (
        ["processed", "dead", "failed", "lag", "pending", "p50 ms", "p99 ms"] if stats else ["description"]
    )
    rows = []
    client = _client(settings) if stats else None
    keys = Shards.of(settings)
    for spec in pipeline.user_facing():
        row = [
            spec.name,
            spec.input,
            spec.group,
            ", ".join(spec.outputs),
            str(spec.batch_size or settings.streams.batch_size),
            spec.codec.name,
        ]
        if client is not None:
            s = read_function_stats(client, keys, spec.name, spec.input, spec.group)
            row += [
                str(v if v is not None else "-")
                for v in (s.processed, s.dead_lettered, s.failed, s.lag, s.pending)
            ]
            row += [f"{v:.2f}" if v is not None else "-" for v in (s.latency_p50_ms, s.latency_p99_ms)]
        else:
            row.append(spec.description)
        rows.append(row)
    print_table(columns, rows)


def run_workers(
    names: Sequence[str],
    index: int,
    burst: bool,
    consumer: str | None = None,
    metrics_port: int = 0,
    shard: int | None = None,
) -> int:
    """One consumer of ``names`` (fused if several) in this process; returns an exit code.

    It works on ``shard``, by default on shard ``index`` mod ``streams.shards`` (see ``run``).
    With ``metrics_port``, Prometheus metrics are served there, with ``sentinel_process_ready``
    (0 while Redis is unreachable or the function waits for a model)."""
    settings = get_settings()
    pipeline = _pipeline(settings)
    specs = pipeline.chain(names)
    stop = stop_on_signals()
    name = f"{consumer}-{index}" if consumer else consumer_name(index)
    shard = index % settings.streams.shards if shard is None else shard
    worker = Worker(specs, _client(settings), settings, consumer=name, stop=stop, shard=shard)
    if metrics_port:
        _serve_metrics(settings, pipeline, metrics_port, lambda: worker.ready)
    report = worker.run(burst=burst)
    click.echo(
        f"{worker.name} {worker.consumer}: processed={report.processed} dead_lettered={report.dead_lettered} "
        f"failed={report.failed} batches={report.batches} reclaimed={report.reclaimed}"
    )
    return 0


def _child(names: Sequence[str], index: int, burst: bool, consumer: str | None, shard: int | None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(run_workers(names, index, burst, consumer, shard=shard))


def _serve_metrics(
    settings: Settings, pipeline: Pipeline | None, port: int, ready: Callable[[], bool] | None
) -> None:
    """Prometheus metrics on 127.0.0.1:``port``: the pipeline's functions (none: only readiness)."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    functions = [(s.name, s.input, s.group) for s in pipeline or []]
    keys = Shards.of(settings)
    registry.register(StreamsCollector(_client(settings), keys, functions, ready))
    start_http_server(port, addr="127.0.0.1", registry=registry)


@fn.command("run")
@click.argument("names", nargs=-1, required=True)
@click.option(
    "-c",
    "--concurrency",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Consumer processes.",
)
@click.option(
    "--burst", is_flag=True, help="Return when the input is drained (nothing new, nothing pending)."
)
@click.option("--metrics-port", type=int, default=None, help="Serve Prometheus metrics (default: settings).")
@click.option(
    "--consumer",
    default=None,
    help="Stable consumer name base: a restart under it resumes its own pending entries at once "
    "instead of waiting for claim_idle_ms. Default: host-pid, stable across restarts of a container "
    "(sentinel runs as PID 1; compose, Kubernetes); the local stack passes --consumer stack. Never "
    "give two running processes the same name.",
)
@click.option(
    "--shard",
    type=click.IntRange(0),
    default=None,
    help="Work on this stream shard only (default: process i takes shard i mod SENTINEL_STREAMS_SHARDS).",
)
def run(
    names: tuple[str, ...],
    concurrency: int,
    burst: bool,
    metrics_port: int | None,
    consumer: str | None,
    shard: int | None,
) -> None:
    """Run function NAME; consecutive functions run fused in one consumer: `enrich+score` (or `enrich score`).

    With several stream shards (SENTINEL_STREAMS_SHARDS), consumer process i works on shard
    i mod shards, so --concurrency must be at least the number of shards; --shard S puts every
    process on shard S instead (one deployment per shard).
    SIGTERM / Ctrl-C finish the current batch, commit it, and exit 0.
    """
    names = tuple(name for arg in names for name in arg.split("+") if name)
    settings = get_settings()
    pipeline = _pipeline(settings)
    try:
        pipeline.chain(names)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    shards = settings.streams.shards
    if shard is not None and shard >= shards:
        raise click.BadParameter(
            f"{shard} is not a shard: SENTINEL_STREAMS_SHARDS={shards}", param_hint="--shard"
        )
    if shard is None and concurrency < shards:
        raise click.UsageError(
            f"{shards} stream shards need at least {shards} consumer processes (--concurrency), or --shard"
        )
    port = settings.streams.metrics_port if metrics_port is None else metrics_port
    if concurrency == 1:
        sys.exit(run_workers(names, 0, burst, consumer, port or 0, shard))
    if port:  # one server for the children: counters and lag from Redis, no per-process readiness
        _serve_metrics(settings, pipeline, port, None)
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_child, args=(names, i, burst, consumer, shard), name=f"fn-{i}")
        for i in range(concurrency)
    ]
    for child in children:
        child.start()

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                child.terminate()  # SIGTERM: the child finishes its batch

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal sends SIGINT to the children too
    for child in children:
        child.join()
    sys.exit(max(child.exitcode or 0 for child in children))


@click.group()
def dlq() -> None:
    """Inspect and replay dead letters (entries that could not be processed, with the reason)."""


@dlq.command("list")
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
def dlq_list(limit: int) -> None:
    """The newest dead letters."""
    settings = get_settings()
    client, keys = _client(settings), Shards.of(settings)
    print_table(
        ("id", "function", "stream", "entry", "deliveries", "reason"),
        [
            (d.id, d.function, d.stream, d.entry_id, str(d.deliveries), d.reason[:120])
            for d in dead_letters.list_dead_letters(client, keys, limit)
        ],
    )
    click.echo(f"{dead_letters.count_dead_letters(client, keys)} dead letters in total")


@dlq.command("show")
@click.argument("dead_id")
def dlq_show(dead_id: str) -> None:
    """One dead letter in full: reason, metadata, payload."""
    settings = get_settings()
    letter = dead_letters.get_dead_letter(_client(settings), Shards.of(settings), dead_id)
    if letter is None:
        raise click.ClickException(f"no dead letter {dead_id}")
    for name in ("id", "function", "stream", "group", "entry_id", "deliveries", "reason", "meta"):
        click.echo(f"{name}: {getattr(letter, name)}")
    click.echo("payload: " + letter.payload.decode(errors="replace"))


@dlq.command("replay")
@click.argument("dead_ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter (of --function, if given).")
@click.option("--function", "function", default=None, help="Only dead letters of this function.")
def dlq_replay(dead_ids: tuple[str, ...], replay_all: bool, function: str | None) -> None:
    """Put dead letters back on their input stream (after a fix) and remove them from the DLQ."""
    settings = get_settings()
    client, keys = _client(settings), Shards.of(settings)
    ids = list(dead_ids)
    if replay_all:
        total = dead_letters.count_dead_letters(client, keys)
        letters = dead_letters.list_dead_letters(client, keys, max(total, 1), newest_first=False)
        ids += [d.id for d in letters if function is None or d.function == function]
    if not ids:
        raise click.UsageError("name dead letter ids or pass --all")
    try:
        new_ids = dead_letters.replay(client, keys, ids)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from exc
    click.echo(f"replayed {len(new_ids)} dead letters")


@click.command()
@click.option("--burst", is_flag=True, help="Return once every assigned partition is copied to its end.")
@click.option(
    "--metrics-port",
    type=int,
    default=0,
    help="Serve Prometheus metrics on 127.0.0.1:PORT: sentinel_process_ready is 0 while Redis or the "
    "broker is unreachable (what a supervisor's readiness check reads). Default: none.",
)
def mirror(burst: bool, metrics_port: int) -> None:
    """Copy the broker topics into Redis streams (the pipeline table's routes), exactly once.

    Several instances split the partitions. SIGTERM / Ctrl-C finish the current batch and exit 0.
    """
    from streams.mirror import Mirror

    settings = get_settings()
    if not settings.kafka.bootstrap:
        raise no_stack(settings, "SENTINEL_KAFKA_BOOTSTRAP")
    instance = Mirror(settings, _client(settings), stop_on_signals())
    if metrics_port:
        _serve_metrics(settings, None, metrics_port, lambda: instance.ready)
    report = instance.run(burst=burst)
    click.echo(f"mirror: copied={dict(report.copied)} skipped={report.skipped} pauses={report.pauses}")
