"""Synthetic data: IEEE-CIS files with planted, learnable fraud, when the real ones are absent.

``generate(rows, seed, out_dir)`` writes ``train_transaction.csv`` and ``train_identity.csv`` in
the Kaggle layout: the same header and column order, the same value formats (``T``/``F``,
``M0``-``M2``, ``match_status:2``, ``1334x750``, three-decimal foreign amounts, ...), about
the same share of missing cells per column (V columns missing in blocks, identity rows for
about a quarter of transactions), TransactionDT from 86400 over about six months, ~3.5 % fraud.
The same seed (and ``steady`` choice) gives byte-identical files. Floats are written in shortest form (``150``, not
``150.0``); every CSV reader reads them back as the same numbers.

Planted behaviour (a *client* is card1 + addr1 + account-open day, i.e. ``day - D1``;
the fraud share of each mechanism is in ``behaviour.FRAUD_SHARES``):

1. **Fraudulent clients** (40 % of fraud): made-up accounts, opened days before their first
   purchase, in small rings sharing a device and e-mail domain; every transaction is fraud,
   3-20 purchases within 0.3-4 days, somewhat larger amounts. Revealed by the client's
   transaction count and pace, and by devices shared between clients.
2. **Velocity bursts** (20 %): an established client's card suddenly used 4-12 times within
   40 minutes; the rows look exactly like the client's normal ones. Only counts over a short
   window per client/card reveal them.
3. **Card testing** (18 %): one device tries 10-40 different cards within 3 hours with tiny
   amounts, sometimes followed by a larger cash-out on a card. Revealed by the number of
   distinct cards per device.
4. **Account takeover** (22 %): an established client suddenly appears with a new device and
   a new e-mail domain, spending 3-8x their usual amount over a day or two. Revealed by the
   amount relative to the client's history and by a device/e-mail never seen for the client.

Single columns carry only weak signal (fraud leans to some e-mail domains, to product C, to
``M4 = M2``); legitimate clients also make small purchases (so a tiny amount is not a tell),
open accounts on the day of a purchase and share devices now and then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.csv as pcsv

from data.schema import IDENTITY_HEADER, TRANSACTION_HEADER
from data.synthetic.behaviour import MECHANISMS, simulate_behaviour
from data.synthetic.identity import identity_table
from data.synthetic.population import CARD1_MAX, CARD1_MIN, CardTable, Devices
from data.synthetic.tables import World, transaction_table

log = logging.getLogger(__name__)

TRANSACTION_FILE = "train_transaction.csv"
IDENTITY_FILE = "train_identity.csv"
CHUNK_ROWS = 50_000  # part of the output format: changing it changes the bytes for a seed
MAX_ROWS = 20_000_000
_WRITE = pcsv.WriteOptions(include_header=False, quoting_style="none")


@dataclass(frozen=True)
class SynthSummary:
    rows: int
    identity_rows: int
    fraud_rows: int
    by_mechanism: dict[str, int]
    transaction_file: Path
    identity_file: Path

    @property
    def fraud_rate(self) -> float:
        return self.fraud_rows / self.rows if self.rows else 0.0


def generate(
    rows: int,
    seed: int,
    out_dir: Path,
    progress: Callable[[int], None] | None = None,
    *,
    steady: bool = False,
) -> SynthSummary:
    """Write the two CSV files for ``rows`` transactions; ``progress(n)`` is told of each chunk.

    ``steady``: the same volume (and fraud rate) on every day of the six months, for a stream
    that does not move (drift checks, the estimate before labels); by default the volume grows
    over the months (clients start within the data set), which earlier seeds' files keep."""
    if not 1 <= rows <= MAX_ROWS:
        raise ValueError(f"rows={rows}: expected 1..{MAX_ROWS}")
    rng = np.random.default_rng([seed, 0])
    card_order = rng.permutation(CARD1_MAX - CARD1_MIN + 1)
    cards = CardTable.draw(rng)
    behaviour = simulate_behaviour(rng, rows, card_order, steady)
    world = World.build(behaviour, cards, Devices.draw(rng, behaviour.n_devices))
    out_dir.mkdir(parents=True, exist_ok=True)
    tx_path, id_path = out_dir / TRANSACTION_FILE, out_dir / IDENTITY_FILE
    identity_rows = 0
    with tx_path.open("wb") as tx_out, id_path.open("wb") as id_out:
        tx_out.write((",".join(TRANSACTION_HEADER) + "\n").encode())
        id_out.write((",".join(IDENTITY_HEADER) + "\n").encode())
        for index, start in enumerate(range(0, rows, CHUNK_ROWS)):
            chunk = slice(start, min(start + CHUNK_ROWS, rows))
            chunk_rng = np.random.default_rng([seed, 1, index])
            pcsv.write_csv(transaction_table(world, chunk, chunk_rng), tx_out, _WRITE)
            identity = identity_table(world, chunk, chunk_rng)
            pcsv.write_csv(identity, id_out, _WRITE)
            identity_rows += identity.num_rows
            if progress is not None:
                progress(chunk.stop - chunk.start)
    counts = np.bincount(behaviour.events.mechanism, minlength=len(MECHANISMS))
    summary = SynthSummary(
        rows=rows,
        identity_rows=identity_rows,
        fraud_rows=int(counts[1:].sum()),
        by_mechanism={name: int(c) for name, c in zip(MECHANISMS, counts, strict=True)},
        transaction_file=tx_path,
        identity_file=id_path,
    )
    log.info(
        "synthetic data written rows=%d fraud=%d seed=%d dir=%s", rows, summary.fraud_rows, seed, out_dir
    )
    return summary
