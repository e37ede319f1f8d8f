"""``sentinel models``: inspect the registry and move the champion / challenger pointer.

Pointer changes are written to the audit stream the gateway's ``/v1/audit`` shows (actor
``cli``), like the API's: one trail whatever made the change. They need the stack's Redis.

sentinel models list
sentinel models show [VERSION] [--json]
sentinel models promote VERSION [--challenger]
sentinel models rollback
sentinel models retire-challenger
sentinel models retrain [--reason TEXT]
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from core.settings import get_settings
from core.terminal import print_table
from models.registry import Registry, RegistryError

CLI_ACTOR = "cli"


def _registry() -> Registry:
    return Registry(get_settings().models.registry_dir)


def _fail(exc: RegistryError) -> None:
    raise click.ClickException(str(exc)) from exc


def _audit_trail() -> Callable[[str, dict[str, str]], None]:
    """Where a pointer change is recorded; checked before the change is made."""
    from models.jobs.context import JobContext

    settings = get_settings()
    if not settings.redis.url:
        raise click.ClickException(
            f"model changes are audit-logged in Redis: no Sentinel stack is running in "
            f"{settings.local.state_dir} and SENTINEL_REDIS_URL is not set"
        )
    ctx = JobContext.current()
    ctx.redis.ping()
    return lambda action, detail: ctx.audit(action, detail, actor=CLI_ACTOR)


@click.group()
def models() -> None:
    """Model registry: list versions, show one, promote, roll back."""


@models.command(name="list")
def list_versions() -> None:
    """Every registered version with its role and headline test metrics."""
    registry = _registry()
    pointer = registry.pointer()
    columns = (
        "version",
        "role",
        "algorithm",
        "PR-AUC",
        "ROC-AUC",
        "recall@1%FPR",
        "ECE",
        "review",
        "decline",
    )
    rows = []
    for version in registry.versions():
        role = {pointer["champion"]: "champion", pointer["challenger"]: "challenger"}.get(version, "")
        test = registry.read(version, "metrics.json")["test"]
        metrics = ("pr_auc", "roc_auc", "recall_at_1pct_fpr", "ece", "review_threshold", "decline_threshold")
        algorithm = registry.read(version, "manifest.json")["algorithm"]
        rows.append([version, role, algorithm, *(f"{test[name]:.4f}" for name in metrics)])
    print_table(columns, rows)
    if not registry.versions():
        click.echo(f"no models in {registry.root}: run `sentinel train`")


@models.command()
@click.argument("version", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show(version: str | None, as_json: bool) -> None:
    """Details of VERSION (default: the champion): metrics, thresholds, features, report."""
    registry = _registry()
    version = version or registry.pointer()["champion"]
    if version is None:
        raise click.ClickException("no champion yet: name a version (see `sentinel models list`)")
    try:
        features = registry.read(version, "features.json")
        details: dict[str, Any] = {
            "version": version,
            "manifest": registry.read(version, "manifest.json"),
            "thresholds": registry.read(version, "thresholds.json"),
            "metrics": registry.read(version, "metrics.json"),
            "fingerprint": registry.read(version, "fingerprint.json"),
            "features": {"inputs": len(features["input_names"]), "kept": len(features["kept"])},
            "dropped": features["dropped"],
            "report": str(registry.root / version / "report" / "index.html"),
        }
    except RegistryError as exc:
        _fail(exc)
        return
    for member in details["manifest"]["members"]:
        member["calibrator"] = {k: v for k, v in member["calibrator"].items() if k not in ("x", "y")}
    if as_json:
        click.echo(json.dumps(details, sort_keys=True))
        return
    console = Console()
    console.print_json(json.dumps({k: v for k, v in details.items() if k != "dropped"}))
    console.print(f"{len(details['dropped'])} input features dropped by hygiene (see features.json)")


@models.command()
@click.argument("version")
@click.option("--challenger", is_flag=True, help="Make it the challenger (scored in shadow) instead.")
def promote(version: str, challenger: bool) -> None:
    """Make VERSION the champion (or the challenger); running scorers pick it up."""
    audit = _audit_trail()
    role = "challenger" if challenger else "champion"
    try:
        pointer = _registry().promote(version, role)
    except RegistryError as exc:
        _fail(exc)
        return
    audit("model.promote", {"version": version, "role": role})
    click.echo(f"champion: {pointer['champion']}  challenger: {pointer['challenger']}")


@models.command()
def rollback() -> None:
    """Make the previous champion champion again."""
    audit = _audit_trail()
    registry = _registry()
    before = registry.pointer().get("champion")
    try:
        pointer = registry.rollback()
    except RegistryError as exc:
        _fail(exc)
        return
    audit("model.rollback", {"from": str(before), "to": str(pointer["champion"])})
    click.echo(f"champion: {pointer['champion']}")


@models.command(name="retire-challenger")
def retire_challenger() -> None:
    """Stop shadow-scoring the challenger."""
    registry = _registry()
    retired = registry.pointer().get("challenger")
    if retired is None:
        click.echo("there is no challenger to retire")
        return
    audit = _audit_trail()
    registry.clear_challenger()
    audit("model.retire-challenger", {"version": retired})
    click.echo(f"retired challenger {retired}; it is no longer scored in shadow")


@models.command()
@click.option("--reason", default="on demand", show_default=True, help="Recorded in the audit log.")
def retrain(reason: str) -> None:
    """Enqueue a retrain on the labels known now (an RQ worker runs it; `sentinel jobs list` shows it)."""
    from models.jobs.context import JobContext
    from models.jobs.retrain import request_retrain

    ctx = JobContext.current()
    job_id = request_retrain(ctx, f"on demand (cli): {reason}", force=True)
    ctx.audit("model.retrain", {"job": str(job_id), "reason": reason})
    click.echo(f"retrain enqueued: job {job_id} on queue {ctx.settings.jobs.queue}")
