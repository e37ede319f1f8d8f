"""`sentinel bench ablation`: model quality without a set of features, against all of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CALENDAR = {"hour", "dow", "cents"}


def test_ablation_trains_with_and_without_the_set_and_reports_the_change(
    tmp_path: Path, redis_url: str, key_prefix: str
) -> None:
    out = tmp_path / "ablation.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    env.update({"SENTINEL_REDIS_URL": redis_url, "SENTINEL_REDIS_KEY_PREFIX": key_prefix})
    drop = ["--drop", "hour,dow,cents"]
    args = ["bench", "ablation", "--rows", "4000", "--seeds", "3", *drop, "--json", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "infra.cli", *args], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    full, without = json.loads(out.read_text())["results"]
    assert full["set"] == "all features" and without["set"] == "without hour,dow,cents"
    assert without["features"] == full["features"] - len(CALENDAR)
    assert set(without["dropped_by_hygiene"]) == CALENDAR  # what hygiene did with each, when offered
    assert without["pr_auc_change"] == pytest.approx(without["pr_auc"] - full["pr_auc"], abs=1e-5)
