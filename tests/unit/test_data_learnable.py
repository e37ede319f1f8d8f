"""The planted fraud is behavioural: per-client history beats the raw columns on a time split.

The aggregates are computed here with pandas/numpy, looking only at each row's past; the
production feature code lives in functions/ and is tested there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from data.loader import DataFiles, load_frame
from data.synthetic import generate

ROWS = 30_000
PARAMS: dict[str, Any] = {
    "n_estimators": 80,
    "learning_rate": 0.1,
    "num_leaves": 15,
    "colsample_bytree": 0.5,
    "max_bin": 63,
}


def _count_in_window(key: pd.Series, dt: pd.Series, window_s: int) -> np.ndarray:
    """Rows with the same key in the last ``window_s`` seconds, this one included (nan: no key)."""
    codes = pd.factorize(key)[0].astype(np.int64)
    composite = codes * 10**10 + dt.to_numpy()
    order = np.argsort(composite, kind="stable")
    ordered = composite[order]
    counts = np.empty(len(ordered))
    counts[order] = np.arange(len(ordered)) - np.searchsorted(ordered, ordered - window_s) + 1
    counts[codes < 0] = np.nan
    return counts


def _history_features(frame: pd.DataFrame) -> pd.DataFrame:
    dt = frame["TransactionDT"]
    day = dt // 86_400
    uid = (
        frame["card1"].astype(str) + "_" + frame["addr1"].astype(str) + "_" + (day - frame["D1"]).astype(str)
    )
    device = (
        frame["DeviceInfo"].astype(str) + "_" + frame["id_19"].astype(str) + "_" + frame["id_20"].astype(str)
    )
    device = device.where(frame["id_19"].notna())
    by_uid = frame.groupby(uid)
    past_mean = by_uid["TransactionAmt"].transform(lambda s: s.shift().expanding().mean())
    first_for_uid = by_uid.cumcount() == 0
    new_pair = ~pd.DataFrame({"u": uid, "d": device}).duplicated()
    out = pd.DataFrame(
        {
            "uid_seen": by_uid.cumcount(),
            "uid_gap": dt - by_uid["TransactionDT"].shift(),
            "uid_amount_ratio": frame["TransactionAmt"] / past_mean,
            "uid_1h": _count_in_window(uid, dt, 3_600),
            "uid_24h": _count_in_window(uid, dt, 86_400),
            "device_24h": _count_in_window(device, dt, 86_400),
            "device_clients": new_pair.groupby(device).cumsum().where(device.notna()),
            "uid_new_device": (~pd.DataFrame({"u": uid, "d": device}).duplicated()).where(~first_for_uid),
            "uid_new_email": (~pd.DataFrame({"u": uid, "e": frame["P_emaildomain"]}).duplicated()).where(
                ~first_for_uid
            ),
        }
    )
    return out.astype("float32")


def _pr_auc(train: pd.DataFrame, test: pd.DataFrame, columns: list[str]) -> float:
    model = lgb.LGBMClassifier(**PARAMS, n_jobs=1, verbose=-1, random_state=0)
    model.fit(train[columns], train["isFraud"])
    return float(
        average_precision_score(test["isFraud"], np.asarray(model.predict_proba(test[columns]))[:, 1])
    )


@pytest.mark.slow
def test_history_aggregates_beat_raw_columns(tmp_path: Path) -> None:
    summary = generate(ROWS, 7, tmp_path)
    frame = load_frame(DataFiles(summary.transaction_file, summary.identity_file))
    history = _history_features(frame)
    data = pd.concat([frame, history], axis=1)
    raw = [c for c in frame.columns if c not in ("TransactionID", "isFraud", "TransactionDT")]
    cut = int(len(data) * 0.7)  # time-based split: train on the past, test on the future
    train, test = data.iloc[:cut], data.iloc[cut:]
    raw_only = _pr_auc(train, test, raw)
    with_history = _pr_auc(train, test, raw + list(history.columns))
    print(f"PR-AUC raw={raw_only:.3f} raw+history={with_history:.3f} base rate={test['isFraud'].mean():.3f}")
    assert with_history > raw_only + 0.15
    assert with_history > 0.5
