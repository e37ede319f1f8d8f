"""Command-line output: tables that fit the terminal, progress that shows off a terminal too.

- ``print_table``: a table when its cells fit the console's width whole, else one block per row
  (the first cell as a heading, then ``column  value`` lines, long values wrapped), so nothing is
  ever cut: ``sentinel config`` at 80 columns still shows every variable's full name.
- ``progress``: a bar on a terminal; elsewhere (a log file, a pipe, CI) a log line at the start,
  at every tenth of the way (or every ``interval_s`` when the total is unknown) and at the end,
  so a long step is never silent in ``.sentinel/stack.log``.
"""

from __future__ import annotations

import logging
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table

log = logging.getLogger("sentinel.progress")


def _width(cell: str) -> int:
    return max((len(line) for line in cell.splitlines()), default=0)


def table_width(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """Characters a boxed table of these cells takes with no cell wrapped or cut."""
    widths = [max([_width(name), *(_width(row[i]) for row in rows)]) for i, name in enumerate(columns)]
    return sum(widths) + 3 * len(columns) + 1  # "│ " before each cell, " " after, one closing "│"


def stacked(columns: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> list[str]:
    """One block per row: its first cell, then an indented ``column  value`` line per other cell
    (empty cells left out), values wrapped to ``width``."""
    label = max((len(c) for c in columns[1:]), default=0)
    indent = " " * (label + 4)
    lines: list[str] = []
    for row in rows:
        if lines:
            lines.append("")
        lines += textwrap.wrap(row[0], width) or [""]
        for name, cell in zip(columns[1:], row[1:], strict=True):
            if not cell:
                continue
            first = f"  {name:<{label}}  "
            for n, text in enumerate(cell.splitlines()):
                wrapped = textwrap.wrap(
                    text, width, initial_indent=first if n == 0 else indent, subsequent_indent=indent
                )
                lines += wrapped or [first.rstrip()]
    return lines


def print_table(
    columns: Sequence[str], rows: Iterable[Sequence[str]], console: Console | None = None
) -> None:
    """Print ``rows`` as a table when it fits ``console``'s width whole, else stacked (see module)."""
    console = console or Console()
    rows = [list(row) for row in rows]
    if table_width(columns, rows) <= console.width:
        table = Table(*(Column(name, no_wrap=True) for name in columns))
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    for line in stacked(columns, rows, console.width):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@dataclass
class Tracker:
    """Progress of one step; ``advance(n)`` after each piece of work, ``note(text)`` for a sub-step."""

    description: str
    total: int | None
    advance_bar: Callable[[int], None] = lambda _: None
    describe_bar: Callable[[str], None] = lambda _: None
    log_lines: bool = False
    interval_s: float = 30.0
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    _logged_at: float = field(default_factory=time.monotonic)
    _logged_tenth: int = 0

    def advance(self, n: int) -> None:
        self.done += n
        self.advance_bar(n)
        if not self.log_lines:
            return
        now = time.monotonic()
        if self.total:
            tenth = min(10, self.done * 10 // self.total)
            if tenth > self._logged_tenth and tenth < 10:
                self._logged_tenth = tenth
                self._log(now)
        elif now - self._logged_at >= self.interval_s:
            self._log(now)

    def note(self, text: str) -> None:
        self.describe_bar(f"{self.description}: {text}")
        if self.log_lines:
            log.info("%s: %s (%.0f s)", self.description, text, time.monotonic() - self.started)

    def _log(self, now: float) -> None:
        self._logged_at = now
        elapsed = now - self.started
        if self.total:
            log.info(
                "%s: %s / %s (%d%%), %.0f s",
                self.description,
                f"{self.done:,}",
                f"{self.total:,}",
                100 * self.done // self.total,
                elapsed,
            )
        else:
            log.info("%s: %s, %.0f s", self.description, f"{self.done:,}", elapsed)


@contextmanager
def progress(
    description: str, total: int | None = None, console: Console | None = None, interval_s: float = 30.0
) -> Iterator[Tracker]:
    """Track a long step: a bar on a terminal, log lines elsewhere (see the module docstring)."""
    console = console or Console(stderr=True)
    if console.is_terminal:
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        if total:
            columns.append(TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield Tracker(
                description,
                total,
                lambda n: bar.advance(task, n),
                lambda text: bar.update(task, description=text),
                interval_s=interval_s,
            )
        return
    tracker = Tracker(description, total, log_lines=True, interval_s=interval_s)
    log.info("%s: started%s", description, f" ({total:,} to do)" if total else "")
    yield tracker
    count = f", {tracker.done:,}" if tracker.done else ""
    log.info("%s: done%s in %.1f s", description, count, time.monotonic() - tracker.started)
