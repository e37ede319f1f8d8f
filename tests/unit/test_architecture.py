"""Dependency direction between our packages (STYLE.md): checked, not hoped for."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"data", "streams", "functions", "models", "gateway", "frontend", "infra"}
SETTINGS = "infra.settings"
ERRORS = "infra.errors"

# package -> the packages (or modules) of ours it may import besides itself
ALLOWED: dict[str, set[str]] = {
    "data": {SETTINGS, ERRORS},
    "streams": {SETTINGS, ERRORS},
    "functions": {"data", ERRORS},
    "models": {"data", "functions", "streams.keys", "streams.events", SETTINGS, ERRORS},  # jobs read streams
    "gateway": {"data", "functions", "models", "streams", SETTINGS, ERRORS},
    "frontend": set(),
    "infra": OURS - {"frontend"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _allowed(name: str, rules: set[str]) -> bool:
    return any(name == rule or name.startswith(rule + ".") for rule in rules)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package: str) -> None:
    violations = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if ".web" in path.parts:
            continue
        for name in _imports(path):
            top = name.split(".")[0]
            if top in OURS and top != package and not _allowed(name, ALLOWED[package]):
                violations.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not violations, "\n".join(violations)
