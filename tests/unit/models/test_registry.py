"""Registry: save -> load gives identical predictions, no pickle, champion pointer, hot reload."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from functions.scorer import Scorer
from models.calibration import fit_isotonic
from models.dataset import TrainingSet
from models.drift import feature_drift
from models.loaded import LoadedModel, Member
from models.registry import ChampionSource, Registry, RegistryError
from models.training import TrainingResult, register

ALGORITHMS = ["lightgbm", "xgboost", "catboost", "ensemble"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_round_trip_gives_identical_predictions_without_pickle(
    algorithm: str,
    trained: dict[str, TrainingResult],
    small_set: TrainingSet,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = trained[algorithm]
    registry = Registry(tmp_path)
    version = register(registry, result, [])
    files = {p.suffix for p in (tmp_path / version).rglob("*") if p.is_file()}
    assert files <= {".json", ".txt", ".ubj", ".cbm", ".png", ".html"}

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("pickle used to load a model")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    loaded: Scorer = registry.load(version)  # what the hot path sees (checked by mypy)
    test_rows = small_set.matrix[result.split.test]
    assert np.array_equal(loaded.predict_proba(test_rows), result.test_proba)
    assert registry.load(version).thresholds == result.thresholds
    assert loaded.version == version
    reasons = loaded.reasons(test_rows[:3], 2)
    assert len(reasons) == 3 and all(len(r) == 2 for r in reasons)
    assert reasons[0][0].contribution >= reasons[0][1].contribution


def test_a_model_trained_on_a_feature_since_retired_keeps_scoring_if_it_does_not_read_it(
    trained: dict[str, TrainingResult], small_set: TrainingSet, tmp_path: Path
) -> None:
    """Its features.json names an input the online code no longer computes (``freq_card2``, retired;
    hygiene had set it aside): the loaded model no longer asks for it and scores as before. An input
    it reads is still asked for, computed or not (the score stage then refuses the model by name)."""
    result = trained["lightgbm"]
    registry = Registry(tmp_path)
    version = register(registry, result, [])
    path = tmp_path / version / "features.json"
    features = json.loads(path.read_text())
    features["input_names"] = ["freq_card2", *features["input_names"]]
    path.write_text(json.dumps(features))
    loaded = registry.load(version)
    assert "freq_card2" not in loaded.feature_names
    assert list(loaded.feature_names) == list(small_set.names)  # f0..f11: read, so kept, though not computed
    test_rows = small_set.matrix[result.split.test]
    assert np.array_equal(loaded.predict_proba(test_rows), result.test_proba)
    assert registry.promote(version)["champion"] == version


def test_contributions_explain_the_raw_score(
    trained: dict[str, TrainingResult], small_set: TrainingSet
) -> None:
    """Native SHAP values sum (with the bias) to the raw log-odds: they are real explanations."""
    member = trained["lightgbm"].members[0]
    rows = small_set.matrix[:50][:, [small_set.names.index(n) for n in trained["lightgbm"].selection.kept]]
    contributions = member.booster.contributions(rows)
    raw = member.booster.raw_proba(rows)
    logit = np.log(raw / (1 - raw))
    bias = logit - contributions.sum(axis=1)
    assert np.allclose(bias, bias[0], atol=1e-6)  # the same expected value for every row


def test_version_directory_holds_the_documented_files(
    trained: dict[str, TrainingResult], tmp_path: Path
) -> None:
    registry = Registry(tmp_path)
    version = register(registry, trained["lightgbm"], [])
    names = {p.name for p in (tmp_path / version).iterdir()}
    assert {
        "manifest.json",
        "features.json",
        "thresholds.json",
        "metrics.json",
        "fingerprint.json",
        "reference_histograms.json",
        "model.lightgbm.txt",
        "report",
    } <= names
    report = (tmp_path / version / "report" / "index.html").read_text()
    assert report.count("data:image/png;base64,") == 4
    histograms = registry.read(version, "reference_histograms.json")
    assert set(histograms) == set(trained["lightgbm"].selection.kept)
    assert sum(histograms["f0"]["shares"]) == pytest.approx(1.0)


def test_the_score_reference_holds_the_served_scores_of_a_step_calibrator(
    trained: dict[str, TrainingResult], small_set: TrainingSet, tmp_path: Path
) -> None:
    """An isotonic calibrator serves a few step values; the version's score reference must bin
    them as the drift check bins the served float64 scores (PSI 0 on the reference's own rows)."""
    result = trained["lightgbm"]
    booster, test = result.members[0].booster, result.split.test
    kept = [small_set.names.index(n) for n in result.selection.kept]
    raw = booster.raw_proba(np.ascontiguousarray(small_set.matrix[:, kept]))
    step = fit_isotonic(raw[result.split.calibration], small_set.labels[result.split.calibration])
    stepped = dataclasses.replace(result, members=[Member(booster, step)], test_proba=step.apply(raw[test]))
    registry = Registry(tmp_path)
    version = register(registry, stepped, [])
    served = registry.load(version).predict_proba(small_set.matrix[test])
    assert len(np.unique(served)) < len(served) / 10  # steps: many rows share a value
    reference = registry.read(version, "score_histogram.json")
    assert feature_drift({"score": reference}, served[:, None], ["score"])[0].psi < 1e-9


def test_promote_and_rollback(trained: dict[str, TrainingResult], tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    a, b, c = (register(registry, trained[n], []) for n in ("lightgbm", "xgboost", "catboost"))
    with pytest.raises(RegistryError):
        registry.rollback()
    registry.promote(a)
    registry.promote(b)
    registry.promote(c, "challenger")
    assert registry.pointer()["champion"] == b and registry.pointer()["challenger"] == c
    registry.promote(c)
    assert registry.pointer()["challenger"] is None  # a promoted challenger stops being one
    assert registry.rollback()["champion"] == b
    assert registry.rollback()["champion"] == a
    with pytest.raises(RegistryError, match="no earlier champion"):
        registry.rollback()
    with pytest.raises(RegistryError, match="no model version"):
        registry.promote("nope")
    actions = [entry["action"] for entry in registry.pointer()["history"]]
    assert actions == ["promote", "promote", "challenger", "promote", "rollback", "rollback"]


def test_running_scorer_picks_up_a_promotion_without_restart(
    trained: dict[str, TrainingResult], tmp_path: Path
) -> None:
    registry = Registry(tmp_path)
    a, b = register(registry, trained["lightgbm"], []), register(registry, trained["xgboost"], [])
    now = [0.0]
    source = ChampionSource(registry, interval_s=5.0, clock=lambda: now[0])
    assert source.champion() is None
    registry.promote(a)
    now[0] = 5.0
    first = source.champion()
    assert first is not None and first.version == a
    registry.promote(b)
    now[0] = 6.0
    assert source.champion() is first  # checked at most every interval_s
    now[0] = 10.0
    assert source.champion() is first  # b loads and warms in the background; a serves meanwhile
    assert source.wait_loaded(60)
    second = source.champion()
    assert second is not None and second.version == b
    now[0] = 20.0
    assert source.champion() is second  # unchanged pointer: no reload


def test_a_scorer_serves_only_warmed_models(
    trained: dict[str, TrainingResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every version a scorer serves has scored a probe row before (no first-use cost in a request)."""
    registry = Registry(tmp_path)
    a, b = register(registry, trained["lightgbm"], []), register(registry, trained["xgboost"], [])
    registry.promote(a)
    scorers = Registry(tmp_path)  # the scorer's own view of the registry
    probed: list[str] = []
    real_probe = scorers.probe

    def probe(version: str) -> LoadedModel:
        probed.append(version)
        return real_probe(version)

    monkeypatch.setattr(scorers, "probe", probe)
    now = [0.0]
    source = ChampionSource(scorers, interval_s=1.0, clock=lambda: now[0])
    assert (loaded := source.champion()) is not None and loaded.version == a
    registry.promote(b, "challenger")
    now[0] = 2.0
    source.champion()
    assert source.wait_loaded(60)
    assert (shadow := source.challenger()) is not None and shadow.version == b
    assert probed == [a, b]  # each loaded through the probe: warm before served


def test_a_version_that_fails_to_load_in_the_background_leaves_the_current_one_serving(
    trained: dict[str, TrainingResult], tmp_path: Path
) -> None:
    registry = Registry(tmp_path)
    good = register(registry, trained["lightgbm"], [])
    registry.promote(good)
    now = [0.0]
    source = ChampionSource(registry, interval_s=1.0, clock=lambda: now[0])
    first = source.champion()
    bad = register(registry, trained["lightgbm"], [])
    registry.promote(bad)
    model_file = next(p for p in (tmp_path / bad).iterdir() if p.suffix == ".txt")
    model_file.write_bytes(model_file.read_bytes()[:200])  # broken after its promotion
    now[0] = 2.0
    assert source.champion() is first
    assert source.wait_loaded(60)
    assert source.champion() is first  # still the good one; the broken one is not served


def test_promotion_refuses_a_version_that_does_not_load(
    trained: dict[str, TrainingResult], tmp_path: Path
) -> None:
    registry = Registry(tmp_path)
    good = register(registry, trained["lightgbm"], [])
    registry.promote(good)
    bad = register(registry, trained["lightgbm"], [])
    model_file = next(p for p in (tmp_path / bad).iterdir() if p.suffix == ".txt")
    model_file.write_bytes(model_file.read_bytes()[:200])  # truncated
    with pytest.raises(RegistryError, match="cannot be loaded"):
        registry.promote(bad)
    assert registry.pointer()["champion"] == good  # unchanged
    (tmp_path / "champion.json").write_text('{"champion": ')  # truncated pointer
    with pytest.raises(RegistryError, match=r"unreadable champion\.json"):
        registry.pointer()
