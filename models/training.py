"""Training: fit, calibrate, choose thresholds, evaluate, and register one model version.

    result = train(training_set, "lightgbm", settings.models)
    version = register(Registry(dir), result, data_files)

The test slice is touched only for the final metrics; hygiene, early stopping,
calibration and thresholds all use earlier rows (see ``dataset.time_split``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.settings import ModelSettings
from models.boosters import ALGORITHMS, BOOSTERS, Algorithm, default_params
from models.calibration import fit_best
from models.dataset import Split, TrainingSet, time_split
from models.hygiene import Selection, select_features
from models.loaded import Member
from models.metrics import evaluate
from models.reference import fingerprint, reference_histograms
from models.registry import Registry, write_json
from models.report import write_report
from models.thresholds import CostCurve, CostModel, cost_curve
from models.tuning import tune

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class TrainingResult:
    algorithm: str
    training_set: TrainingSet
    split: Split
    selection: Selection
    members: list[Member]
    params: dict[str, dict[str, Any]]
    curve: CostCurve
    test_proba: npt.NDArray[np.float64]
    metrics: dict[str, float]
    member_metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def thresholds(self) -> tuple[float, float]:
        return self.curve.review, self.curve.decline


def member_algorithms(algorithm: str) -> tuple[Algorithm, ...]:
    if algorithm == "ensemble":
        return ALGORITHMS
    for known in ALGORITHMS:
        if known == algorithm:
            return (known,)
    raise ValueError(f"unknown algorithm {algorithm!r}")


def train(
    data: TrainingSet,
    algorithm: str,
    cfg: ModelSettings,
    *,
    tune_search: bool = False,
    progress: Progress = lambda _: None,
) -> TrainingResult:
    split = time_split(len(data.labels), cfg.test_fraction, cfg.calibration_fraction)
    progress("feature hygiene")
    selection = select_features(
        data.matrix[split.fit],
        list(data.names),
        data.times[split.fit],
        corr=cfg.v_correlation,
        time_corr=cfg.time_correlation,
    )
    kept = np.array([data.names.index(n) for n in selection.kept], dtype=np.intp)
    matrix = np.ascontiguousarray(data.matrix[:, kept])
    y = data.labels
    fit, stop = (matrix[split.fit], y[split.fit]), (matrix[split.stop], y[split.stop])
    calibration_x, calibration_y = matrix[split.calibration], y[split.calibration]

    members: list[Member] = []
    params: dict[str, dict[str, Any]] = {}
    member_test: dict[str, npt.NDArray[np.float64]] = {}
    for name in member_algorithms(algorithm):
        params[name] = default_params(name)
        if tune_search:
            progress(f"tuning {name}")
            params[name] = tune(name, fit, stop, cfg, params[name])
        progress(f"training {name}")
        booster = BOOSTERS[name].fit(fit, stop, params[name], cfg.rounds, cfg.seed)
        calibrator = fit_best(booster.raw_proba(calibration_x), calibration_y)
        members.append(Member(booster, calibrator))
        member_test[name] = calibrator.apply(booster.raw_proba(matrix[split.test]))

    progress("thresholds and metrics")
    calibration_proba = np.mean(
        [m.calibrator.apply(m.booster.raw_proba(calibration_x)) for m in members], axis=0
    )
    costs = CostModel(cfg.review_fee, cfg.decline_fee, cfg.decline_amount_share)
    curve = cost_curve(calibration_y, calibration_proba, data.amounts[split.calibration], costs)
    test_y, test_amounts = y[split.test], data.amounts[split.test]
    test_proba = np.mean(list(member_test.values()), axis=0)
    metrics = evaluate(test_y, test_proba, test_amounts, curve.review, curve.decline)
    member_metrics: dict[str, dict[str, float]] = {}
    if len(members) > 1:
        for member_name, proba in member_test.items():
            member_metrics[member_name] = evaluate(test_y, proba, test_amounts, curve.review, curve.decline)
    log.info("trained algorithm=%s pr_auc=%.4f ece=%.4f", algorithm, metrics["pr_auc"], metrics["ece"])
    return TrainingResult(
        algorithm, data, split, selection, members, params, curve, test_proba, metrics, member_metrics
    )


def importance(result: TrainingResult) -> dict[str, float]:
    """Global importance per kept feature: each member's gain normalised to 1, averaged."""
    total = np.zeros(len(result.selection.kept))
    for member in result.members:
        gain = member.booster.importance()
        total += gain / max(float(gain.sum()), 1e-12)
    total /= len(result.members)
    return {name: float(v) for name, v in zip(result.selection.kept, total, strict=True)}


def register(registry: Registry, result: TrainingResult, files: Sequence[Path]) -> str:
    """Write the result as a new registry version (not promoted); returns the version."""
    data = result.training_set
    # The drift reference: the latest rows (calibration + test), nearest to deployment and past the
    # warm-up of the feature windows, which the first rows of a replay are still filling.
    reference_rows = slice(result.split.calibration.start, result.split.test.stop)
    kept = [data.names.index(n) for n in result.selection.kept]
    with registry.new_version(result.algorithm) as (version, directory):
        members = []
        for member in result.members:
            members.append(
                {
                    "algorithm": member.booster.algorithm,
                    "file": member.booster.save(directory),
                    "calibrator": member.calibrator.to_dict(),
                }
            )
        write_json(
            directory / "manifest.json",
            {"version": version, "algorithm": result.algorithm, "members": members, "params": result.params},
        )
        write_json(
            directory / "features.json",
            {
                "input_names": list(data.names),
                "kept": result.selection.kept,
                "dropped": result.selection.dropped,
                "v_groups": result.selection.v_groups,
            },
        )
        write_json(
            directory / "thresholds.json",
            {
                "review": result.curve.review,
                "decline": result.curve.decline,
                "expected_cost": result.curve.best_cost,
            },
        )
        write_json(
            directory / "metrics.json",
            {"test": result.metrics, "members": result.member_metrics, "split": result.split.sizes()},
        )
        write_json(directory / "fingerprint.json", fingerprint(files, data.times, data.labels))
        write_json(
            directory / "reference_histograms.json",
            reference_histograms(data.matrix[reference_rows][:, kept], result.selection.kept),
        )
        write_json(  # the drift check's reference for the score distribution, in the float64 the
            # scorer serves: a calibrator's step values rounded to float32 moved whole steps across
            # the bin edges (a score PSI of 8-10 on the very rows of the reference)
            directory / "score_histogram.json",
            reference_histograms(result.test_proba[:, None], ["score"])["score"],
        )
        test = result.split.test
        write_report(
            directory / "report",
            version,
            (data.labels[test], result.test_proba, data.amounts[test]),
            result.curve,
            result.metrics,
            importance(result),
        )
    return version
