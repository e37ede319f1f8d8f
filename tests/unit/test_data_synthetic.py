"""Synthetic generator: Kaggle layout, types, missingness, determinism, fraud rate."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.check import check_files
from data.loader import DataFiles, load_frame
from data.synthetic import SynthSummary, generate
from tests.unit.test_data_schema import KAGGLE_IDENTITY_HEADER, KAGGLE_TRANSACTION_HEADER

ROWS = 20_000


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    return generate(ROWS, 11, tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="module")
def frame(synth: SynthSummary) -> pd.DataFrame:
    return load_frame(DataFiles(synth.transaction_file, synth.identity_file))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_headers_are_the_kaggle_headers(synth: SynthSummary) -> None:
    with synth.transaction_file.open() as f:
        assert f.readline().rstrip("\n").split(",") == KAGGLE_TRANSACTION_HEADER
    with synth.identity_file.open() as f:
        assert f.readline().rstrip("\n").split(",") == KAGGLE_IDENTITY_HEADER


def test_every_row_passes_the_schema(synth: SynthSummary) -> None:
    report = check_files(DataFiles(synth.transaction_file, synth.identity_file))
    assert (report.rows, report.valid, report.orphan_identity_rows) == (ROWS, ROWS, 0)


def test_raw_csv_value_formats(synth: SynthSummary) -> None:
    raw = pd.read_csv(synth.transaction_file, nrows=5_000)
    assert raw["TransactionID"].dtype == "int64" and raw["card1"].dtype == "int64"
    assert raw["TransactionDT"].dtype == "int64" and raw["isFraud"].isin([0, 1]).all()
    assert set(raw["ProductCD"]) <= set("WCHSR")
    assert set(raw["M4"].dropna()) <= {"M0", "M1", "M2"} and set(raw["M1"].dropna()) <= {"T", "F"}
    foreign = raw.loc[raw["ProductCD"] == "C", "TransactionAmt"]
    assert ((foreign * 1000).round() % 10 != 0).mean() > 0.5  # three-decimal amounts occur
    assert raw["card1"].between(1000, 18396).all()


def test_time_range_and_order(frame: pd.DataFrame) -> None:
    dt = frame["TransactionDT"]
    assert dt.iloc[0] == 86_400 and dt.is_monotonic_increasing
    assert 170 <= (dt.iloc[-1] - dt.iloc[0]) / 86_400 <= 182
    assert frame["TransactionID"].is_monotonic_increasing and frame["TransactionID"].iloc[0] == 2_987_000


def test_fraud_rate_and_identity_share(synth: SynthSummary, frame: pd.DataFrame) -> None:
    assert abs(frame["isFraud"].mean() - 0.035) < 0.002
    assert synth.fraud_rows == int(frame["isFraud"].sum())
    assert 0.18 < synth.identity_rows / ROWS < 0.35
    assert set(synth.by_mechanism) == {
        "legit",
        "fraud_client",
        "velocity_burst",
        "card_testing",
        "account_takeover",
    }
    assert all(count > 0 for count in synth.by_mechanism.values())


def test_missingness_structure(frame: pd.DataFrame) -> None:
    null = frame.isna().mean()
    assert (null > 0.5).mean() > 0.4  # about half the columns are mostly empty
    assert null[["TransactionID", "TransactionDT", "TransactionAmt", "ProductCD", "card1"]].max() == 0
    block = frame[[f"V{i}" for i in range(1, 12)]].isna()
    assert (block.all(axis=1) == block.any(axis=1)).all()  # V1-V11 missing together
    no_identity = frame["id_01"].isna()
    assert frame.loc[no_identity, "V150"].isna().all()  # identity-side V block follows identity
    assert 0.4 < null["M4"] < 0.56 and 0.4 < null["V1"] < 0.55


def test_client_identity_is_consistent(frame: pd.DataFrame) -> None:
    """card1 + addr1 + (day - D1) names a client: fraud clusters in clients, not spread at random."""
    day = frame["TransactionDT"] // 86_400
    uid = (
        frame["card1"].astype(str) + "_" + frame["addr1"].astype(str) + "_" + (day - frame["D1"]).astype(str)
    )
    per_client = frame.groupby(uid)["isFraud"].agg(["sum", "count"])
    fraud = frame["isFraud"] == 1
    fraud_uids = per_client.reindex(uid[fraud].to_numpy())
    # Most fraud rows share their client with other fraud rows (bursts, rings, takeovers).
    assert ((fraud_uids["sum"] > 1).mean()) > 0.7
    assert per_client["count"].mean() > 3


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a, b, c = (generate(3_000, seed, tmp_path / name) for seed, name in ((5, "a"), (5, "b"), (6, "c")))
    assert _digest(a.transaction_file) == _digest(b.transaction_file)
    assert _digest(a.identity_file) == _digest(b.identity_file)
    assert _digest(a.transaction_file) != _digest(c.transaction_file)


def test_tiny_and_invalid_sizes(tmp_path: Path) -> None:
    tiny = generate(1, 0, tmp_path / "tiny")
    assert len(tiny.transaction_file.read_text().splitlines()) == 2
    with pytest.raises(ValueError, match="rows=0"):
        generate(0, 0, tmp_path / "none")
    assert np.isfinite(tiny.fraud_rate)


def test_steady_volume_keeps_rows_and_fraud_rate_level_over_the_months(tmp_path: Path) -> None:
    def by_period(steady: bool) -> pd.DataFrame:
        summary = generate(90_000, 3, tmp_path / str(steady), steady=steady)
        raw = pd.read_csv(summary.transaction_file, usecols=["TransactionDT", "isFraud"])
        period = (raw["TransactionDT"] - 86_400) // (60 * 86_400)  # three 60-day periods (and 2 days)
        return raw[period < 3].groupby(period[period < 3])["isFraud"].agg(["count", "mean"])

    growing, steady = by_period(False), by_period(True)
    # the default: the volume more than doubles, and fraud (rings, card testing) is diluted
    assert growing["count"].iloc[2] > 2 * growing["count"].iloc[0], growing
    assert growing["mean"].iloc[2] < growing["mean"].iloc[0] - 0.01, growing
    assert steady["count"].max() < 1.1 * steady["count"].min(), steady
    assert steady["mean"].max() - steady["mean"].min() < 0.01, steady  # frauds come in campaigns: noisy
    twice = [generate(3_000, 3, tmp_path / name, steady=True).transaction_file for name in ("a", "b")]
    assert _digest(twice[0]) == _digest(twice[1])
