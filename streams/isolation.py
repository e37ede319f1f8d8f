"""Runtime error policy: one place decides a bad record's fate, by the kind of failure.

Decoding (:func:`decode`): the payload's bytes are the record's own; a failure to decode them
is the record's fault whatever exception type the decoder raises (``msgspec.DecodeError`` for
truncated or malformed JSON, ``ValidationError`` for a float that overflows,
``RecursionError`` for deep nesting, ``UnicodeDecodeError`` for invalid UTF-8 ...): it becomes
``PoisonMessage`` (-> dead letter with the reason), never a crash of the consumer and never a
fault of the other events of the batch. Only ``TransientError`` passes through (a codec that
depends on something outside the bytes, and says so).

Calling (:func:`call_isolated`): the function sees the whole batch first. If it raises, the
batch is retried event by event, so one bad event cannot hold back the others: ``PoisonMessage`` -> dead letter with the
reason (a function that judges one record bad without raising returns ``Reject`` for it: a dead
letter too, and the batch is not retried); Redis unreachable or ``DependencyDown`` (no model) -> raised to the worker, which
holds the batch and retries it (never the events' fault); any other exception -> that event fails (left pending: reclaimed, retried, and
dead-lettered after ``max_deliveries``). Returned effects are checked: only effects of the
vocabulary, and appends only to the streams the function declared.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.errors import DependencyDown, PoisonMessage, TransientError
from streams.commit import DeadLetter
from streams.events import Codec, Effect, Emit, Event, HashIncr, HashSet, IndexAdd, Publish, Reject
from streams.function import Handler
from streams.outage import REDIS_DOWN

log = logging.getLogger(__name__)

_NOT_THE_EVENTS: tuple[type[Exception], ...] = (*REDIS_DOWN, DependencyDown)

T = TypeVar("T")


def decode(codec: Codec[T], payload: bytes) -> T:
    """``codec.decode(payload)``; any failure of the bytes raises ``PoisonMessage`` naming it."""
    try:
        return codec.decode(payload)
    except (PoisonMessage, TransientError):
        raise
    except Exception as exc:
        raise PoisonMessage(f"undecodable {codec.name} payload: {type(exc).__name__}: {exc}") from exc


@dataclass
class Outcome:
    """What a batch produced: effects to commit, failed ids (with the error), rejected events."""

    effects: list[Effect] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    rejected: list[DeadLetter] = field(default_factory=list)


def call_isolated(handler: Handler, name: str, outputs: Sequence[str], events: list[Event[Any]]) -> Outcome:
    """Run ``handler`` on ``events``; on an error, event by event (see the module docstring)."""
    if not events:
        return Outcome()
    try:
        return _outcome(checked(handler(events), name, outputs), name)
    except _NOT_THE_EVENTS:
        raise  # an outage, not a property of these events: the worker waits and redoes the batch
    except PoisonMessage as exc:
        if len(events) == 1:
            event = events[0]
            reason = f"rejected by {name}: {exc}"
            return Outcome(
                rejected=[DeadLetter(event.id, reason, event.payload, dict(event.meta), event.deliveries)]
            )
        error: Exception = exc
    except Exception as exc:  # noqa: BLE001 - the runtime decides: a failing function must not stop the line
        if len(events) == 1:
            log.warning("function failed function=%s entry_id=%s error=%r", name, events[0].id, exc)
            return Outcome(failed={events[0].id: repr(exc)})
        error = exc
    log.info("batch failed, retrying event by event function=%s error=%r", name, error)
    outcome = Outcome()
    for event in events:
        one = call_isolated(handler, name, outputs, [event])
        outcome.effects.extend(one.effects)
        outcome.failed.update(one.failed)
        outcome.rejected.extend(one.rejected)
    return outcome


def _outcome(effects: list[Effect], name: str) -> Outcome:
    """Effects to commit, and the events the function rejected (``Reject``) as dead letters."""
    outcome = Outcome()
    for effect in effects:
        if isinstance(effect, Reject):
            event, reason = effect.event, f"rejected by {name}: {effect.reason}"
            outcome.rejected.append(
                DeadLetter(event.id, reason, event.payload, dict(event.meta), event.deliveries)
            )
        else:
            outcome.effects.append(effect)
    return outcome


def checked(effects: Sequence[Effect], name: str, outputs: Sequence[str]) -> list[Effect]:
    """``effects`` as a list, or TypeError if one is not an effect or targets an undeclared stream."""
    for effect in effects:
        if isinstance(effect, Emit):
            if effect.stream not in outputs:
                raise TypeError(f"{name} emitted to undeclared stream {effect.stream!r}")
        elif not isinstance(effect, HashSet | HashIncr | IndexAdd | Publish | Reject):
            raise TypeError(f"{name} returned {effect!r}, not an effect")
    return list(effects)
