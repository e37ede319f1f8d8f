"""`sentinel bench ablation`: model quality without a set of features, against all of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FREQ = {f"freq_{c}" for c in ("card2", "card5", "R_emaildomain", "id_30", "id_31", "id_33")}


def test_ablation_trains_with_and_without_the_set_and_reports_the_change(
    tmp_path: Path, redis_url: str, key_prefix: str
) -> None:
    out = tmp_path / "ablation.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    env.update({"SENTINEL_REDIS_URL": redis_url, "SENTINEL_REDIS_KEY_PREFIX": key_prefix})
    args = ["bench", "ablation", "--rows", "4000", "--seeds", "3", "--drop", "freq_*", "--json", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "infra.cli", *args], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    full, without = json.loads(out.read_text())["results"]
    assert full["set"] == "all features" and without["set"] == "without freq_*"
    assert without["features"] == full["features"] - len(FREQ)
    assert set(without["dropped_by_hygiene"]) == FREQ  # what hygiene did with each, when offered
    assert without["pr_auc_change"] == pytest.approx(without["pr_auc"] - full["pr_auc"], abs=1e-5)
