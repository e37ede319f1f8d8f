"""Benchmark plumbing: run the mirror or a worker in spawned child processes, stopped together.

A benchmark measures the runtime the way it runs in production (its own processes, its own
GIL); these helpers start such children and stop them with one shared event.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from core.connect import redis_client
from core.settings import Settings
from streams.function import FunctionSpec
from streams.mirror import Mirror
from streams.worker import Worker

Target = tuple[Callable[..., None], tuple[Any, ...]]


def relay(stop: Any) -> threading.Event:
    """A threading.Event set when the multiprocessing event ``stop`` is."""
    local = threading.Event()

    def wait() -> None:
        stop.wait()
        local.set()

    threading.Thread(target=wait, daemon=True).start()
    return local


def mirror_child(settings: Settings, stop: Any) -> None:
    """Child target: the mirror until ``stop``."""
    Mirror(settings, stop=relay(stop)).run()


def worker_child(
    settings: Settings,
    make_specs: Callable[..., Sequence[FunctionSpec]],
    args: tuple[Any, ...],
    shard: int,
    stop: Any,
) -> None:
    """Child target: a worker of ``make_specs(*args)`` (one function or a fused chain) on stream
    shard ``shard`` until ``stop``.

    The specs are built in the child: their factories may be closures, which do not pickle.
    """
    client = redis_client(settings.redis.url or "")
    Worker(make_specs(*args), client, settings, stop=relay(stop), shard=shard).run()


@contextmanager
def children(*targets: Target) -> Iterator[list[int]]:
    """Run each (function, args) in a spawned process; stop them all when the block ends.

    Yields the children's pids, in the order of ``targets`` (for the cost table's CPU times)."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    processes = [context.Process(target=target, args=(*args, stop)) for target, args in targets]
    try:
        for process in processes:
            process.start()
        yield [p.pid for p in processes if p.pid is not None]
    finally:
        stop.set()
        for process in (p for p in processes if p.pid is not None):
            process.join(30)
            if process.is_alive():
                process.kill()
