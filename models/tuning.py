"""Training step (optional, ``--tune``): bounded Bayesian hyperparameter search with Optuna.

TPE sampling, a fixed number of trials and a wall-clock bound; each trial fits on the fit
slice and is scored by PR-AUC on the later early-stopping slice (time-based validation:
never a random split, which would leak a client's future into its past).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score

from core.settings import ModelSettings
from models.boosters import BOOSTERS, Algorithm

log = logging.getLogger(__name__)
Slice = tuple[npt.NDArray[np.float32], npt.NDArray[np.int_]]


def _space(trial: Any, algorithm: Algorithm) -> dict[str, Any]:
    if algorithm == "lightgbm":
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 15, 255, log=True),
            "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 10, 300, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.3, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30, log=True),
        }
    if algorithm == "xgboost":
        return {
            "eta": trial.suggest_float("eta", 0.02, 0.2, log=True),
            "max_depth": trial.suggest_int("max_depth", 3, 10),
            "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 30, log=True),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
            "lambda": trial.suggest_float("lambda", 1e-3, 30, log=True),
        }
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.03, 0.3, log=True),
        "depth": trial.suggest_int("depth", 4, 9),
        "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 0.5, 30, log=True),
    }


def tune(
    algorithm: Algorithm, fit: Slice, validation: Slice, cfg: ModelSettings, start: dict[str, Any]
) -> dict[str, Any]:
    """The best parameters found within ``cfg.tune_trials`` trials / ``cfg.tune_timeout_s``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        booster = BOOSTERS[algorithm].fit(fit, validation, _space(trial, algorithm), cfg.rounds, cfg.seed)
        return float(average_precision_score(validation[1], booster.raw_proba(validation[0])))

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=cfg.seed))
    study.enqueue_trial(start)  # the defaults are trial 0: tuning can only match or improve them
    study.optimize(objective, n_trials=cfg.tune_trials, timeout=cfg.tune_timeout_s)
    log.info(
        "tuned algorithm=%s trials=%d best_pr_auc=%.4f params=%s",
        algorithm,
        len(study.trials),
        study.best_value,
        study.best_params,
    )
    return dict(study.best_params)
