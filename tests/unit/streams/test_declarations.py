"""Pure pieces of the streams runtime: key names, entry layout, codecs, the table, fusion, percentiles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import pytest

from core.errors import ConfigError, PoisonMessage
from streams.events import PUBLISHED_NS, Effect, Emit, Event, HashIncr, JsonCodec, entry_fields, split_fields
from streams.function import Context, FunctionSpec, Handler, Pipeline, identity, load_pipeline, per_event
from streams.fusion import fuse, fused_outputs
from streams.keys import Keys
from streams.metrics import percentile


class Tx(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    amount: float


CODEC = JsonCodec(Tx)


def test_every_key_starts_with_the_prefix() -> None:
    keys = Keys("p:")
    names = [keys.stream("tx.raw"), keys.dead_letters, keys.function_stats("f"), keys.function_latency("f"),
             keys.function_errors("f"), keys.mirror_offsets("t"), keys.mirror_stats, keys.key("result", "1")]  # fmt: skip
    assert all(n.startswith("p:") for n in names)
    assert len(set(names)) == len(names)
    assert keys.stream_name(keys.stream("tx.raw")) == "tx.raw"
    with pytest.raises(ValueError, match="invalid stream name"):
        keys.stream("has space")


def test_entry_fields_round_trip_and_protect_the_payload_field() -> None:
    fields = entry_fields(b"{}", {PUBLISHED_NS: "12", "origin": "t/0/1"})
    payload, meta = split_fields(
        {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in fields.items()}
    )
    assert (payload, meta) == (b"{}", {PUBLISHED_NS: "12", "origin": "t/0/1"})
    with pytest.raises(ValueError, match="payload field"):
        entry_fields(b"", {"d": "x"})


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{nope", "not JSON"),
        (b'{"id": "1", "amount": 2.0}', "Expected `int`, got `str` - at `$.id`"),
        (b'{"id": 1}', "missing required field `amount`"),
        (b"[]", "Expected `object`, got `array`"),
    ],
)
def test_json_codec_turns_bad_payloads_into_poison_naming_the_field(payload: bytes, reason: str) -> None:
    with pytest.raises(PoisonMessage) as info:
        CODEC.decode(payload)
    assert reason in str(info.value)


def test_event_outputs_carry_its_metadata() -> None:
    event = Event("1-0", Tx(id=1, amount=2.0), b"{}", {PUBLISHED_NS: "99"})
    assert event.published_ns == 99
    assert event.emit("out", b"x") == Emit("out", b"x", {PUBLISHED_NS: "99"})


def _spec(name: str, source: str, outputs: tuple[str, ...]) -> FunctionSpec:
    return FunctionSpec(
        name=name, input=source, group=name, outputs=outputs, build=identity("x"), codec=CODEC
    )


def test_the_table_rejects_duplicates_and_unfusable_chains() -> None:
    with pytest.raises(ConfigError, match="duplicate"):
        Pipeline([_spec("a", "s1", ("s2",)), _spec("a", "s3", ("s4",))])
    with pytest.raises(ConfigError, match="also its input"):
        _spec("loop", "s1", ("s1",))
    table = Pipeline([_spec("a", "s1", ("s2",)), _spec("b", "s2", ("s3",)), _spec("c", "s9", ())])
    assert [s.name for s in table.chain(["a", "b"])] == ["a", "b"]
    with pytest.raises(ConfigError, match="cannot fuse"):
        table.chain(["a", "c"])
    with pytest.raises(ConfigError, match="no function"):
        table.get("zzz")


def test_load_pipeline_checks_what_it_loads() -> None:
    assert len(load_pipeline("tests.integration.streams.fns:PIPELINE")) == 6
    with pytest.raises(ConfigError, match="module:attribute"):
        load_pipeline("no_colon")
    with pytest.raises(ConfigError, match="not a streams Pipeline"):
        load_pipeline("streams.keys:Keys")


def test_per_event_checks_one_output_per_input() -> None:
    handler = per_event(lambda values: [b"x"], "out")
    with pytest.raises(ValueError, match="2 inputs gave 1 outputs"):
        handler([Event("1-0", 1, b"", {}), Event("2-0", 2, b"", {})])


def _doubling(ctx: Context) -> Handler:
    return per_event(lambda txs: [msgspec.json.encode(Tx(id=t.id, amount=t.amount * 2)) for t in txs], "mid")


def _summing(ctx: Context) -> Handler:
    def handler(batch: Sequence[Event[Any]]) -> list[Effect]:
        effects: list[Effect] = [e.emit("final", b"%d" % e.value.id) for e in batch]
        return [*effects, HashIncr("k", "sum", sum(e.value.amount for e in batch))]

    return handler


def test_fusion_passes_events_in_memory_and_keeps_other_effects() -> None:
    specs = [_spec("a", "in", ("mid", "side")), _spec("b", "mid", ("final",))]
    assert fused_outputs(specs) == ("side", "final")
    ctx: Any = None
    chained = fuse(specs, [_doubling(ctx), _summing(ctx)])
    batch = [Event(f"{i}-0", Tx(id=i, amount=1.5), b"", {PUBLISHED_NS: str(i)}) for i in range(3)]
    assert chained(batch) == [
        Emit("final", b"0", {PUBLISHED_NS: "0"}),
        Emit("final", b"1", {PUBLISHED_NS: "1"}),
        Emit("final", b"2", {PUBLISHED_NS: "2"}),
        HashIncr("k", "sum", 9.0),
    ]


class _Refusing:
    """A codec that must not be asked: the output carries its value."""

    name = "refusing"

    def decode(self, data: bytes) -> Tx:
        raise AssertionError("decoded an output that carries its value")


def test_fusion_passes_an_output_that_carries_its_value_without_decoding_it() -> None:
    down = FunctionSpec(
        name="b", input="mid", group="b", outputs=("final",), build=identity("x"), codec=_Refusing()
    )
    specs = [_spec("a", "in", ("mid",)), down]

    def valued(batch: Sequence[Event[Any]]) -> list[Effect]:
        return [e.emit("mid", msgspec.json.encode(e.value), e.value) for e in batch]

    seen: list[Any] = []

    def record(batch: Sequence[Event[Any]]) -> list[Effect]:
        seen.extend(e.value for e in batch)
        return []

    batch = [Event("1-0", Tx(id=1, amount=2.5), b"", {})]
    assert fuse(specs, [valued, record])(batch) == []
    assert seen == [Tx(id=1, amount=2.5)] and seen[0] is batch[0].value


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 50) is None
