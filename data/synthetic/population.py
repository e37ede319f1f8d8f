"""Synthetic data, step 1: the people and things behind transactions (cards, clients, devices).

A *client* is one account holder: a card (``card1`` and the card attributes it implies, like a
BIN), a billing address (``addr1``/``addr2``), the day the account was opened (so that
``day - D1`` is constant per client), a home e-mail domain, a usual product, a spending
profile and, for clients who shop through web/app products, a device. All tables are
column arrays indexed by an integer id, so everything downstream is vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from data.synthetic import vocab

CARD1_MIN, CARD1_MAX = 1000, 18396
DAYS = 182  # TransactionDT spans about six months


@dataclass(frozen=True)
class CardTable:
    """Attributes implied by a card number (``card1``): index = card1 - CARD1_MIN."""

    card2: np.ndarray
    card3: np.ndarray
    card4: np.ndarray  # index into vocab.CARD4, -1 = missing
    card5: np.ndarray
    card6: np.ndarray  # index into vocab.CARD6, -1 = missing

    @classmethod
    def draw(cls, rng: np.random.Generator) -> CardTable:
        n = CARD1_MAX - CARD1_MIN + 1
        card2 = rng.integers(100, 601, n).astype(np.float64)
        card2[rng.random(n) < 0.015] = np.nan
        foreign = rng.random(n) < 0.12
        card3 = np.where(foreign, rng.choice([185.0, 144.0, 119.0], n), 150.0)
        card5 = rng.choice([226.0, 224.0, 166.0, 102.0, 117.0, 138.0, 195.0, 137.0], n)
        card4 = rng.choice(len(vocab.CARD4), n, p=vocab.CARD4_WEIGHTS)
        card6 = rng.choice(len(vocab.CARD6), n, p=vocab.CARD6_WEIGHTS)
        card4[rng.random(n) < 0.003] = -1
        card6[rng.random(n) < 0.003] = -1
        return cls(card2, card3, card4, card5, card6)


@dataclass(frozen=True)
class Devices:
    """Device fingerprints: what the identity table says about the browser or phone."""

    mobile: np.ndarray  # bool
    info: np.ndarray  # DeviceInfo strings ('' = missing)
    os: np.ndarray
    browser: np.ndarray
    screen: np.ndarray
    id19: np.ndarray  # numeric fingerprint pieces (make devices distinguishable)
    id20: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int) -> Devices:
        mobile = rng.random(n) < 0.4
        ios = mobile & (rng.random(n) < 0.45)
        info = np.where(
            mobile,
            np.where(ios, "iOS Device", vocab.android_device_infos(rng, n)),
            rng.choice(np.array(vocab.DESKTOP_INFO), n, p=[0.6, 0.2, 0.08, 0.05, 0.03, 0.02, 0.02]),
        ).astype(object)
        # The operating system agrees with the device (a Mac reports Mac OS X, an iPhone iOS).
        desktop_os = np.where(
            info == "MacOS",
            rng.choice(np.array(vocab.MAC_OS), n),
            np.where(info == "Linux", "Linux", rng.choice(np.array(vocab.WINDOWS_OS), n, p=[0.6, 0.3, 0.1])),
        )
        os_ = np.where(
            mobile,
            np.where(
                ios,
                rng.choice(np.array(vocab.MOBILE_OS[:3]), n),
                rng.choice(np.array(vocab.MOBILE_OS[3:]), n),
            ),
            desktop_os,
        )
        info[rng.random(n) < 0.18] = ""
        browser = np.where(
            mobile,
            np.where(ios, vocab.MOBILE_BROWSERS[0], rng.choice(np.array(vocab.MOBILE_BROWSERS[1:]), n)),
            rng.choice(np.array(vocab.DESKTOP_BROWSERS), n),
        )
        screen = np.where(
            mobile,
            rng.choice(np.array(vocab.MOBILE_SCREENS), n),
            rng.choice(np.array(vocab.DESKTOP_SCREENS), n),
        )
        return cls(
            mobile,
            info,
            os_.astype(object),
            browser.astype(object),
            screen.astype(object),
            rng.integers(100, 672, n).astype(np.float64),
            rng.integers(100, 662, n).astype(np.float64),
        )


@dataclass(frozen=True)
class Clients:
    """Account holders; fraudsters' made-up or stolen identities are clients too."""

    card1: np.ndarray  # int
    addr1: np.ndarray  # float, nan = missing
    addr2: np.ndarray
    start_day: np.ndarray  # int: day the account was opened (D1 = day - start_day)
    email: np.ndarray  # index into vocab.EMAILS, -1 = missing
    product: np.ndarray  # index into vocab.PRODUCTS
    device: np.ndarray  # index into Devices, -1 = no identity row
    amount_mu: np.ndarray  # log-amount mean and spread of the usual purchase
    amount_sd: np.ndarray
    activity: np.ndarray  # latent level of the C (count) columns

    def __len__(self) -> int:
        return len(self.card1)

    def __add__(self, other: Clients) -> Clients:
        return Clients(
            *(np.concatenate([getattr(self, f.name), getattr(other, f.name)]) for f in fields(self))
        )


def draw_clients(
    rng: np.random.Generator,
    n: int,
    first_day: np.ndarray,
    n_devices: int,
    card_order: np.ndarray,
    email_weights: np.ndarray = vocab.EMAIL_WEIGHTS,
) -> Clients:
    """``n`` clients whose first transaction is on ``first_day``; devices drawn from a shared pool.

    ``card_order`` ranks the card numbers by popularity (a permutation of card1 - CARD1_MIN).
    """
    # card1 is skewed: a few thousand card numbers (BINs) cover most clients.
    rank = np.minimum(rng.pareto(1.2, n) * 900, 1e9).astype(np.int64) % len(card_order)
    card1 = CARD1_MIN + card_order[rank]
    addr1 = rng.integers(100, 541, n).astype(np.float64)
    addr2 = np.where(rng.random(n) < 0.97, 87.0, rng.choice([60.0, 96.0, 32.0, 65.0], n))
    no_address = rng.random(n) < 0.11
    addr1[no_address] = np.nan
    addr2[no_address] = np.nan
    # About a third of first purchases happen on the day the account opens.
    age_at_first = np.where(rng.random(n) < 0.3, 0, np.minimum(rng.exponential(150, n), 640)).astype(np.int64)
    email = rng.choice(len(email_weights), n, p=email_weights)
    email[rng.random(n) < 0.16] = -1
    product = rng.choice(len(vocab.PRODUCTS), n, p=vocab.PRODUCT_WEIGHTS)
    with_identity = rng.random(n) < np.take(vocab.PRODUCT_IDENTITY, product)
    device = np.where(with_identity, rng.integers(0, max(n_devices, 1), n), -1)
    return Clients(
        card1=card1,
        addr1=addr1,
        addr2=addr2,
        start_day=first_day.astype(np.int64) - age_at_first,
        email=email,
        product=product,
        device=device,
        amount_mu=rng.normal(3.9, 0.6, n) - 1.2 * (product == 1),
        amount_sd=rng.uniform(0.3, 0.8, n),
        activity=rng.gamma(1.5, 1.0, n),
    )
