"""``sentinel train``: composition root of training (files -> online features -> model -> registry).

Builds the training set by replaying the files through the online feature code on a scratch
key prefix of the configured Redis, or of an embedded redis-server started for the run when
``SENTINEL_REDIS_URL`` is unset.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import redis
from rich.console import Console
from rich.table import Table

from core.connect import redis_client
from core.settings import Settings, get_settings
from core.terminal import progress
from data.loader import DataFiles
from functions.features import RAW_FEATURES
from infra.services import local_redis
from models.dataset import read_transactions, replay_training_set
from models.registry import Registry
from models.training import register, train

log = logging.getLogger(__name__)
HEADLINE = (
    "roc_auc",
    "pr_auc",
    "recall_at_1pct_fpr",
    "brier",
    "ece",
    "review_threshold",
    "decline_threshold",
)


@contextmanager
def redis_for(settings: Settings) -> Iterator[redis.Redis]:
    """The configured Redis, or an embedded one (no persistence) for the duration of the block."""
    if settings.redis.url:
        client = redis_client(settings.redis.url)
        yield client
        client.close()
        return
    cfg = settings.redis.model_copy(update={"appendonly": False})
    with local_redis(cfg, settings.local.state_dir / "train-redis") as url:
        client = redis_client(url)
        yield client
        client.close()


@click.command(name="train")
@click.option(
    "--transactions",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="train_transaction.csv (Kaggle layout, with isFraud).",
)
@click.option(
    "--identity", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="train_identity.csv."
)
@click.option(
    "--algorithm",
    type=click.Choice(["lightgbm", "xgboost", "catboost", "ensemble"]),
    default=None,
    help="Default: SENTINEL_MODELS_ALGORITHM (lightgbm). ensemble = mean of the three calibrated models.",
)
@click.option(
    "--test-fraction", type=click.FloatRange(0.05, 0.45), default=None, help="Latest share held out."
)
@click.option(
    "--limit",
    type=click.IntRange(min=500),
    default=None,
    help="Use only the first N rows (TransactionDT order).",
)
@click.option("--raw-only", is_flag=True, help="Raw columns only, no history features (a baseline).")
@click.option("--tune", is_flag=True, help="Bounded Bayesian hyperparameter search first (optuna).")
@click.option("--promote", is_flag=True, help="Make the new version the champion.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on the last line.")
def train_command(
    transactions: Path,
    identity: Path | None,
    algorithm: str | None,
    test_fraction: float | None,
    limit: int | None,
    raw_only: bool,
    tune: bool,
    promote: bool,
    as_json: bool,
) -> None:
    """Train, calibrate and evaluate a model on a time split; register it (and promote it)."""
    settings = get_settings()
    changes = {"test_fraction": test_fraction} if test_fraction else {}
    cfg = settings.models.model_copy(update=changes)
    algorithm = algorithm or cfg.algorithm
    files = DataFiles(transactions, identity)
    console = Console(stderr=as_json)
    with (
        progress("replaying history through the online features", limit) as tracker,
        redis_for(settings) as client,
    ):
        data = replay_training_set(
            client,
            settings.redis.key_prefix,
            read_transactions(files, limit),
            settings.streams.batch_size,
            tracker.advance,
        )
    if raw_only:
        data = data.subset([name for name in data.names if name in RAW_FEATURES])
    with progress(f"training on {len(data.labels):,} rows") as tracker:
        result = train(data, algorithm, cfg, tune_search=tune, progress=tracker.note)
        tracker.note("writing the registry version and report")
        registry = Registry(cfg.registry_dir)
        version = register(registry, result, [p for p in (transactions, identity) if p])
    if promote:
        registry.promote(version)
    table = Table("metric", *(["ensemble", *result.member_metrics] if result.member_metrics else [algorithm]))
    for key in HEADLINE:
        table.add_row(key, *(f"{m[key]:.4f}" for m in [result.metrics, *result.member_metrics.values()]))
    console.print(table)
    console.print(
        f"version {version} ({'champion' if promote else 'not promoted'}): "
        f"{registry.root / version / 'report' / 'index.html'}"
    )
    if as_json:
        summary = {
            "version": version,
            "algorithm": algorithm,
            "promoted": promote,
            "rows": len(data.labels),
            "split": result.split.sizes(),
            "features": {"inputs": len(data.names), "kept": len(result.selection.kept)},
            "metrics": result.metrics,
            "members": result.member_metrics,
        }
        click.echo(json.dumps(summary, sort_keys=True))
