"""Synthetic data, step 3b: events with a device -> the 41 columns of ``train_identity.csv``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from data.schema import IDENTITY_HEADER
from data.synthetic import vocab
from data.synthetic.tables import FIRST_TRANSACTION_ID, World, categorical


def _flt(values: np.ndarray, missing: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.float64), mask=missing)


def identity_table(world: World, rows: slice, rng: np.random.Generator) -> pa.Table:
    """Identity rows for the transactions in ``rows`` that came with a device, by TransactionID."""
    all_devices = world.behaviour.events.device[rows]
    has = np.flatnonzero(all_devices >= 0)
    n = len(has)
    dev = all_devices[has]
    devices = world.devices
    mobile = devices.mobile[dev]
    new = world.new_device[rows][has]
    proxy = world.behaviour.events.mechanism[rows][has] > 0

    def miss(share: float) -> np.ndarray:
        return rng.random(n, dtype=np.float32) < share

    def pick(values: tuple[str, ...], p: tuple[float, ...], share_missing: float) -> pa.Array:
        return categorical(np.where(miss(share_missing), -1, rng.choice(len(values), n, p=p)), values)

    def from_device(table: np.ndarray, share_missing: float) -> pa.Array:
        index = np.where(miss(share_missing) | (table[dev] == ""), -1, dev)
        return categorical(index, table)

    status = np.where(new, 0, np.where(rng.random(n) < 0.03, 2, 1))  # New / Found / Unknown
    cols: dict[str, pa.Array] = {
        "TransactionID": pa.array(FIRST_TRANSACTION_ID + rows.start + has),
        "id_01": _flt(
            rng.choice([0.0, -5.0, -10.0, -20.0, -100.0], n, p=[0.55, 0.25, 0.1, 0.05, 0.05]), miss(0.0)
        ),
        "id_02": _flt(np.round(rng.exponential(170_000, n)), miss(0.02)),
        "id_03": _flt(np.where(rng.random(n) < 0.9, 0.0, rng.integers(-10, 10, n)), miss(0.54)),
        "id_04": _flt(np.where(rng.random(n) < 0.95, 0.0, -rng.integers(1, 20, n)), miss(0.54)),
        "id_05": _flt(rng.poisson(1.5, n), miss(0.05)),
        "id_06": _flt(0.0 - rng.poisson(6, n), miss(0.05)),
        "id_07": _flt(rng.integers(-40, 50, n), miss(0.99)),
        "id_08": _flt(rng.integers(-100, 0, n), miss(0.99)),
        "id_09": _flt(np.where(rng.random(n) < 0.9, 0.0, rng.integers(1, 10, n)), miss(0.48)),
        "id_10": _flt(np.where(rng.random(n) < 0.95, 0.0, -rng.integers(1, 10, n)), miss(0.48)),
        "id_11": _flt(np.where(rng.random(n) < 0.9, 100.0, rng.uniform(90, 100, n).round(2)), miss(0.02)),
        "id_12": pick(vocab.FOUND, (0.08, 0.92), 0.0),
        "id_13": _flt(rng.choice([49.0, 64.0, 33.0, 52.0, 27.0], n), miss(0.12)),
        "id_14": _flt(rng.choice([-300.0, -360.0, -480.0, -420.0, 60.0, -180.0], n), miss(0.44)),
        "id_15": categorical(np.where(miss(0.02), -1, status), vocab.ID15),
        "id_16": pick(vocab.FOUND, (0.55, 0.45), 0.1),
        "id_17": _flt(np.where(mobile, 225.0, 166.0), miss(0.03)),
        "id_18": _flt(rng.choice([15.0, 13.0, 12.0, 18.0, 20.0], n), miss(0.69)),
        "id_19": _flt(devices.id19[dev], miss(0.03)),
        "id_20": _flt(devices.id20[dev], miss(0.03)),
        "id_21": _flt(rng.integers(100, 854, n), miss(0.99)),
        "id_22": _flt(rng.choice([14.0, 41.0, 33.0], n), miss(0.99)),
        "id_23": categorical(
            np.where(rng.random(n) < np.where(proxy, 0.04, 0.01), rng.choice(3, n), -1), vocab.PROXY
        ),
        "id_24": _flt(rng.choice([11.0, 15.0, 16.0], n), miss(0.99)),
        "id_25": _flt(rng.integers(100, 549, n), miss(0.99)),
        "id_26": _flt(rng.integers(100, 216, n), miss(0.99)),
        "id_27": pick(vocab.FOUND, (0.75, 0.25), 0.99),
        "id_28": categorical(np.where(miss(0.02), -1, np.minimum(status, 1)), vocab.NEW_FOUND),
        "id_29": pick(vocab.FOUND, (0.52, 0.48), 0.02),
        "id_30": from_device(devices.os, 0.45),
        "id_31": from_device(devices.browser, 0.003),
        "id_32": _flt(np.where(mobile, 32.0, 24.0), miss(0.45)),
        "id_33": from_device(devices.screen, 0.49),
        "id_34": pick(vocab.MATCH_STATUS, (0.9, 0.08, 0.015, 0.005), 0.46),
        "id_35": pick(vocab.TF, (0.55, 0.45), 0.02),
        "id_36": pick(vocab.TF, (0.05, 0.95), 0.02),
        "id_37": pick(vocab.TF, (0.8, 0.2), 0.02),
        "id_38": pick(vocab.TF, (0.48, 0.52), 0.02),
        "DeviceType": categorical(np.where(miss(0.02), -1, mobile.astype(np.int64)), vocab.DEVICE_TYPES),
        "DeviceInfo": from_device(devices.info, 0.0),
    }
    return pa.table([cols[name] for name in IDENTITY_HEADER], names=list(IDENTITY_HEADER))
