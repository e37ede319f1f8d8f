"""Feature ablation: ``sentinel bench ablation --rows 200000 --seeds 1,2 --drop 'device_*' --json FILE``.

Per seed: generate ``--rows`` synthetic transactions, replay them once through the online
feature code (scratch prefix, dropped after), train the configured algorithm on every feature,
then once per ``--drop`` pattern (``fnmatch``; comma-separated patterns form one set) without
the features it matches. Reported per set: PR-AUC and recall at 1% FPR on the test slice and
their change against all features, and for the dropped features what training's hygiene did
with them when they were offered (``already dropped by hygiene: ...``): a set that hygiene
always drops changes no model.
"""

from __future__ import annotations

import fnmatch
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click
import redis

from core.connect import redis_client
from core.settings import get_settings
from data.loader import DataFiles
from data.synthetic import generate
from infra.bench import report
from infra.services import local_redis
from models.dataset import TrainingSet, read_transactions, replay_training_set
from models.training import train

METRICS = ("pr_auc", "recall_at_1pct_fpr")


def _matching(names: tuple[str, ...], patterns: str) -> list[str]:
    wanted = [p.strip() for p in patterns.split(",") if p.strip()]
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in wanted)]


def _seed_rows(
    seed: int, rows: int, drops: list[str], client: redis.Redis, prefix: str
) -> list[dict[str, Any]]:
    models = get_settings().models
    with tempfile.TemporaryDirectory(prefix="sentinel-ablation-") as tmp:
        summary = generate(rows, seed, Path(tmp))
        files = DataFiles(summary.transaction_file, summary.identity_file)
        data: TrainingSet = replay_training_set(client, prefix, read_transactions(files))
    full = train(data, models.algorithm, models)
    base = {m: full.metrics[m] for m in METRICS}
    out = [{"seed": seed, "set": "all features", "features": len(data.names), **base}]
    for patterns in drops:
        gone = _matching(data.names, patterns)
        reasons = {n: full.selection.dropped.get(n, "kept") for n in gone}
        result = train(data.subset([n for n in data.names if n not in gone]), models.algorithm, models)
        row: dict[str, Any] = {
            "seed": seed,
            "set": f"without {patterns}",
            "features": len(data.names) - len(gone),
        }
        for m in METRICS:
            row[m] = result.metrics[m]
            row[f"{m}_change"] = round(result.metrics[m] - base[m], 5)
        row["kept_by_hygiene_when_offered"] = sorted(n for n, r in reasons.items() if r == "kept")
        row["dropped_by_hygiene"] = reasons
        out.append(row)
    return out


def _seed_list(_ctx: click.Context, _param: click.Parameter, value: str) -> list[int]:
    seeds = [part.strip() for part in value.split(",") if part.strip()]
    if not seeds or not all(part.isdigit() and int(part) < 2**32 for part in seeds):
        raise click.BadParameter(f"{value!r} is not a comma-separated list of seeds (0 to 2^32-1)")
    return [int(part) for part in seeds]


@click.command()
@click.option(
    "--json", "json_path", type=click.Path(path_type=Path), default=None, help="Write results here."
)
@click.option(
    "--rows",
    type=click.IntRange(1_000),
    default=200_000,
    show_default=True,
    help="Synthetic transactions per seed.",
)
@click.option(
    "--seeds",
    default="1,2",
    show_default=True,
    callback=_seed_list,
    help="Generator seeds (comma-separated).",
)
@click.option(
    "--drop", "drops", multiple=True, required=True, help="Feature name patterns of one set (repeat)."
)
def ablation(json_path: Path | None, rows: int, seeds: list[int], drops: tuple[str, ...]) -> None:
    """Model quality (PR-AUC, recall at 1% FPR) without sets of features, against all of them."""
    settings = get_settings()
    results: list[dict[str, Any]] = []
    with ExitStack() as stack:  # Redis only (the replay's scratch state): no broker needed
        url = settings.redis.url or stack.enter_context(
            local_redis(settings.redis, settings.local.state_dir / "redis")
        )
        client = redis_client(url)
        for seed in seeds:
            results += _seed_rows(seed, rows, list(drops), client, settings.redis.key_prefix)
        client.close()
    columns = [
        "seed",
        "set",
        "features",
        *METRICS,
        *(f"{m}_change" for m in METRICS),
        "kept_by_hygiene_when_offered",
    ]
    report.print_rows(
        f"feature ablation ({rows} rows per seed, {settings.models.algorithm})", columns, results
    )
    report.write(
        json_path,
        "ablation",
        {"parameters": {"rows": rows, "seeds": seeds, "drops": drops}, "results": results},
    )
