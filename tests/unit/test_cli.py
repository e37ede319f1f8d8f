"""The sentinel command: every listed subcommand resolves and has help."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from core.settings import Settings
from infra.cli import COMMANDS, cli
from infra.pipeline.table import PIPELINE

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_subcommand() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_subcommand_loads_and_explains_itself(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_unknown_subcommand_fails() -> None:
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code != 0
    assert "No such command" in result.output


def test_just_and_sentinel_describe_their_shared_commands_alike() -> None:
    justfile = (ROOT / "justfile").read_text()
    for recipe in ("down",):
        comment = justfile.split(f"\n{recipe}:")[0].rsplit("\n", 1)[1]
        assert comment == f"# {COMMANDS[recipe][1]}"
        command = cli.get_command(click.Context(cli), recipe)
        assert command is not None and (command.help or "").splitlines()[0] == COMMANDS[recipe][1]


def test_the_readme_states_the_defaults_the_settings_have() -> None:
    """Every `SENTINEL_*` row of the README's table with a literal default shows the real one."""
    defaults = {env: default for env, _, default, _ in Settings().describe()}
    rows = re.findall(r"^\| `(SENTINEL_[A-Z_]+)` \| `([^`|]*)` \|", (ROOT / "README.md").read_text(), re.M)
    assert len(rows) > 10
    assert [(env, shown) for env, shown in rows if defaults.get(env) != shown] == []
    text = (ROOT / "README.md").read_text()
    assert "SENTINEL_LOCAL_CONCURRENCY=" not in text  # an example shown as if it were the default


def test_fn_list_shows_the_stages_not_the_internal_noop() -> None:
    assert PIPELINE.get("noop").internal  # still a row of the table (benchmarks run it)
    result = CliRunner().invoke(cli, ["fn", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    names = {line.split("│")[1].strip() for line in result.output.splitlines() if line.count("│") > 2}
    assert {"enrich", "score", "label"} <= names
    assert "noop" not in names
