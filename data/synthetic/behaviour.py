"""Synthetic data, step 2: who buys what when — legitimate habits and four planted fraud patterns.

The result is an ``Events`` table (one row per transaction, ordered by time) that refers to
clients and devices by index; ``columns.py`` turns it into the Kaggle columns. See the package
docstring for what each mechanism looks like and which aggregates reveal it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from data.synthetic import vocab
from data.synthetic.population import DAYS, Clients, draw_clients

LEGIT, FRAUD_CLIENT, VELOCITY_BURST, CARD_TESTING, ACCOUNT_TAKEOVER = range(5)
MECHANISMS = ("legit", "fraud_client", "velocity_burst", "card_testing", "account_takeover")
FRAUD_RATE = 0.035
# Share of the fraudulent rows each mechanism produces.
FRAUD_SHARES = {FRAUD_CLIENT: 0.40, VELOCITY_BURST: 0.20, CARD_TESTING: 0.18, ACCOUNT_TAKEOVER: 0.22}
SECONDS = DAYS * 86_400
MEAN_TX_PER_CLIENT = 14
SPAN_DAYS = 70  # mean span of a legitimate client's activity
LEAD_DAYS = 3 * SPAN_DAYS  # steady volume: clients arrive from this long before the data set


@dataclass(frozen=True)
class Events:
    """One row per transaction; client/device/email are indices (-1 = none)."""

    client: np.ndarray
    seconds: np.ndarray  # event time from the start of the data set
    amount: np.ndarray
    product: np.ndarray
    device: np.ndarray
    email: np.ndarray
    r_email: np.ndarray
    mechanism: np.ndarray  # LEGIT or the fraud mechanism that produced the row

    def __len__(self) -> int:
        return len(self.client)

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        return Events(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Events)))

    def take(self, index: np.ndarray) -> Events:
        return Events(*(getattr(self, f.name)[index] for f in fields(Events)))


@dataclass(frozen=True)
class Behaviour:
    clients: Clients
    n_devices: int
    events: Events  # sorted by time


def _amounts(rng: np.random.Generator, mu: np.ndarray, sd: np.ndarray, product: np.ndarray) -> np.ndarray:
    amount = np.exp(rng.normal(mu, sd))
    small = rng.random(len(mu)) < 0.08  # everyone buys small things: card tests must not stand out
    amount[small] = rng.uniform(1.0, 10.0, small.sum())
    # Product C is charged in foreign currency: converted amounts carry three decimals.
    return np.where(product == 1, np.round(amount, 3), np.round(amount, 2)).clip(0.25, 30_000)


def _sizes(rng: np.random.Generator, total: int, low: int, high: int) -> np.ndarray:
    """Group sizes in [low, high) that add up to exactly ``total`` (the last one cut)."""
    sizes = rng.integers(low, high, total // low + 1)
    cum = np.cumsum(sizes)
    k = int(np.searchsorted(cum, total)) + 1
    sizes = sizes[:k]
    sizes[-1] -= int(cum[k - 1]) - total
    return sizes[sizes > 0]


def _r_email(rng: np.random.Generator, email: np.ndarray, product: np.ndarray) -> np.ndarray:
    return np.where((product != 0) & (rng.random(len(email)) < 0.8), email, -1)


def _steady(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first day per client, client per row, seconds per row) at a constant volume: clients
    arrive at a steady rate from ``LEAD_DAYS`` before the data set starts and keep their whole
    activity span, so as many are active on every day. Their rows outside the six months are not
    written; the first ``n`` rows inside are kept (clients are independent draws, so that is a
    random set of clients)."""
    total = int(n * (DAYS + LEAD_DAYS + 3 * SPAN_DAYS) / DAYS) + 100  # well over n rows inside
    counts = _sizes(rng, total, 1, 2 * MEAN_TX_PER_CLIENT)
    first_day = rng.uniform(-LEAD_DAYS, DAYS, len(counts))
    span_days = rng.exponential(SPAN_DAYS, len(counts))
    client = np.repeat(np.arange(len(counts)), counts)
    days = first_day[client] + rng.random(total) * span_days[client]
    inside = np.flatnonzero((days >= 0) & (days < DAYS))[:n]
    if len(inside) < n:  # not met in practice: the margin is about 3x
        raise ValueError(f"steady volume: {len(inside)} rows inside the data set, {n} wanted")
    k = int(client[inside[-1]]) + 1
    return first_day[:k], client[inside], (days[inside] * 86_400).astype(np.int64)


def _legit(
    rng: np.random.Generator, n: int, n_devices: int, order: np.ndarray, steady: bool
) -> tuple[Clients, Events]:
    if steady:
        first_day, client, seconds = _steady(rng, n)
        clients = draw_clients(rng, len(first_day), np.floor(first_day), n_devices, order)
    else:  # clients start within the data set and stop at its end: more are active later on
        counts = _sizes(rng, n, 1, 2 * MEAN_TX_PER_CLIENT)
        k = len(counts)
        first_day = rng.uniform(0, DAYS, k)
        span_days = np.minimum(rng.exponential(SPAN_DAYS, k), DAYS - first_day)
        clients = draw_clients(rng, k, np.floor(first_day), n_devices, order)
        client = np.repeat(np.arange(k), counts)
        seconds = ((first_day[client] + rng.random(n) * span_days[client]) * 86_400).astype(np.int64)
    product = np.where(
        rng.random(n) < 0.9, clients.product[client], rng.choice(5, n, p=vocab.PRODUCT_WEIGHTS)
    )
    amount = _amounts(rng, clients.amount_mu[client], clients.amount_sd[client], product)
    email = clients.email[client]
    events = Events(
        client, seconds, amount, product, clients.device[client], email, _r_email(rng, email, product),
        np.full(n, LEGIT),
    )  # fmt: skip
    return clients, events


def _fraud_clients(
    rng: np.random.Generator, n: int, first_device: int, order: np.ndarray
) -> tuple[Clients, Events, int]:
    """Made-up accounts in small rings: every transaction of theirs is fraud."""
    counts = _sizes(rng, n, 3, 21)
    k = len(counts)
    ring = np.repeat(np.arange(k), rng.integers(1, 7, k))[:k]
    n_rings = int(ring.max()) + 1 if k else 0
    ring_day = rng.uniform(0, DAYS - 5, n_rings)
    first_day = ring_day[ring] + rng.uniform(0, 3, k)
    clients = draw_clients(rng, k, np.floor(first_day), 0, order, vocab.FRAUD_EMAIL_WEIGHTS)
    ring_email = rng.choice(len(vocab.EMAILS), n_rings, p=vocab.FRAUD_EMAIL_WEIGHTS)
    ring_device = np.where(rng.random(n_rings) < 0.7, first_device + np.arange(n_rings), -1)
    clients = replace(
        clients,
        start_day=np.floor(first_day).astype(np.int64) - rng.integers(0, 8, k),
        email=np.where(rng.random(k) < 0.7, ring_email[ring], clients.email),
        device=ring_device[ring],
        amount_mu=clients.amount_mu + 0.5,
        product=np.where(rng.random(k) < 0.5, 1, clients.product),
    )
    client = np.repeat(np.arange(k), counts)
    span = rng.uniform(0.3, 4.0, k)
    seconds = ((first_day[client] + rng.random(n) * span[client]) * 86_400).astype(np.int64)
    product = clients.product[client]
    email = clients.email[client]
    events = Events(
        client, seconds, _amounts(rng, clients.amount_mu[client], clients.amount_sd[client], product),
        product, clients.device[client], email, _r_email(rng, email, product), np.full(n, FRAUD_CLIENT),
    )  # fmt: skip
    return clients, events, n_rings


def _victims(rng: np.random.Generator, legit: Events, min_tx: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` legitimate clients with at least ``min_tx`` transactions, and one of their times each."""
    per_client = np.bincount(legit.client)
    eligible = np.flatnonzero(per_client >= min_tx)
    if len(eligible) == 0:
        eligible = np.arange(len(per_client))
    victims = rng.choice(eligible, n, replace=n > len(eligible))
    starts = np.cumsum(per_client) - per_client  # legit rows are grouped by client
    row = starts[victims] + rng.integers(min_tx // 2, np.maximum(per_client[victims], min_tx // 2 + 1))
    row = np.minimum(row, starts[victims] + per_client[victims] - 1)
    return victims, legit.seconds[row]


def _bursts(rng: np.random.Generator, n: int, clients: Clients, legit: Events) -> Events:
    """A stolen card used many times within minutes on an existing client's account."""
    sizes = _sizes(rng, n, 4, 13)
    victims, at = _victims(rng, legit, 3, len(sizes))
    client = np.repeat(victims, sizes)
    seconds = np.repeat(at, sizes) + rng.integers(30, 2_400, n)
    product = clients.product[client]
    email = clients.email[client]
    amount = _amounts(rng, clients.amount_mu[client] + 0.3, clients.amount_sd[client], product)
    return Events(
        client, seconds, amount, product, clients.device[client], email, _r_email(rng, email, product),
        np.full(n, VELOCITY_BURST),
    )  # fmt: skip


def _card_testing(
    rng: np.random.Generator, n: int, first_client: int, first_device: int, order: np.ndarray
) -> tuple[Clients, Events, int]:
    """One device tries many stolen cards with tiny amounts, then cashes out on a few."""
    rows_per_campaign = _sizes(rng, n, 10, 40)
    n_campaigns = len(rows_per_campaign)
    campaign = np.repeat(np.arange(n_campaigns), rows_per_campaign)
    campaign_start = rng.uniform(0, SECONDS - 5 * 3_600, n_campaigns)
    # Each card is used once or twice (a test, then sometimes a cash-out): ~1.25 rows per card.
    second_use = rng.random(n) < 0.2
    second_use[np.r_[0, np.flatnonzero(np.diff(campaign)) + 1] if n else []] = False
    card_of_row = np.cumsum(~second_use) - 1
    k = int(card_of_row[-1]) + 1 if n else 0
    card_campaign = campaign[np.r_[0, np.flatnonzero(np.diff(card_of_row)) + 1]] if n else campaign
    day = np.floor(campaign_start[card_campaign] / 86_400)
    clients = draw_clients(rng, k, day, 0, order)
    product = rng.choice([1, 2, 3], n_campaigns, p=[0.6, 0.25, 0.15])
    clients = replace(clients, device=first_device + card_campaign, product=product[card_campaign])
    seconds = (campaign_start[campaign] + rng.uniform(0, 3 * 3_600, n)).astype(np.int64)
    amount = np.where(
        second_use, np.round(np.exp(rng.normal(4.6, 0.5, n)), 2), np.round(rng.uniform(0.5, 6.0, n), 2)
    )
    email = clients.email[card_of_row]
    row_product = clients.product[card_of_row]
    events = Events(
        first_client + card_of_row, seconds, amount, row_product, clients.device[card_of_row], email,
        _r_email(rng, email, row_product), np.full(n, CARD_TESTING),
    )  # fmt: skip
    return clients, events, n_campaigns


def _takeovers(
    rng: np.random.Generator, n: int, clients: Clients, legit: Events, first_device: int
) -> tuple[Events, int]:
    """Someone else logs into an established account: new device and e-mail, unusual amounts."""
    sizes = _sizes(rng, n, 2, 7)
    victims, at = _victims(rng, legit, 5, len(sizes))
    takeover = np.repeat(np.arange(len(sizes)), sizes)
    client = victims[takeover]
    seconds = (
        at[takeover] + rng.integers(3_600, 86_400 * 2, len(sizes))[takeover] + rng.integers(0, 36 * 3_600, n)
    )
    new_email = (clients.email[victims] + rng.integers(1, len(vocab.EMAILS), len(sizes))) % len(vocab.EMAILS)
    product = clients.product[client]
    mu = clients.amount_mu[client] + np.log(rng.uniform(3.0, 8.0, n))
    amount = np.round(np.exp(rng.normal(mu, 0.2)), 2).clip(0.25, 30_000)
    email = new_email[takeover]
    events = Events(
        client, seconds, amount, product, first_device + takeover, email, email, np.full(n, ACCOUNT_TAKEOVER)
    )
    return events, len(sizes)


def simulate_behaviour(
    rng: np.random.Generator, n_rows: int, order: np.ndarray, steady: bool = False
) -> Behaviour:
    """``n_rows`` transactions, about FRAUD_RATE of them fraudulent, sorted by time; ``steady``:
    at a constant volume (and fraud rate) over the months, else growing (``_legit``)."""
    targets = {m: round(n_rows * FRAUD_RATE * share) for m, share in FRAUD_SHARES.items()}
    n_legit = n_rows - sum(targets.values())
    n_devices = max(int(n_legit / MEAN_TX_PER_CLIENT * 0.6), 1)
    legit_clients, legit = _legit(rng, n_legit, n_devices, order, steady)
    fc_clients, fc, n_rings = _fraud_clients(rng, targets[FRAUD_CLIENT], n_devices, order)
    fc = replace(fc, client=fc.client + len(legit_clients))
    clients = legit_clients + fc_clients
    bursts = _bursts(rng, targets[VELOCITY_BURST], clients, legit)
    n_devices += n_rings
    ct_clients, testing, n_campaigns = _card_testing(
        rng, targets[CARD_TESTING], len(clients), n_devices, order
    )
    clients = clients + ct_clients
    n_devices += n_campaigns
    takeovers, n_takeovers = _takeovers(rng, targets[ACCOUNT_TAKEOVER], clients, legit, n_devices)
    n_devices += n_takeovers
    events = Events.concat([legit, fc, bursts, testing, takeovers])
    seconds = events.seconds.clip(0, SECONDS - 1)
    events = replace(events, seconds=seconds - seconds.min())  # the first row is at TransactionDT 86400
    return Behaviour(clients, n_devices, events.take(np.argsort(events.seconds, kind="stable")))
