"""Inference benchmark: ``sentinel bench inference --json FILE``.

Microseconds per transaction for each algorithm (LightGBM, XGBoost, CatBoost and their
ensemble), at batch 1 and 500, with the online features excluded (matrix -> calibrated
probability) and included (Transaction -> Redis feature state -> matrix -> probability),
plus the cost of explanations (paid only for review / decline): the served reasons (path
attribution, ``excluded+reasons``) and, for comparison, exact TreeSHAP (``excluded+shap``).
Models: the newest registered version of each algorithm (or that member of the newest
ensemble); algorithms still missing are trained on the benchmark's own rows into a scratch
registry. Inference runs on one thread per model, as served.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np
import redis
from rich.console import Console
from rich.table import Table

from core.connect import redis_client
from core.settings import Settings
from data.schema import Transaction
from functions.engine import FeatureEngine
from functions.keys import FeatureKeys, scratch_prefix
from functions.replay import drop_state
from functions.velocity import FeatureTtl, RedisFeatureState
from infra.bench import report
from models.dataset import TrainingSet, replay_training_set
from models.loaded import LoadedModel
from models.registry import Registry
from models.training import register, train

ALGORITHMS = ("lightgbm", "xgboost", "catboost", "ensemble")
BATCHES = (1, 500)


def _per_call_us(run: Callable[[int], object], calls: int) -> list[float]:
    timings = []
    for i in range(calls):
        start = time.perf_counter_ns()
        run(i)
        timings.append((time.perf_counter_ns() - start) / 1000)
    return timings


def _summary(algorithm: str, batch: int, features: str, timings: list[float]) -> dict[str, Any]:
    ordered = np.sort(np.asarray(timings))
    return {
        "algorithm": algorithm,
        "batch": batch,
        "features": features,
        "calls": len(timings),
        "us_per_tx": float(ordered.sum() / (len(ordered) * batch)),
        "p50_us_per_call": float(np.percentile(ordered, 50)),
        "p99_us_per_call": float(np.percentile(ordered, 99)),
    }


def models_for(registry: Registry, data: TrainingSet, settings: Settings) -> dict[str, LoadedModel]:
    """The newest version of each algorithm in ``registry``; the missing ones trained on ``data``."""
    newest: dict[str, str] = {}
    for version in registry.versions():
        algorithm = registry.read(version, "manifest.json")["algorithm"]
        newest[algorithm] = version  # versions sort by time
    scratch = Registry(Path(tempfile.mkdtemp(prefix="sentinel-bench-models-")))
    out = {}
    ensemble = registry.load(newest["ensemble"]) if "ensemble" in newest else None
    for algorithm in ALGORITHMS:
        if algorithm in newest:
            out[algorithm] = registry.load(newest[algorithm])
        elif ensemble is not None:  # a member of the ensemble is that algorithm's model
            member = next(m for m in ensemble.members if m.booster.algorithm == algorithm)
            out[algorithm] = LoadedModel(
                f"{ensemble.version}#{algorithm}",
                ensemble.feature_names,
                ensemble.kept,
                [member],
                ensemble.thresholds,
            )
        else:
            version = register(scratch, train(data, algorithm, settings.models), [])
            out[algorithm] = scratch.load(version)
    return out


def _time_model(algorithm: str, model: LoadedModel, matrix: np.ndarray, batch: int) -> list[dict[str, Any]]:
    calls = 300 if batch == 1 else 20
    rows = [matrix[(i * batch) % (len(matrix) - batch) :][:batch] for i in range(calls)]
    predict = _per_call_us(lambda i: model.predict_proba(rows[i]), calls)
    explain = _per_call_us(lambda i: model.reasons(rows[i], 5), min(calls, 50))
    shap = _per_call_us(lambda i: model.contributions(rows[i]), min(calls, 50) if batch == 1 else 5)
    return [
        _summary(algorithm, batch, "excluded", predict),
        _summary(algorithm, batch, "excluded+reasons", explain),
        _summary(algorithm, batch, "excluded+shap", shap),
    ]


def _time_with_features(
    algorithm: str,
    model: LoadedModel,
    transactions: Sequence[Transaction],
    batch: int,
    client: redis.Redis,
    key_prefix: str,
) -> dict[str, Any]:
    """Transaction -> online features (Redis) -> probability; fresh state, distinct rows per call."""
    prefix = scratch_prefix(key_prefix, "bench")
    engine = FeatureEngine(RedisFeatureState(client, FeatureKeys(prefix), FeatureTtl()))
    calls = min(300 if batch == 1 else 20, len(transactions) // batch)
    chunks = [list(transactions[i * batch : (i + 1) * batch]) for i in range(calls)]
    try:
        timings = _per_call_us(
            lambda i: model.predict_proba(engine.compute(chunks[i]).astype(np.float32)), calls
        )
    finally:
        drop_state(client, prefix)
    return _summary(algorithm, batch, "included", timings)


def measure(
    models: dict[str, LoadedModel],
    matrix: np.ndarray,
    transactions: Sequence[Transaction],
    client: redis.Redis,
    key_prefix: str,
    progress: Callable[[], None] = lambda: None,
) -> list[dict[str, Any]]:
    """Timings per algorithm x batch x features excluded / included, and explanation cost."""
    results = []
    for algorithm, model in models.items():
        model.predict_proba(matrix[:500])  # warm-up: first calls allocate
        for batch in BATCHES:
            results += _time_model(algorithm, model, matrix, batch)
            results.append(_time_with_features(algorithm, model, transactions, batch, client, key_prefix))
            progress()
    return results


def run(
    settings: Settings, data_transactions: Sequence[Transaction], json_path: Path | None
) -> list[dict[str, Any]]:
    client = redis_client(settings.redis.url or "")
    console = Console()
    with console.status("replaying the benchmark rows through the online features"):
        data = replay_training_set(client, settings.redis.key_prefix, data_transactions)
    with console.status("loading / training the models"):
        models = models_for(Registry(settings.models.registry_dir), data, settings)
    with console.status("timing"):
        results = measure(models, data.matrix, data_transactions, client, settings.redis.key_prefix)
    table = Table("algorithm", "batch", "features", "µs/tx", "p50 µs/call", "p99 µs/call", title="inference")
    for r in results:
        table.add_row(
            r["algorithm"], str(r["batch"]), r["features"], f"{r['us_per_tx']:.1f}",
            f"{r['p50_us_per_call']:.0f}", f"{r['p99_us_per_call']:.0f}",
        )  # fmt: skip
    console.print(table)
    report.write(
        json_path,
        "inference",
        {
            "models": {name: model.version for name, model in models.items()},
            "rows": len(data_transactions),
            "results": results,
        },
    )
    return results


@click.command()
@click.option(
    "--json", "json_path", type=click.Path(path_type=Path), default=None, help="Write results here."
)
@click.option(
    "--transactions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Rows to replay (default: synthetic rows generated for the run).",
)
@click.option("--identity", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--rows", default=20_000, show_default=True, help="Rows replayed (and trained on if needed).")
@click.pass_context
def inference(
    ctx: click.Context, json_path: Path | None, transactions: Path | None, identity: Path | None, rows: int
) -> None:
    """µs per transaction per algorithm: batch 1 and 500, features excluded and included."""
    from core.settings import get_settings
    from data.loader import DataFiles
    from data.synthetic import generate
    from models.dataset import read_transactions

    settings = ctx.obj() if callable(ctx.obj) else get_settings()
    with tempfile.TemporaryDirectory(prefix="sentinel-bench-data-") as scratch:
        if transactions is None:
            summary = generate(rows, 1, Path(scratch))
            transactions, identity = summary.transaction_file, summary.identity_file
        data = list(read_transactions(DataFiles(transactions, identity), rows))
    run(settings, data, json_path)
