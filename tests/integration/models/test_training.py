"""Training on generated data replayed through the online features (real Redis).

Calibration (ECE < 0.02 on the test slice), the margin over a raw-columns-only LightGBM,
and the ``sentinel train`` command end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import redis

from core.settings import ModelSettings
from data.loader import DataFiles
from data.synthetic import generate
from functions.features import RAW_FEATURES
from models.boosters import LightGBMBooster
from models.dataset import TrainingSet, read_transactions, replay_training_set
from models.registry import Registry
from models.training import TrainingResult, train
from tests.unit.models.test_row_predictor import assert_single_rows_match_the_library

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROWS, SEED = 30_000, 7


@pytest.fixture(scope="module")
def synthetic_files(tmp_path_factory: pytest.TempPathFactory) -> DataFiles:
    summary = generate(ROWS, SEED, tmp_path_factory.mktemp("synth"))
    return DataFiles(summary.transaction_file, summary.identity_file)


@pytest.fixture(scope="module")
def training_set(synthetic_files: DataFiles, redis_url: str) -> TrainingSet:
    client = redis.Redis.from_url(redis_url)
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    data = replay_training_set(client, prefix, read_transactions(synthetic_files))
    assert not list(client.scan_iter(match=f"{prefix}*"))  # the scratch state is dropped
    client.close()
    return data


@pytest.fixture(scope="module")
def full_model(training_set: TrainingSet) -> TrainingResult:
    return train(training_set, "lightgbm", ModelSettings())


def test_training_set_comes_from_the_online_features(training_set: TrainingSet) -> None:
    assert len(training_set.labels) == ROWS
    assert list(training_set.times) == sorted(training_set.times)
    assert 0.01 < training_set.labels.mean() < 0.08
    assert "uid_cnt_24h" in training_set.names


def test_calibrated_on_the_test_slice(full_model: TrainingResult) -> None:
    assert full_model.metrics["ece"] < 0.02
    assert full_model.members[0].calibrator.method in ("isotonic", "platt")
    assert 0 < full_model.metrics["review_threshold"] <= full_model.metrics["decline_threshold"] <= 1


def test_single_row_scoring_is_lightgbms_own_predict_on_the_trained_model(
    training_set: TrainingSet, full_model: TrainingResult
) -> None:
    """The evaluator the synchronous endpoint uses, to 1e-6 of the library's predict, on every
    test-slice row of a model trained on the online features."""
    booster = full_model.members[0].booster
    assert isinstance(booster, LightGBMBooster)
    columns = [training_set.names.index(n) for n in full_model.selection.kept]
    rows = np.ascontiguousarray(training_set.matrix[full_model.split.test][:, columns])
    assert_single_rows_match_the_library(booster, rows)


def test_beats_a_raw_columns_only_lightgbm(training_set: TrainingSet, full_model: TrainingResult) -> None:
    raw = training_set.subset([name for name in training_set.names if name in RAW_FEATURES])
    baseline = train(raw, "lightgbm", ModelSettings())
    ours, theirs = full_model.metrics["pr_auc"], baseline.metrics["pr_auc"]
    assert ours > theirs + 0.15 and ours > 1.5 * theirs, (ours, theirs)


def test_train_command_registers_and_promotes_and_logs_progress_when_piped(
    synthetic_files: DataFiles, redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    """`sentinel train` as `sentinel up` runs it on first start: output to a pipe (a log file), not
    a terminal. Its long steps (replay, training) must say how far they are, as log lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    env.update(
        {
            "SENTINEL_REDIS_URL": redis_url,
            "SENTINEL_REDIS_KEY_PREFIX": key_prefix,
            "SENTINEL_MODELS_REGISTRY_DIR": str(tmp_path / "models"),
            "SENTINEL_MODELS_ROUNDS": "100",  # the wiring is under test here, not the model
            "SENTINEL_LOCAL_STATE_DIR": str(tmp_path / "state"),
        }
    )
    args = ["--transactions", str(synthetic_files.transactions), "--limit", "5000", "--promote", "--json"]
    args += ["--identity", str(synthetic_files.identity)]
    run = subprocess.run(
        [str(Path(sys.executable).parent / "sentinel"), "train", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    progress = [
        line.split(" sentinel.progress: ", 1)[1]
        for line in run.stderr.splitlines()
        if "sentinel.progress" in line
    ]
    replay = "replaying history through the online features"
    assert progress[0] == f"{replay}: started (5,000 to do)", run.stderr
    assert f"{replay}: 500 / 5,000 (10%)" in [line.rsplit(",", 1)[0] for line in progress]
    assert any(line.startswith(f"{replay}: done, 5,000 in") for line in progress)
    notes = [line.split(": ", 1)[1] for line in progress if line.startswith("training on 5,000 rows")]
    assert notes[0] == "started" and notes[-1].startswith("done")
    assert any(note.startswith("training lightgbm") for note in notes), progress
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["rows"] == 5000 and summary["promoted"] is True
    assert set(summary["metrics"]) >= {
        "roc_auc",
        "pr_auc",
        "recall_at_1pct_fpr",
        "brier",
        "ece",
        "f1_at_review",
    }
    registry = Registry(tmp_path / "models")
    assert registry.pointer()["champion"] == summary["version"]
    assert (registry.root / summary["version"] / "report" / "index.html").is_file()
