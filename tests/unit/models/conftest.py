"""Small trained models for the registry tests (trained once per session: a few seconds)."""

from __future__ import annotations

import numpy as np
import pytest

from core.settings import ModelSettings
from models.dataset import TrainingSet
from models.training import TrainingResult, train


def synthetic_set(rows: int = 6000, seed: int = 0) -> TrainingSet:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(rows, 12)).astype(np.float32)
    matrix[rng.random(rows) < 0.3, 3] = np.nan
    logit = -3.5 + 1.5 * matrix[:, 0] + matrix[:, 1] * matrix[:, 2]
    labels = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int_)
    meta = {
        "TransactionID": np.arange(rows),
        "TransactionDT": 86_400 + np.arange(rows) * 60,
        "TransactionAmt": rng.gamma(2, 50, rows),
        "isFraud": labels,
    }
    return TrainingSet.build(matrix, [f"f{j}" for j in range(12)], meta)


@pytest.fixture(scope="session")
def small_set() -> TrainingSet:
    return synthetic_set()


@pytest.fixture(scope="session")
def trained(small_set: TrainingSet) -> dict[str, TrainingResult]:
    cfg = ModelSettings(rounds=40)
    return {name: train(small_set, name, cfg) for name in ("lightgbm", "xgboost", "catboost", "ensemble")}
