"""Composition: the pipeline table, input stream -> group -> function -> outputs, in one place.

``sentinel fn list`` shows this table and ``sentinel fn run NAME`` runs a row of it (the
runtime loads it from ``settings.streams.pipeline``). Stream names are logical; the runtime
prefixes them (``streams.keys``). The mirror feeds ``tx.raw`` and ``labels``.

    input          group   function  outputs
    bench.in       noop    noop      bench.out     (copies entries; benchmarks and smoke tests)
"""

from __future__ import annotations

from streams.function import FunctionSpec, Pipeline, identity

PIPELINE = Pipeline(
    [
        FunctionSpec(
            name="noop",
            input="bench.in",
            group="noop",
            outputs=("bench.out",),
            build=identity("bench.out"),
            description="Copies each entry unchanged (benchmarks, smoke tests).",
        ),
    ]
)
