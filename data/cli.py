"""Command line for the data side: ``sentinel data synth|check`` and ``sentinel simulate``.

Each command is a composition root: it reads the settings, builds what it needs, runs, and
prints a summary. Generated data goes to ``<state_dir>/data`` unless told otherwise.
"""

from __future__ import annotations

import itertools
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import click
import redis
from rich.console import Console
from rich.table import Table

from core.connect import redis_client
from core.settings import Settings, get_settings
from core.terminal import progress
from data.check import check_files
from data.loader import DataFileError, DataFiles, iter_json
from data.shift import Shift
from data.simulator import simulate as run_simulation
from data.synthetic import TRANSACTION_FILE, generate

log = logging.getLogger(__name__)
T = TypeVar("T")
console = Console()


def synthetic_dir(settings: Settings) -> Path:
    return settings.local.state_dir / "data"


@click.group()
def data() -> None:
    """IEEE-CIS data: generate synthetic files, validate files."""


@data.command()
@click.option(
    "--rows", type=click.IntRange(1, 20_000_000), default=200_000, show_default=True, help="Transactions."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same files.")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Output directory [default: <state_dir>/data].",
)  # fmt: skip
@click.option("--volume", type=click.Choice(["growing", "steady"]), default="growing", show_default=True,
              help="steady: the same volume and fraud rate on every day (a stream that does not move).")  # fmt: skip
def synth(rows: int, seed: int, out_dir: Path | None, volume: str) -> None:
    """Write synthetic train_transaction.csv and train_identity.csv (Kaggle layout, planted fraud)."""
    out_dir = out_dir or synthetic_dir(get_settings())
    with progress("generating synthetic data", rows) as tracker:
        summary = generate(rows, seed, out_dir, tracker.advance, steady=volume == "steady")
    console.print(
        f"wrote {summary.rows:,} transactions ({summary.fraud_rows:,} fraud, {summary.fraud_rate:.2%}) "
        f"and {summary.identity_rows:,} identity rows to {out_dir}"
    )
    table = Table("mechanism", "rows")
    for name, count in summary.by_mechanism.items():
        table.add_row(name, f"{count:,}")
    console.print(table)


@data.command()
@click.option("--transactions", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--identity", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
def check(transactions: Path, identity: Path | None) -> None:
    """Validate every row; print counts of valid rows and of each problem. Exit 1 if any is invalid."""
    try:
        with progress("checking rows") as tracker:
            report = check_files(DataFiles(transactions, identity), tracker.advance)
    except DataFileError as error:
        console.print(f"[red]error:[/red] {error}")
        raise SystemExit(1) from error
    console.print(f"rows: {report.rows:,}  valid: {report.valid:,}  invalid: {report.invalid:,}")
    if report.ignored_columns:
        console.print(f"ignored unknown columns: {', '.join(report.ignored_columns)}")
    if report.orphan_identity_rows:
        console.print(f"identity rows without a transaction: {report.orphan_identity_rows:,}")
    if report.problems:
        table = Table("problem", "rows", "examples")
        for kind, count in report.problems.most_common():
            table.add_row(kind, f"{count:,}", "\n".join(report.examples[kind]))
        console.print(table)
    if not report.ok:
        raise SystemExit(1)


def _parsed(option: str, parse: Callable[[str], T], text: str | None) -> T | None:
    """An option's text parsed, or a usage error naming the option and what is wrong."""
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc


def _rows(files: DataFiles, limit: int | None, skip: int = 0) -> Iterator[bytes]:
    chunks = iter_json(files, chunk_rows=min(limit or 20_000, 20_000))
    rows = itertools.chain.from_iterable(chunks)
    return itertools.islice(rows, skip, None if limit is None else skip + limit)


def _hold(client: redis.Redis, key: str) -> Callable[[], bool]:
    """Whether the mirror holds producers (``key`` exists). While Redis is unreachable the answer is
    unknown, and the mirror might be deleting the topics: hold, and say so once."""
    unreachable = False

    def held() -> bool:
        nonlocal unreachable
        try:
            answer = bool(client.exists(key))
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if not unreachable:
                log.warning("redis unreachable (%s): holding until it answers", exc)
            unreachable = True
            return True
        if unreachable:
            log.info("redis back: the hold is %s", "on" if answer else "off")
            unreachable = False
        return answer

    return held


@click.command()
@click.option("--transactions", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Transaction CSV [default: synthetic data, generated first if absent].")  # fmt: skip
@click.option("--identity", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=500.0, show_default=True,
              help="Transactions per second.")  # fmt: skip
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after this many transactions.")
@click.option("--skip", type=click.IntRange(min=0), default=0, show_default=True,
              help="Start after this many rows (in TransactionDT order), e.g. the period a model learnt.")  # fmt: skip
@click.option("--speedup", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="Event time runs this much faster than wall time (scales the label delay).")  # fmt: skip
@click.option("--label-delay", "label_delay", type=click.FloatRange(min=0), default=3_600.0, show_default=True,
              help="Seconds of event time before a transaction's label is published.")  # fmt: skip
@click.option("--synthetic-rows", type=click.IntRange(1, 20_000_000), default=200_000, show_default=True,
              help="Rows to generate when there is no data.")  # fmt: skip
@click.option("--hold-key", default=None,
              help="Redis key (at SENTINEL_REDIS_URL): while it exists, publishing pauses. The mirror sets "
                   "it while it empties a broker without retention (the local stack passes it).")  # fmt: skip
@click.option("--shift-at", type=click.IntRange(min=0), default=None,
              help="TransactionDT from which the what-if options below apply (default: none apply).")  # fmt: skip
@click.option("--thin-product", default=None, metavar="PRODUCT:SHARE",
              help="Covariate shift (pure): drop SHARE of product PRODUCT's transactions, e.g. W:0.5.")  # fmt: skip
@click.option("--amount-factor", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Covariate shift: multiply amounts by this.")  # fmt: skip
@click.option("--product-mix", default=None, metavar="FROM:TO:SHARE",
              help="Covariate shift: sell SHARE of product FROM as product TO, e.g. W:C:0.5.")  # fmt: skip
@click.option("--fraud-cards", default=None, metavar="LOW:HIGH",
              help="New fraud pattern: card1 in [LOW, HIGH) turns fraudulent (--fraud-share of them).")  # fmt: skip
@click.option("--fraud-share", type=click.FloatRange(0, 1), default=0.8, show_default=True)
def simulate(
    transactions: Path | None,
    identity: Path | None,
    rate: float,
    limit: int | None,
    skip: int,
    speedup: float,
    label_delay: float,
    synthetic_rows: int,
    hold_key: str | None,
    shift_at: int | None,
    thin_product: str | None,
    amount_factor: float,
    product_mix: str | None,
    fraud_cards: str | None,
    fraud_share: float,
) -> None:
    """Replay transactions into the broker at a steady rate, and their labels after a delay.

    From --shift-at on, it can inject a covariate shift (--thin-product keeps what each
    transaction means; --amount-factor and --product-mix change what the model reads) or a new
    fraud pattern (--fraud-cards), to watch drift checks, retraining and promotion react.
    """
    settings = get_settings()
    shift = None
    if shift_at is not None:
        mix = _parsed("--product-mix", Shift.parse_mix, product_mix)
        thin = _parsed("--thin-product", Shift.parse_thin, thin_product)
        cards = _parsed("--fraud-cards", Shift.parse_cards, fraud_cards)
        shift = Shift(shift_at, amount_factor, mix, cards, fraud_share, thin)
    elif amount_factor != 1.0 or product_mix or fraud_cards or thin_product:
        raise click.UsageError(
            "--thin-product, --amount-factor, --product-mix and --fraud-cards need --shift-at"
        )
    if identity is not None and transactions is None:
        raise click.UsageError("--identity needs --transactions")
    hold = None
    if hold_key:
        if not settings.redis.url:
            raise click.UsageError("--hold-key needs SENTINEL_REDIS_URL")
        hold = _hold(redis_client(settings.redis.url), hold_key)
    if transactions is None:
        directory = synthetic_dir(settings)
        if not (directory / TRANSACTION_FILE).is_file():
            with progress("generating synthetic data", synthetic_rows) as tracker:
                generate(synthetic_rows, 0, directory, tracker.advance)
        files = DataFiles.in_dir(directory)
    else:
        files = DataFiles(transactions, identity)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with progress(f"publishing at {rate:g}/s", limit) as tracker:
            summary = run_simulation(
                settings, _rows(files, limit, skip), rate, limit=limit, speedup=speedup, label_delay_s=label_delay,
                progress=tracker.advance, stop=stop, hold=hold, shift=shift,
            )  # fmt: skip
    finally:
        signal.signal(signal.SIGTERM, previous)
    table = Table("", "value")
    table.add_row("transactions sent", f"{summary.sent:,}")
    table.add_row("labels sent", f"{summary.labels_sent:,}")
    table.add_row("labels not yet due (stopped)", f"{summary.labels_pending:,}")
    table.add_row("requested rate", f"{summary.requested_rate:,.1f}/s")
    table.add_row("achieved rate", f"{summary.achieved_rate:,.1f}/s")
    table.add_row("max lag behind schedule", f"{summary.max_lag_s * 1000:,.1f} ms")
    table.add_row("held for the mirror", f"{summary.held_s:,.1f} s")
    table.add_row("invalid rows (not sent)", f"{summary.invalid:,}")
    if summary.thinned:
        table.add_row("thinned by --thin-product (not sent)", f"{summary.thinned:,}")
    table.add_row("delivery errors", f"{summary.delivery_errors:,}")
    table.add_row("unacknowledged at exit", f"{summary.unflushed:,}")
    console.print(table)
    for example in summary.examples:
        console.print(f"  {example}")
    if summary.interrupted:
        console.print("stopped early; everything produced was flushed")
    if summary.errors:
        raise SystemExit(1)
