"""Training and serving: the three gradient-boosting libraries behind one small interface.

Each ``Booster`` fits with early stopping on a later time slice, saves itself in its
library's native format (LightGBM text, XGBoost UBJSON, CatBoost .cbm: invariant 5, no
pickle), predicts raw probabilities, and explains rows in log-odds two ways:
``path_contributions`` (path attribution, see ``models.attribution``: the online reasons) and
``contributions`` (exact TreeSHAP: offline only, it costs ~1.3 ms a row on an 89-tree model).
Inference runs on one thread per model (serving scales out by processes, not threads); a single
row (the synchronous endpoint) goes through LightGBM's own single-row C API, set up once per
model: the same probabilities as ``Booster.predict`` at a fifth of its per-call cost.
"""

from __future__ import annotations

import ctypes
import json
import tempfile
import threading
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from models.attribution import PathMatrix, from_catboost, from_lightgbm

Algorithm = Literal["lightgbm", "xgboost", "catboost"]
ALGORITHMS: tuple[Algorithm, ...] = ("lightgbm", "xgboost", "catboost")
Matrix = npt.NDArray[np.float32]
Floats = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int_]
TRAIN_THREADS = 2
EARLY_STOP = 50


class Booster(Protocol):
    algorithm: Algorithm

    def raw_proba(self, matrix: Matrix) -> Floats: ...
    def importance(self) -> Floats: ...
    def save(self, directory: Path) -> str: ...

    def contributions(self, matrix: Matrix) -> Floats:
        """Exact TreeSHAP values [n, n_features] in log-odds (offline: reports, audits)."""
        ...

    def path_contributions(self, matrix: Matrix) -> Floats:
        """Path attribution [n, n_features] in log-odds: the online reasons (``models.attribution``).

        Per row, their sum plus a constant bias is the raw log-odds score, as for ``contributions``.
        """
        ...


def default_params(algorithm: Algorithm) -> dict[str, Any]:
    """Hyperparameters that work well on IEEE-CIS-like data without tuning."""
    if algorithm == "lightgbm":
        return {"learning_rate": 0.05, "num_leaves": 63, "min_data_in_leaf": 40, "feature_fraction": 0.7}
    if algorithm == "xgboost":
        return {"eta": 0.05, "max_depth": 7, "min_child_weight": 3.0, "colsample_bytree": 0.7}
    return {"learning_rate": 0.08, "depth": 6, "l2_leaf_reg": 3.0}


def positive_weight(labels: Labels) -> float:
    """Up-weight fraud by sqrt(negatives/positives): helps the trees; calibration undoes the bias."""
    positives = max(int(labels.sum()), 1)
    return float(np.sqrt((len(labels) - positives) / positives))


class _RowPredictor:
    """LightGBM's own predictor for one row at a time, through the library's C API
    (``LGBM_BoosterPredictForMatSingleRowFast``, set up once per model): the same tree code as
    ``Booster.predict``, without its per-call Python work (parameter string, input checks, a new
    predictor each call), which costs far more than the trees for the synchronous endpoint's row."""

    _PREDICT_NORMAL, _FLOAT32 = 0, 0  # C_API_PREDICT_NORMAL, C_API_DTYPE_FLOAT32 (c_api.h)

    def __init__(self, model: Any, iterations: int) -> None:
        from lightgbm.basic import _LIB, _c_str, _safe_call  # type: ignore[attr-defined]

        self._lib, self._check = _LIB, _safe_call
        self._config = ctypes.c_void_p()
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                model._handle,
                ctypes.c_int(self._PREDICT_NORMAL),
                ctypes.c_int(0),
                ctypes.c_int(iterations),
                ctypes.c_int(self._FLOAT32),
                ctypes.c_int32(model.num_feature()),
                _c_str("num_threads=1"),
                ctypes.byref(self._config),
            )
        )
        self._out = np.zeros(1, dtype=np.float64)
        self._out_ptr = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._out_len = ctypes.c_int64(0)
        self._lock = threading.Lock()  # one output buffer; the gateway may call from several threads

    def __call__(self, row: Matrix) -> float:
        """The probability of one C-contiguous float32 row."""
        with self._lock:
            self._check(
                self._lib.LGBM_BoosterPredictForMatSingleRowFast(
                    self._config, ctypes.c_void_p(row.ctypes.data), ctypes.byref(self._out_len), self._out_ptr
                )
            )
            return float(self._out[0])

    def __del__(self) -> None:
        if self._config:
            self._lib.LGBM_FastConfigFree(self._config)


class LightGBMBooster:
    algorithm: Algorithm = "lightgbm"
    file_name = "model.lightgbm.txt"

    def __init__(self, model: Any) -> None:
        self.model = model

    @classmethod
    def fit(
        cls,
        fit: tuple[Matrix, Labels],
        val: tuple[Matrix, Labels],
        params: dict[str, Any],
        rounds: int,
        seed: int,
    ) -> LightGBMBooster:
        import lightgbm as lgb

        full = {
            "objective": "binary",
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "scale_pos_weight": positive_weight(fit[1]),
            "num_threads": TRAIN_THREADS,
            "seed": seed,
            "deterministic": True,
            "verbose": -1,
            **params,
        }
        train_set = lgb.Dataset(fit[0], fit[1], free_raw_data=True)
        val_set = lgb.Dataset(val[0], val[1], reference=train_set)
        model = lgb.train(
            full,
            train_set,
            num_boost_round=rounds,
            valid_sets=[val_set],
            callbacks=[lgb.early_stopping(EARLY_STOP, verbose=False)],
        )
        return cls(model)

    @property
    def iterations(self) -> int | None:
        """Trees served: up to the best one (None or -1: all, as in a saved model: it keeps only those)."""
        best: int = self.model.best_iteration
        return best or None

    @cached_property
    def paths(self) -> PathMatrix:
        return from_lightgbm(self.model.dump_model(num_iteration=self.iterations))

    @cached_property
    def _row(self) -> _RowPredictor:
        # the iterations Booster.predict resolves for num_iteration=self.iterations (<= 0: all)
        return _RowPredictor(self.model, self.iterations or self.model.best_iteration)

    def raw_proba(self, matrix: Matrix) -> Floats:
        if len(matrix) == 1 and matrix.flags.c_contiguous and matrix.dtype == np.float32:
            return np.array([self._row(matrix[0])])
        out = self.model.predict(matrix, num_iteration=self.iterations, num_threads=1)
        return np.asarray(out, dtype=np.float64)

    def contributions(self, matrix: Matrix) -> Floats:
        out = self.model.predict(matrix, num_iteration=self.iterations, pred_contrib=True, num_threads=1)
        return np.asarray(out, dtype=np.float64)[:, :-1]

    def path_contributions(self, matrix: Matrix) -> Floats:
        leaves = self.model.predict(matrix, num_iteration=self.iterations, pred_leaf=True, num_threads=1)
        return self.paths.contributions(np.asarray(leaves).reshape(len(matrix), -1))

    def importance(self) -> Floats:
        return np.asarray(self.model.feature_importance(importance_type="gain"), dtype=np.float64)

    def save(self, directory: Path) -> str:
        self.model.save_model(str(directory / self.file_name), num_iteration=self.iterations)
        return self.file_name

    @classmethod
    def load(cls, path: Path) -> LightGBMBooster:
        import lightgbm as lgb

        booster = cls(lgb.Booster(model_file=str(path)))
        _ = booster.paths, booster._row  # built at load, not on the first flagged (or single) row
        return booster


class XGBoostBooster:
    algorithm: Algorithm = "xgboost"
    file_name = "model.xgboost.ubj"

    def __init__(self, model: Any) -> None:
        self.model = model
        self.model.set_param({"nthread": 1})

    @classmethod
    def fit(
        cls,
        fit: tuple[Matrix, Labels],
        val: tuple[Matrix, Labels],
        params: dict[str, Any],
        rounds: int,
        seed: int,
    ) -> XGBoostBooster:
        import xgboost as xgb

        full = {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "subsample": 0.8,
            "scale_pos_weight": positive_weight(fit[1]),
            "nthread": TRAIN_THREADS,
            "seed": seed,
            **params,
        }
        train_set = xgb.DMatrix(fit[0], label=fit[1])
        val_set = xgb.DMatrix(val[0], label=val[1])
        model = xgb.train(
            full,
            train_set,
            num_boost_round=rounds,
            evals=[(val_set, "val")],
            early_stopping_rounds=EARLY_STOP,
            verbose_eval=False,
        )
        return cls(model[: model.best_iteration + 1])

    def raw_proba(self, matrix: Matrix) -> Floats:
        return np.asarray(self.model.inplace_predict(matrix), dtype=np.float64)

    def contributions(self, matrix: Matrix) -> Floats:
        import xgboost as xgb

        out = self.model.predict(xgb.DMatrix(matrix, nthread=1), pred_contribs=True)
        return np.asarray(out, dtype=np.float64)[:, :-1]

    def path_contributions(self, matrix: Matrix) -> Floats:
        import xgboost as xgb

        # approx_contribs is XGBoost's own path attribution (node values: cover-weighted means)
        out = self.model.predict(xgb.DMatrix(matrix, nthread=1), pred_contribs=True, approx_contribs=True)
        return np.asarray(out, dtype=np.float64)[:, :-1]

    def importance(self) -> Floats:
        gains = self.model.get_score(importance_type="total_gain")
        count = self.model.num_features()
        return np.array([gains.get(f"f{j}", 0.0) for j in range(count)], dtype=np.float64)

    def save(self, directory: Path) -> str:
        self.model.save_model(str(directory / self.file_name))
        return self.file_name

    @classmethod
    def load(cls, path: Path) -> XGBoostBooster:
        import xgboost as xgb

        return cls(xgb.Booster(model_file=str(path)))


class CatBoostBooster:
    algorithm: Algorithm = "catboost"
    file_name = "model.catboost.cbm"

    def __init__(self, model: Any) -> None:
        self.model = model

    @classmethod
    def fit(
        cls,
        fit: tuple[Matrix, Labels],
        val: tuple[Matrix, Labels],
        params: dict[str, Any],
        rounds: int,
        seed: int,
    ) -> CatBoostBooster:
        from catboost import CatBoostClassifier

        model = CatBoostClassifier(
            iterations=rounds,
            loss_function="Logloss",
            scale_pos_weight=positive_weight(fit[1]),
            thread_count=TRAIN_THREADS,
            random_seed=seed,
            od_type="Iter",
            od_wait=EARLY_STOP,
            use_best_model=True,
            allow_writing_files=False,
            verbose=False,
            **params,
        )
        model.fit(fit[0], fit[1], eval_set=(val[0], val[1]))
        return cls(model)

    def raw_proba(self, matrix: Matrix) -> Floats:
        out = self.model.predict(matrix, prediction_type="Probability", thread_count=1)
        return np.asarray(out, dtype=np.float64)[:, 1]

    def contributions(self, matrix: Matrix) -> Floats:
        from catboost import Pool

        out = self.model.get_feature_importance(Pool(matrix), type="ShapValues", thread_count=1)
        return np.asarray(out, dtype=np.float64)[:, :-1]

    @cached_property
    def paths(self) -> PathMatrix:
        # CatBoost's documented JSON export holds the trees, leaf values and leaf weights
        with tempfile.TemporaryDirectory(prefix="sentinel-catboost-") as scratch:
            exported = Path(scratch) / "model.json"
            self.model.save_model(str(exported), format="json")
            return from_catboost(json.loads(exported.read_text()))

    def path_contributions(self, matrix: Matrix) -> Floats:
        from catboost import Pool

        # the same numbers as get_feature_importance(type="ShapValues", shap_calc_type="Approximate")
        # at a fraction of the cost: a leaf lookup instead of a pass over the trees per call
        leaves = self.model.calc_leaf_indexes(Pool(matrix), thread_count=1)
        return self.paths.contributions(np.asarray(leaves))

    def importance(self) -> Floats:
        return np.asarray(self.model.get_feature_importance(), dtype=np.float64)

    def save(self, directory: Path) -> str:
        self.model.save_model(str(directory / self.file_name), format="cbm")
        return self.file_name

    @classmethod
    def load(cls, path: Path) -> CatBoostBooster:
        from catboost import CatBoostClassifier

        booster = cls(CatBoostClassifier().load_model(str(path), format="cbm"))
        _ = booster.paths  # built at load, not on the first flagged transaction
        return booster


BOOSTERS: dict[Algorithm, type[LightGBMBooster] | type[XGBoostBooster] | type[CatBoostBooster]] = {
    "lightgbm": LightGBMBooster,
    "xgboost": XGBoostBooster,
    "catboost": CatBoostBooster,
}
