"""``core.terminal``: tables that fit the terminal, progress that logs off a terminal."""

from __future__ import annotations

import io
import logging

import pytest
from click.testing import CliRunner
from rich.console import Console

from core.settings import Settings
from core.terminal import print_table, progress, table_width
from infra.cli import cli

COLUMNS = ("name", "value", "meaning")
ROWS = [("SENTINEL_STREAMS_HISTORY_STREAM_ENTRIES", "50000", "entries kept " * 12), ("short", "", "x")]


def _printed(width: int) -> list[str]:
    out = io.StringIO()
    print_table(COLUMNS, ROWS, Console(file=out, width=width))
    return out.getvalue().splitlines()


def test_a_table_that_fits_is_a_table_with_whole_cells() -> None:
    lines = _printed(table_width(COLUMNS, ROWS))
    assert lines[0].startswith("┏") and any(ROWS[0][2].strip() in line for line in lines)


def test_a_table_too_wide_is_stacked_within_the_width_and_cuts_nothing() -> None:
    lines = _printed(80)
    assert max(map(len, lines)) <= 80
    assert lines[0] == "SENTINEL_STREAMS_HISTORY_STREAM_ENTRIES"  # the whole name, as a heading
    assert "  value    50000" in lines
    assert " ".join(" ".join(lines).split()).count("entries kept") == 12  # every word, none cut
    assert "short" in lines and not any(line.strip() == "value" for line in lines)  # empty cells left out


@pytest.mark.parametrize("args", [("config",), ("fn", "list")])
def test_cli_tables_at_80_columns_show_full_names(args: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(map(len, lines)) <= 80, result.output
    if args == ("config",):
        names = {env for env, *_ in Settings().describe()}
        assert names <= set(lines)  # every variable, whole, on a line of its own
    else:
        assert {"enrich", "score", "label"} <= set(lines)
        assert "  outputs      tx.scored, alerts, tx.features" in lines


def test_progress_off_a_terminal_logs_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sentinel.progress")
    with progress("replaying", total=1000, console=Console(file=io.StringIO())) as tracker:
        for _ in range(20):
            tracker.advance(50)
        tracker.note("training lightgbm")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "replaying: started (1,000 to do)"
    assert [line.split(",")[0] for line in lines[1:10]] == [f"replaying: {n * 100} / 1" for n in range(1, 10)]
    assert lines[10].startswith("replaying: training lightgbm")
    assert lines[11].startswith("replaying: done, 1,000 in")


def test_progress_on_a_terminal_draws_a_bar_and_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sentinel.progress")
    out = io.StringIO()
    with progress("replaying", total=10, console=Console(file=out, force_terminal=True)) as tracker:
        tracker.advance(10)
    assert caplog.records == [] and "replaying" in out.getvalue()
