"""The ``sentinel`` command: one entry point, one subcommand per job.

Subcommands live next to the code they drive and are imported only when run, so
``sentinel --help`` stays fast and a command never pays for another's imports.
Add one by adding a row to ``COMMANDS``.

Errors end a command as one line on stderr and exit status 1 (``one_line_errors``); the
traceback is logged at debug level (`sentinel -vv ...`).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import click
import redis
from confluent_kafka import KafkaException
from pydantic import ValidationError

from core.errors import SentinelError
from core.settings import get_settings

log = logging.getLogger(__name__)

# name -> (module:attribute of a click command, one-line help shown by `sentinel --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "config": ("infra.cli:config", "Show the effective configuration (secrets masked)."),
    "services": ("infra.commands:services", "Run Redis and the local broker in the foreground."),
    "data": ("data.cli:data", "IEEE-CIS data: generate synthetic files (synth), validate files (check)."),
    "simulate": (
        "data.cli:simulate",
        "Replay transactions into the broker at a set rate, labels after a delay.",
    ),
    "fn": ("streams.cli:fn", "List and run the pipeline's functions (consumer groups on Redis Streams)."),
    "dlq": ("streams.cli:dlq", "Inspect and replay dead letters."),
    "mirror": ("streams.cli:mirror", "Copy the broker topics into Redis streams, exactly once."),
    "gateway": ("gateway.cli:gateway", "Serve the HTTP API (scoring, investigation, operations) on granian."),
    "train": (
        "infra.train:train_command",
        "Train, calibrate, evaluate and register a fraud model.",
    ),
    "models": ("models.cli:models", "Model registry: list, show, promote, rollback."),
    "jobs": ("models.jobs.cli:jobs", "Model lifecycle jobs (RQ): list, run one now, install the schedule."),
    "drift": (
        "models.jobs.cli:drift",
        "Drift reports: PSI per input and score, estimated vs realised metrics.",
    ),
    "bench": ("infra.bench.cli:bench", "Run a benchmark; print a table and write JSON."),
    "up": ("infra.commands:up", "Run the whole local stack (what `just up` does)."),
    "down": (
        "infra.commands:down",
        "Stop the local stack started by `sentinel up` (in this state directory).",
    ),
    "prepare": ("infra.commands:prepare", "Create topics, data and a first model if missing."),
    "dashboard": ("infra.commands:dashboard", "Serve the analyst dashboard (builds it on first start)."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands come from a table and are imported on first use.

    ``table``: name -> ("module:attribute" of a click command, one-line help).
    """

    def __init__(
        self, *args: Any, table: dict[str, tuple[str, str]], section: str = "Commands", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.table = table
        self.section = section

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.table)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.table:
            return None
        module_name, attr = self.table[cmd_name][0].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}:{attr} is not a click command")
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (SentinelError, redis.RedisError, KafkaException, OSError, ValidationError) as exc:
            log.debug("command failed", exc_info=True)
            raise click.ClickException(one_line(exc)) from exc

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help texts come from the table so listing commands imports none of them.
        with formatter.section(self.section):
            formatter.write_dl([(name, self.table[name][1]) for name in sorted(self.table)])


def one_line(exc: BaseException) -> str:
    """An exception as one readable line: what failed, in the words of the failing layer."""
    if isinstance(exc, redis.ConnectionError):
        return f"cannot reach Redis: {exc}".replace("\n", " ")
    if isinstance(exc, redis.RedisError):
        return f"Redis refused the command: {exc}".replace("\n", " ")
    if isinstance(exc, ValidationError):  # a setting's value (environment or TOML file)
        return "; ".join(f"invalid setting {_env_name(e['loc'])}: {e['msg']}" for e in exc.errors())
    if isinstance(exc, KafkaException):
        return f"broker error: {exc.args[0] if exc.args else exc}"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _env_name(loc: tuple[int | str, ...]) -> str:
    """``("streams", "batch_size")`` -> ``SENTINEL_STREAMS_BATCH_SIZE``."""
    return "SENTINEL_" + "_".join(str(part) for part in loc[:2]).upper()


@click.group(cls=LazyGroup, table=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="sentinel")
def cli(verbose: int) -> None:
    """Sentinel: real-time fraud detection on Redis Streams.

    Configuration comes from SENTINEL_* environment variables and an optional TOML
    file named by SENTINEL_CONFIG; `sentinel config` shows every setting.
    """
    level = logging.WARNING - 10 * min(verbose + 1, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@click.command()
def config() -> None:
    """Print every setting: environment variable, current value, default, meaning.

    A table when the terminal is wide enough, else one block per setting (nothing cut)."""
    from core.terminal import print_table

    print_table(("variable", "value", "default", "meaning"), get_settings().describe())


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
