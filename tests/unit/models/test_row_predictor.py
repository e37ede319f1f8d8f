"""LightGBM's single-row path (``LGBM_BoosterPredictForMatSingleRowFast``) gives ``Booster.predict``'s
probabilities: the synchronous endpoint scores one row at a time through it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.boosters import LightGBMBooster
from models.dataset import TrainingSet
from models.training import TrainingResult


def assert_single_rows_match_the_library(booster: LightGBMBooster, rows: np.ndarray) -> None:
    library = booster.model.predict(rows, num_iteration=booster.iterations, num_threads=1)
    single = np.array([booster.raw_proba(rows[i : i + 1])[0] for i in range(len(rows))])
    assert np.isnan(rows).any()  # missing values take their trained direction on both paths
    np.testing.assert_allclose(single, library, rtol=0, atol=1e-6)
    # a batch still goes through the library's own batch predict
    np.testing.assert_array_equal(booster.raw_proba(rows), library)


def test_single_row_probabilities_are_lightgbms_own(
    trained: dict[str, TrainingResult], small_set: TrainingSet, tmp_path: Path
) -> None:
    result = trained["lightgbm"]
    booster = result.members[0].booster
    assert isinstance(booster, LightGBMBooster)
    columns = [small_set.names.index(n) for n in result.selection.kept]
    rows = np.ascontiguousarray(small_set.matrix[:, columns])
    assert_single_rows_match_the_library(booster, rows)
    # as served: loaded from the saved model file (its trees up to the best iteration)
    loaded = LightGBMBooster.load(tmp_path / booster.save(tmp_path))
    assert_single_rows_match_the_library(loaded, rows)
