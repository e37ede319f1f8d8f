"""Runtime operator chaining: consecutive functions of the table run as one handler.

``fuse([enrich, score], handlers)`` is a handler that calls ``enrich``, decodes the outputs it
emits to ``score``'s input stream with ``score``'s codec, calls ``score`` on them, and returns
every other effect of both. An output that carries the object its payload encodes
(``Emit.value``) is passed on as that object, not decoded again: the function that encoded it
vouches that the codec would give it back (the enrich stage's ``TxEnriched``: a 2.2 kB vector in
base64 JSON was decoded per event for nothing). The intermediate stream is never written; all other outputs
are the same as in separate consumers (metadata included), and they are committed with the
XACK of the first function's inputs. A payload the second codec rejects makes the whole
event poison (dead-lettered from the first function's input, with the reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streams.events import Effect, Emit, Event
from streams.function import FunctionSpec, Handler
from streams.isolation import decode


def fused_outputs(specs: Sequence[FunctionSpec]) -> tuple[str, ...]:
    """The streams a fused chain writes: every output except the ones consumed inside the chain."""
    inner = {spec.input for spec in specs[1:]}
    outputs: list[str] = []
    for spec in specs:
        outputs.extend(s for s in spec.outputs if s not in inner and s not in outputs)
    return tuple(outputs)


def fuse(specs: Sequence[FunctionSpec], handlers: Sequence[Handler]) -> Handler:
    """One handler running ``handlers`` in a chain, passing events in memory."""
    if len(specs) != len(handlers) or not specs:
        raise ValueError("fuse needs one handler per spec")
    if len(handlers) == 1:
        return handlers[0]

    def chained(batch: Sequence[Event[Any]]) -> list[Effect]:
        effects: list[Effect] = []
        events: Sequence[Event[Any]] = batch
        for position, handler in enumerate(handlers):
            produced = handler(events)
            if position == len(handlers) - 1:
                effects.extend(produced)
                break
            downstream = specs[position + 1]
            passed: list[Event[Any]] = []
            for effect in produced:
                if isinstance(effect, Emit) and effect.stream == downstream.input:
                    value = effect.value
                    if value is None:
                        value = decode(downstream.codec, effect.payload)
                    passed.append(Event(f"fused-{len(passed)}", value, effect.payload, dict(effect.meta)))
                else:
                    effects.append(effect)
            events = passed
        return effects

    return chained
