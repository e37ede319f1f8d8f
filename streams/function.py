"""Runtime declarations: a function, its dependencies (Context), and the pipeline table.

A function is a plain callable over a batch of decoded events that returns effects::

    Handler = Callable[[Sequence[Event[Any]]], Sequence[Effect]]

It is declared once, in the pipeline table (``infra/pipeline/table.py``)::

    FunctionSpec(
        name="score", input=ENRICHED, group="score", outputs=(SCORED, ALERTS),
        build=score.build,                # build(ctx) -> handler; ctx has redis, settings, keys
        codec=score.EnrichedCodec(),      # bytes -> typed event; failures -> dead letter
        batch_size=500, block_ms=100, max_deliveries=5,
    )

``build(ctx)`` runs once per consumer: it loads models, keeps the Redis client for feature
state, and returns the handler. Most stages are one event in, one event out: wrap such a
function with :func:`per_event` and it carries each input's metadata onto its output.

The table itself is a :class:`Pipeline`, with the mirror's routes (broker topic -> the stream
it feeds); ``sentinel fn list/run`` and ``sentinel mirror`` load it from the dotted path in
``settings.streams.pipeline`` (default ``infra.pipeline.table:PIPELINE``), so the runtime never
imports the project's wiring.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from core.errors import ConfigError
from core.settings import KafkaSettings, Settings
from streams.commit import HistoryCap
from streams.events import BytesCodec, Codec, Effect, Emit, Event
from streams.keys import Keys

Handler = Callable[[Sequence[Event[Any]]], Sequence[Effect]]


@dataclass(frozen=True)
class Context:
    """What a function's factory may use: a Redis client, the settings, the key builder, and
    ``shared``: objects the builds of one process may share. The inline door builds a chain
    twice, live and dry, on one ``shared``: what a factory keeps there (a loaded model) is
    loaded, and warmed, once for both."""

    redis: redis.Redis
    settings: Settings
    keys: Keys
    shared: dict[str, Any] = field(default_factory=dict, compare=False)


Factory = Callable[[Context], Handler]
Routes = Callable[[KafkaSettings], Mapping[str, str]]
"""The mirror's routes: configured broker topic -> the logical stream it is copied into."""


@dataclass(frozen=True)
class FunctionSpec:
    """One row of the pipeline table. ``None`` limits fall back to ``settings.streams``."""

    name: str
    input: str
    group: str
    outputs: tuple[str, ...]
    build: Factory
    codec: Codec[Any] = field(default_factory=BytesCodec)
    batch_size: int | None = None
    block_ms: int | None = None
    max_deliveries: int | None = None
    description: str = ""
    # Outputs that no consumer group reads (records for people and the gateway): kept as a
    # bounded history (``history_caps``). Group-read outputs are never capped; they are
    # trimmed only below what every group has consumed.
    history: tuple[str, ...] = ()
    # Plumbing (the benchmarks' no-op): runnable and in the table, but not in what users see
    # (``sentinel fn list``, the overview's functions).
    internal: bool = False
    # Runs only where it is configured (e.g. an outgoing webhook): its lag is no reason for the
    # rest to report not-ready, and the local stack starts it only when configured.
    optional: bool = False

    def __post_init__(self) -> None:
        if self.input in self.outputs:
            raise ConfigError(f"function {self.name}: output {self.input} is also its input")
        if not set(self.history) <= set(self.outputs):
            raise ConfigError(f"function {self.name}: history streams must be outputs")


def per_event(fn: Callable[[list[Any]], Sequence[bytes | None]], output: str) -> Handler:
    """A handler from ``fn(values) -> payloads`` (one per input, ``None``: no output for it).

    Each output carries its input's metadata (``published_ns``, ``origin`` ...).
    """

    def handler(batch: Sequence[Event[Any]]) -> list[Effect]:
        payloads = fn([event.value for event in batch])
        if len(payloads) != len(batch):
            raise ValueError(f"{len(batch)} inputs gave {len(payloads)} outputs")
        return [event.emit(output, p) for event, p in zip(batch, payloads, strict=True) if p is not None]

    return handler


def identity(output: str) -> Factory:
    """A factory of a handler that copies every input payload to ``output`` (tests, benchmarks)."""

    def build(ctx: Context) -> Handler:
        def handler(batch: Sequence[Event[Any]]) -> list[Effect]:
            return [Emit(output, e.payload, dict(e.meta)) for e in batch]

        return handler

    return build


class Pipeline:
    """The ordered table of functions, and the mirror's routes into it; consecutive functions can
    be fused (``chain``)."""

    def __init__(self, specs: Sequence[FunctionSpec], routes: Routes | None = None) -> None:
        names = [s.name for s in specs]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ConfigError(f"duplicate function names in the pipeline: {sorted(dupes)}")
        groups = [(s.input, s.group) for s in specs]
        if len(set(groups)) != len(groups):
            raise ConfigError("two functions share one (input stream, group)")
        self._specs = list(specs)
        self._routes = routes

    def __iter__(self) -> Iterator[FunctionSpec]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def user_facing(self) -> list[FunctionSpec]:
        """The rows users see (``sentinel fn list``, the overview): all but the internal ones."""
        return [spec for spec in self._specs if not spec.internal]

    def get(self, name: str) -> FunctionSpec:
        for spec in self._specs:
            if spec.name == name:
                return spec
        raise ConfigError(f"no function {name!r} in the pipeline (known: {[s.name for s in self]})")

    def mirror_routes(self, kafka: KafkaSettings) -> dict[str, str]:
        """Broker topic -> logical stream the mirror copies it into (empty: the table has no routes)."""
        return dict(self._routes(kafka)) if self._routes is not None else {}

    def chain(self, names: Sequence[str]) -> list[FunctionSpec]:
        """The specs of ``names``, checked to be fusable: each reads a stream the previous writes."""
        specs = [self.get(n) for n in names]
        for up, down in itertools.pairwise(specs):
            if down.input not in up.outputs:
                raise ConfigError(
                    f"cannot fuse {up.name} -> {down.name}: {down.name} does not read its output"
                )
        return specs


def load_pipeline(path: str) -> Pipeline:
    """Import ``module:attribute`` and check it is a Pipeline."""
    module_name, _, attr = path.partition(":")
    if not attr:
        raise ConfigError(f"pipeline path {path!r}: expected module:attribute")
    try:
        pipeline = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load pipeline {path!r}: {exc}") from exc
    if not isinstance(pipeline, Pipeline):
        raise ConfigError(f"{path} is a {type(pipeline).__name__}, not a streams Pipeline")
    return pipeline


def history_caps(specs: Iterable[FunctionSpec], settings: Settings) -> dict[str, HistoryCap]:
    """The bounds of the history outputs of ``specs``: ``streams.history_max_entries`` entries
    (or fewer, ``streams.history_stream_entries``) and ``streams.history_max_age_s`` seconds."""
    cfg = settings.streams

    def cap(stream: str) -> HistoryCap:
        entries = min(
            cfg.history_max_entries, cfg.history_stream_entries.get(stream, cfg.history_max_entries)
        )
        return HistoryCap(entries, cfg.history_max_age_s)

    return {stream: cap(stream) for spec in specs for stream in spec.history}
