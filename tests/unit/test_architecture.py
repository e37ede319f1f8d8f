"""Dependency direction between our packages (STYLE.md): checked, not hoped for.

``core`` (settings, errors, terminal output) is the ground floor: it imports nothing of ours.
``infra`` is the roof: it wires everything and nothing imports it. The gateway uses the
runtime's read side, its one door for running a chain inline (``streams.inline``) and, as a
producer, the mirror's recycle hold; not its worker, commit or fusion. Between modules there is
no import cycle, not even through an import deferred into a function.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"core", "data", "streams", "functions", "models", "gateway", "frontend", "infra"}
SETTINGS = "core.settings"
ERRORS = "core.errors"
# What the gateway may use of the runtime: the read side (key names, entry layout, the table's
# declarations, group and function stats) and the one door for running a chain inline.
RUNTIME_READ_SIDE = {
    "streams.keys",
    "streams.events",
    "streams.function",
    "streams.groups",
    "streams.metrics",
}
RUNTIME_DOOR = "streams.inline"
# A producer that acknowledges to its clients honours the mirror's recycle hold (and knows what
# "Redis unreachable" looks like while it asks).
RUNTIME_PRODUCER = {"streams.hold", "streams.outage"}
TERMINAL = "core.terminal"  # tables and progress for every command line
CONNECT = "core.connect"  # the Redis client of a configured URL (one server or a cluster)

# package -> the packages (or modules) of ours it may import besides itself
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "data": {SETTINGS, ERRORS, TERMINAL, CONNECT},
    "streams": {SETTINGS, ERRORS, TERMINAL, CONNECT},
    "functions": {"data", ERRORS},
    "models": {
        "data",
        "functions",
        "streams.keys",
        "streams.events",
        SETTINGS,
        ERRORS,
        TERMINAL,
        CONNECT,
    },  # jobs read streams
    "gateway": {
        "data",
        "functions",
        "models",
        *RUNTIME_READ_SIDE,
        RUNTIME_DOOR,
        *RUNTIME_PRODUCER,
        SETTINGS,
        ERRORS,
        CONNECT,
    },
    "frontend": set(),
    "infra": OURS - {"frontend"},
}


def _sources(package: str) -> Iterator[Path]:
    for path in sorted((ROOT / package).rglob("*.py")):
        if ".web" not in path.parts:
            yield path


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # `from infra import stack` imports the module infra.stack
                submodule = f"{node.module}.{alias.name}"
                names.add(submodule if _is_module(submodule) else node.module)
    return names


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _allowed(name: str, rules: set[str]) -> bool:
    return any(name == rule or name.startswith(rule + ".") for rule in rules)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package: str) -> None:
    violations = []
    for path in _sources(package):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in OURS and top != package and not _allowed(name, ALLOWED[package]):
                violations.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not violations, "\n".join(violations)


def test_no_import_cycle_between_modules() -> None:
    modules = {_module(path): path for package in sorted(OURS) for path in _sources(package)}
    graph = {
        module: sorted(name for name in _imports(path) if name in modules and name != module)
        for module, path in modules.items()
    }
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in graph[module]:
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert not cycles, "\n".join(cycles)


def test_the_runtime_names_no_stream_of_the_pipeline() -> None:
    """``streams/`` knows no fraud: the pipeline's stream names live in ``infra/pipeline/streams.py``."""
    from infra.pipeline import streams as names

    fraud = {names.RAW, names.ENRICHED, names.SCORED, names.ALERTS, names.LABELS, names.LABELS_STORED}
    found = []
    for path in _sources("streams"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Constant) and node.value in fraud:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not found, "\n".join(found)


def test_benchmarks_live_in_one_wing() -> None:
    """Benchmark code sits in ``infra/bench/`` only, not in the product packages."""
    stray = [
        str(path.relative_to(ROOT))
        for package in sorted(OURS - {"infra"})
        for path in _sources(package)
        if "bench" in path.stem or "bench" in path.parent.name
    ]
    assert not stray, stray
