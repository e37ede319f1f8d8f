"""Runtime vocabulary: the stream entry layout, decoded events, and the effects a function returns.

Entry layout (every stream the runtime reads or writes)::

    d              payload bytes (the encoded event; JSON for the pipeline's msgspec Structs)
    published_ns   ASCII digits, time.time_ns() when the event was published to the broker
                   (a broker header set by the simulator; the mirror copies it)
    origin         where the entry came from, e.g. "transactions/2/1187" (topic/partition/offset)
    <other>        any further metadata field, ASCII

Every field except ``d`` is *metadata*. Metadata travels with the event: an output made
with ``event.emit(stream, payload)`` (or by :func:`streams.function.per_event`) carries
the input's metadata unchanged, so ``published_ns`` reaches the last stream and the
end-to-end latency publish -> scored can be measured downstream.

A function returns a list of :data:`Effect`: appends to its declared output streams
(:class:`Emit`) and a few generic Redis side effects (:class:`HashSet` with a TTL,
:class:`HashIncr`, :class:`IndexAdd`, :class:`Publish`). The runtime commits all of them together with the
XACK of the inputs in one atomic step, and only if this consumer still owns the inputs.
Keys of side effects are full keys (build them from ``ctx.keys``); streams are logical names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from core.errors import PoisonMessage

PAYLOAD = "d"
PUBLISHED_NS = "published_ns"
ORIGIN = "origin"

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class Emit:
    """Append ``payload`` with ``meta`` to the logical output stream ``stream``.

    ``value``, when given, is the object ``payload`` encodes: a caller of the one-off door
    (``streams.inline``) reads the output from it instead of decoding what was just encoded.
    It is never written.
    """

    stream: str
    payload: bytes
    meta: Mapping[str, str] = field(default_factory=dict)
    value: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class HashSet:
    """HSET ``key`` ``mapping``, then EXPIRE ``key`` ``ttl_s`` (0: no expiry)."""

    key: str
    mapping: Mapping[str, str | bytes | int | float]
    ttl_s: int = 0


@dataclass(frozen=True)
class HashIncr:
    """HINCRBYFLOAT ``key`` ``field`` ``amount`` (integers stay integers), then EXPIRE if ``ttl_s``."""

    key: str
    field: str
    amount: int | float = 1
    ttl_s: int = 0


@dataclass(frozen=True)
class IndexAdd:
    """ZADD ``key`` ``score`` ``member``, keep only the ``keep`` highest-scored members, then EXPIRE if
    ``ttl_s``: a bounded, expiring index (e.g. the newest transactions of one card)."""

    key: str
    member: str | int
    score: float
    keep: int
    ttl_s: int = 0


@dataclass(frozen=True)
class Publish:
    """PUBLISH ``message`` on the pub/sub ``channel`` (a full name, built from ``ctx.keys``)."""

    channel: str
    message: str | bytes


@dataclass(frozen=True)
class Event(Generic[T]):
    """One decoded stream entry: its id, typed value, raw payload and metadata."""

    id: str
    value: T
    payload: bytes
    meta: Mapping[str, str]
    deliveries: int = 1

    @property
    def published_ns(self) -> int | None:
        raw = self.meta.get(PUBLISHED_NS)
        return int(raw) if raw and raw.isdigit() else None

    def emit(self, stream: str, payload: bytes, value: Any = None) -> Emit:
        """An output to ``stream`` that carries this event's metadata (``value``: what ``payload`` encodes)."""
        return Emit(stream, payload, dict(self.meta), value)


@dataclass(frozen=True)
class Reject:
    """Dead-letter ``event`` with ``reason``: the function judged one record bad (e.g. a reused id)
    without failing the batch; the runtime (``streams.isolation``) writes the dead letter instead
    of effects. Only for an event of the batch the function was given."""

    event: Event[Any]
    reason: str


Effect = Emit | HashSet | HashIncr | IndexAdd | Publish | Reject


class Codec(Protocol[T_co]):
    """Turns payload bytes into a typed event; raises PoisonMessage when it cannot.

    Whatever else it raises is treated the same way (:func:`streams.isolation.decode`): a
    failure to decode the bytes is the record's fault, except ``TransientError``.
    """

    name: str

    def decode(self, data: bytes) -> T_co: ...


class BytesCodec:
    """The payload as it is (no validation)."""

    name = "bytes"

    def decode(self, data: bytes) -> bytes:
        return data


class JsonCodec(Generic[T]):
    """JSON into a msgspec type, validated at decode; errors become PoisonMessage naming the field."""

    def __init__(self, type_: type[T]) -> None:
        self.type = type_
        self.name = f"json:{getattr(type_, '__name__', str(type_))}"
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(type_)

    def decode(self, data: bytes) -> T:
        try:
            return self._decoder.decode(data)
        except msgspec.ValidationError as exc:
            raise PoisonMessage(f"invalid {self.name}: {exc}") from exc
        except msgspec.DecodeError as exc:
            raise PoisonMessage(f"not JSON: {exc}") from exc


def split_fields(fields: Mapping[bytes, bytes]) -> tuple[bytes | None, dict[str, str]]:
    """(payload, metadata) of a raw stream entry; metadata decoded as text."""
    payload: bytes | None = None
    meta: dict[str, str] = {}
    for name, value in fields.items():
        key = name.decode(errors="replace")
        if key == PAYLOAD:
            payload = value
        else:
            meta[key] = value.decode(errors="replace")
    return payload, meta


def entry_fields(payload: bytes, meta: Mapping[str, str]) -> dict[str, Any]:
    """The stream fields of one entry (inverse of :func:`split_fields`)."""
    if PAYLOAD in meta:
        raise ValueError(f"metadata may not use the payload field name {PAYLOAD!r}")
    return {PAYLOAD: payload, **meta}


def text(value: bytes | str) -> str:
    """A Redis reply (an entry id, a status, a name) as text, whether the client decodes or not."""
    return value.decode() if isinstance(value, bytes) else value
