"""Runtime, the one-off door: run a chain of the table once, outside any consumer group.

For a caller that needs a chain's outputs now (the gateway's synchronous scoring). The chain is
built by the same factories and fused as a worker fuses it (``fuse``); its effects pass the
worker's check (``isolation.checked``: only effects of the vocabulary, appends only to declared
outputs). Then either:

- ``commit(guard_key, effects)``: written atomically, once: nothing is written when
  ``guard_key`` exists (it is the record the effects create, so a repeat writes nothing), with
  history outputs capped as a worker caps them; or
- ``run(..., dry_run=True)``: computed on throwaway copies of exactly the keys the chain's
  scripts declare (``ScratchClient``), so live state never changes, and never committed.

An output's value is handed back as the function made it (``Emit.value``): the caller reads it
without decoding the payload the function has just encoded.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import redis

from core.settings import Settings
from streams.commit import GuardedCommitter
from streams.events import Effect, Emit, Event
from streams.function import Context, Pipeline, history_caps
from streams.fusion import fuse, fused_outputs
from streams.isolation import checked
from streams.keys import Keys


class _ScratchScript:
    """A registered script that runs on scratch copies of the keys it is given, then drops them."""

    def __init__(self, client: redis.Redis, script: str, scratch: str) -> None:
        self._client = client
        self._script = client.register_script(script)
        self._scratch = scratch

    def __call__(self, keys: Sequence[str] = (), args: Sequence[Any] = (), client: Any = None) -> Any:
        run = f"{self._scratch}{uuid.uuid4().hex[:8]}:"
        mapped = [f"{run}{key}" if key else key for key in keys]
        copies = [(key, copy) for key, copy in zip(keys, mapped, strict=True) if key]
        try:
            pipe = self._client.pipeline(transaction=False)
            for key, copy in copies:
                pipe.copy(key, copy, replace=True)
            pipe.execute()
            return self._script(keys=mapped, args=list(args))
        finally:
            if copies:
                self._client.unlink(*{copy for _, copy in copies})


class ScratchClient:
    """A ``redis.Redis`` stand-in whose scripts never write the keys they are given.

    Feature state is read and updated by one server-side script per batch and has no read-only
    mode: its registered scripts copy each declared key to a scratch name first (``COPY``), run
    on the copies and delete them. Every other call passes through.
    """

    def __init__(self, client: redis.Redis, scratch_prefix: str) -> None:
        self._client = client
        self._scratch = scratch_prefix

    def register_script(self, script: str) -> _ScratchScript:
        return _ScratchScript(self._client, script, self._scratch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class InlineChain:
    """Consecutive functions of ``pipeline`` (``names``), runnable once per event, live or dry."""

    def __init__(
        self,
        pipeline: Pipeline,
        names: Sequence[str],
        client: redis.Redis,
        settings: Settings,
        scratch_prefix: str,
        keys: Keys | None = None,
        shared: dict[str, Any] | None = None,
    ) -> None:
        """``keys``: the stream shard the chain works as (``Shards.keys``; default the plain prefix);
        ``shared``: loaded state (a model) shared with other chains, e.g. one per shard."""
        specs = pipeline.chain(names)
        keys = Keys(settings.redis.key_prefix) if keys is None else keys
        self.name = "+".join(names)
        self.outputs = fused_outputs(specs)
        if shared is None:
            shared = {}  # one model (or other loaded state) for the live and dry builds
        live = Context(client, settings, keys, shared)
        dry = Context(ScratchClient(client, scratch_prefix), settings, keys, shared)  # type: ignore[arg-type]
        self._live = fuse(specs, [spec.build(live) for spec in specs])
        self._dry = fuse(specs, [spec.build(dry) for spec in specs])
        self._committer = GuardedCommitter(client, keys, history_caps(specs, settings))

    def run(
        self, event_id: str, value: Any, meta: Mapping[str, str], dry_run: bool = False, payload: bytes = b""
    ) -> list[Effect]:
        """The chain's effects for one decoded input (``dry_run``: on scratch copies of the state;
        ``payload``: the bytes ``value`` was decoded from, when the caller has them)."""
        event = Event(event_id, value, payload, dict(meta))
        return checked((self._dry if dry_run else self._live)([event]), self.name, self.outputs)

    def warm(self, event_id: str, value: Any, meta: Mapping[str, str]) -> list[Effect]:
        """Run the chain once, dry, on ``value`` and load the commit script: afterwards the
        functions' state (a model, decoders) is built and every script a run uses is in Redis's
        cache, so the first real event pays no first-use cost. Returns the dry run's effects."""
        effects = self.run(event_id, value, meta, dry_run=True)
        self._committer.load()
        return effects

    def commit(self, guard_key: str, effects: Sequence[Effect]) -> bool:
        """Write ``effects`` atomically unless ``guard_key`` exists: True when written."""
        return self._committer.commit(guard_key, effects)


def emitted(effects: Sequence[Effect], stream: str) -> list[Any]:
    """The values emitted to ``stream``, as the function made them (``Emit.value``)."""
    values = [e.value for e in effects if isinstance(e, Emit) and e.stream == stream]
    if any(v is None for v in values):
        raise TypeError(f"an output to {stream} carries no value (made without Event.emit(..., value))")
    return values
