"""Synthetic data, step 3: events -> the 394 columns of ``train_transaction.csv`` (one chunk at a time).

Columns that describe the client (card, address, ``day - D1``, the level of the C counts) come
from the client tables so they stay consistent per client; the rest (V blocks, M flags, most D
columns) is noise with the real files' missingness structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from data.schema import TRANSACTION_HEADER
from data.synthetic import vocab
from data.synthetic.behaviour import Behaviour, Events
from data.synthetic.population import CARD1_MIN, CardTable, Clients, Devices

FIRST_TRANSACTION_ID = 2_987_000
FIRST_DT = 86_400


@dataclass(frozen=True)
class World:
    """Everything a chunk needs: the tables, plus per-row facts that need the whole history."""

    behaviour: Behaviour
    cards: CardTable
    devices: Devices
    gap_days: np.ndarray  # days since the client's previous transaction (nan for the first)
    new_device: np.ndarray  # first time this device is seen

    @classmethod
    def build(cls, behaviour: Behaviour, cards: CardTable, devices: Devices) -> World:
        ev = behaviour.events
        by_client = np.lexsort((np.arange(len(ev)), ev.client))  # events are already time-ordered
        gaps = np.full(len(ev), np.nan)
        same = ev.client[by_client][1:] == ev.client[by_client][:-1]
        gaps[by_client[1:][same]] = np.diff(ev.seconds[by_client])[same] / 86_400
        new_device = np.zeros(len(ev), dtype=bool)
        _, first = np.unique(ev.device, return_index=True)
        new_device[first] = True
        return cls(behaviour, cards, devices, gaps, new_device & (ev.device >= 0))


def categorical(index: np.ndarray, values: tuple[str, ...] | np.ndarray) -> pa.Array:
    """Strings from indices into ``values`` (-1 = null), built in C++ via a dictionary."""
    indices = pa.array(index.astype(np.int32), mask=index < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(np.asarray(values, dtype=object))).cast(
        pa.string()
    )


def _float(values: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    values = values.astype(np.float64)
    mask = np.isnan(values) if missing is None else (missing | np.isnan(values))
    return pa.array(values, mask=mask)


def _choice(rng: np.random.Generator, n: int, k: int, p: tuple[float, ...] | None = None) -> np.ndarray:
    return rng.choice(k, n, p=p)


def _missing(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    return rng.random(n, dtype=np.float32) < share


def transaction_table(world: World, rows: slice, rng: np.random.Generator) -> pa.Table:
    """The transaction columns of the rows ``rows`` of the time-ordered events."""
    ev: Events = world.behaviour.events.take(np.arange(rows.start, rows.stop))
    cl: Clients = world.behaviour.clients
    n = len(ev)
    c = ev.client
    fraud = ev.mechanism > 0
    card = cl.card1[c] - CARD1_MIN
    day = (ev.seconds // 86_400).astype(np.float64)
    d1 = day - cl.start_day[c]
    identity = ev.device >= 0
    cols: dict[str, pa.Array] = {
        "TransactionID": pa.array(FIRST_TRANSACTION_ID + np.arange(rows.start, rows.stop)),
        "isFraud": pa.array(fraud.astype(np.int64)),
        "TransactionDT": pa.array(FIRST_DT + ev.seconds),
        "TransactionAmt": pa.array(ev.amount),
        "ProductCD": categorical(ev.product, vocab.PRODUCTS),
        "card1": pa.array(cl.card1[c]),
        "card2": _float(world.cards.card2[card]),
        "card3": _float(world.cards.card3[card]),
        "card4": categorical(world.cards.card4[card], vocab.CARD4),
        "card5": _float(world.cards.card5[card]),
        "card6": categorical(world.cards.card6[card], vocab.CARD6),
        "addr1": _float(cl.addr1[c]),
        "addr2": _float(cl.addr2[c]),
        "dist1": _float(
            np.round(rng.exponential(20, n) * np.where(ev.mechanism == 4, 4, 1)),
            ~(ev.product == 0) | _missing(rng, n, 0.45),
        ),
        "dist2": _float(np.round(rng.exponential(60, n)), ~identity | _missing(rng, n, 0.6)),
        "P_emaildomain": categorical(ev.email, vocab.EMAILS),
        "R_emaildomain": categorical(ev.r_email, vocab.EMAILS),
    }
    cols.update(_counts(rng, cl.activity[c], ev.product, identity))
    cols.update(_deltas(rng, d1, world.gap_days[rows], ev.seconds))
    cols.update(_matches(rng, n, fraud))
    cols.update(_vesta(rng, ev.amount, identity))
    return pa.table([cols[name] for name in TRANSACTION_HEADER], names=list(TRANSACTION_HEADER))


def _counts(
    rng: np.random.Generator, activity: np.ndarray, product: np.ndarray, identity: np.ndarray
) -> dict[str, pa.Array]:
    """C1-C14: counts attached to the card (addresses, devices, e-mails ...): a client-level level."""
    n = len(activity)
    base = rng.poisson(activity)
    out = {}
    for i in range(1, 15):
        if i in (4, 7, 8, 10, 12):  # counts that only move for web/app products
            values = np.where(identity, base + rng.poisson(0.2, n), 0)
        elif i in (3, 5, 9):
            values = np.where(product == 0, rng.poisson(0.3 * activity), 0)
        elif i == 13:
            values = base * 3 + rng.poisson(2 * activity)
        else:
            values = 1 + base + rng.poisson(0.3, n)
        out[f"C{i}"] = pa.array(values.astype(np.float64))
    return out


def _deltas(
    rng: np.random.Generator, d1: np.ndarray, gap: np.ndarray, seconds: np.ndarray
) -> dict[str, pa.Array]:
    """D1-D15: day deltas. D1 is days since the account opened, D3 days since the last purchase."""
    n = len(d1)
    noise = rng.integers(-2, 3, n).astype(np.float64)
    hour_fraction = (seconds % 86_400) // 3_600 / 24
    mostly_missing = rng.integers(0, 400, n).astype(np.float64)
    d2 = np.where(d1 > 0, d1, np.nan)
    return {
        "D1": _float(d1, _missing(rng, n, 0.002)),
        "D2": _float(d2, _missing(rng, n, 0.05)),
        "D3": _float(np.floor(gap)),
        "D4": _float(d1 + noise, _missing(rng, n, 0.28)),
        "D5": _float(np.floor(gap) + rng.integers(0, 3, n), _missing(rng, n, 0.52)),
        "D6": _float(mostly_missing, _missing(rng, n, 0.87)),
        "D7": _float(mostly_missing / 3, _missing(rng, n, 0.93)),
        "D8": _float(np.round(rng.exponential(100, n), 6), _missing(rng, n, 0.87)),
        "D9": _float(np.round(hour_fraction, 6), _missing(rng, n, 0.87)),
        "D10": _float(np.maximum(d1 - rng.integers(0, 30, n), 0), _missing(rng, n, 0.13)),
        "D11": _float(d1 + noise, _missing(rng, n, 0.47)),
        "D12": _float(mostly_missing, _missing(rng, n, 0.89)),
        "D13": _float(mostly_missing / 4, _missing(rng, n, 0.9)),
        "D14": _float(mostly_missing - 5, _missing(rng, n, 0.89)),
        "D15": _float(d1 + noise, _missing(rng, n, 0.15)),
    }


def _matches(rng: np.random.Generator, n: int, fraud: np.ndarray) -> dict[str, pa.Array]:
    """M1-M9: match flags (name on card vs address ...), missing in blocks."""
    block = _missing(rng, n, 0.46)
    m4 = _choice(rng, n, 3, (0.63, 0.17, 0.20))
    m4[fraud & (rng.random(n) < 0.15)] = 2  # fraud leans to M2: weak on its own
    out = {}
    for i in range(1, 10):
        if i == 4:
            out["M4"] = categorical(np.where(_missing(rng, n, 0.48), -1, m4), vocab.M4_VALUES)
            continue
        missing = block if i <= 3 else _missing(rng, n, 0.5 + 0.02 * i)
        true_share = 0.95 if i <= 3 else 0.5
        values = (rng.random(n, dtype=np.float32) > true_share).astype(np.int64)  # 0 = "T"
        out[f"M{i}"] = categorical(np.where(missing, -1, values), vocab.TF)
    return out


def _vesta(rng: np.random.Generator, amount: np.ndarray, identity: np.ndarray) -> dict[str, pa.Array]:
    """V1-V339 (Vesta's engineered features): blocks missing together, counts and amounts."""
    n = len(amount)
    out = {}
    for first, last, share, identity_side in vocab.V_BLOCKS:
        missing = ~identity | _missing(rng, n, 0.1) if identity_side else _missing(rng, n, share)
        latent = rng.poisson(0.4, n).astype(np.float32)
        for i in range(first, last + 1):
            if i in vocab.V_AMOUNT_COLUMNS:  # float64 so amounts print as amounts (77.355, not 77.354996)
                part = rng.random(n, dtype=np.float32).round(1).astype(np.float64)
                out[f"V{i}"] = pa.array(np.where(latent > 0, np.round(amount * part, 3), 0.0), mask=missing)
            else:
                values = latent + (rng.random(n, dtype=np.float32) < 0.05)
                out[f"V{i}"] = pa.array(values, mask=missing)
    return out
