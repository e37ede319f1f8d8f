"""Enrich stage, definitions: which features a transaction gets, in which order, and what they mean.

One ordered list, ``FEATURE_NAMES``, shared by the online enrich function and the training-set
replay (``functions.replay``), so a model is trained on exactly the columns it is served.

Three families, in this order:

1. Stateful entity features (computed in Redis by ``functions.velocity``), for each entity of
   ``ENTITIES`` — card (card1), uid (card1 + addr1 + account start day ``TransactionDT//86400 - D1``),
   email (P_emaildomain), device (DeviceInfo), addr (addr1) — in event time (TransactionDT):
   ``<e>_cnt|sum|mean|std_<1h|24h|7d>`` over the event-time window (``Window``) including the
   transaction,
   ``<e>_cnt|sum|mean|std_all`` over all history, ``<e>_secs_since_prev``, ``<e>_amt_to_mean`` and
   ``<e>_amt_zscore`` (amount against the entity's history) and ``<e>_distinct_<companion>_24h``
   (card testing: distinct cards per device / address / email, distinct card fingerprints per uid).
   Then ``uid_new_device`` / ``uid_new_email`` (first time this uid uses them: takeover). (Online
   frequency counts of high-cardinality columns, ``freq_*``, were dropped: training always set
   them aside as time proxies, and they cost ~9 % of the feature script's Redis work.)
2. Calendar and amount: ``hour``, ``dow``, ``cents``, and ``D<n>_minus_day`` (the D columns
   normalised by the transaction day, so a client's constant start date stays constant).
3. The raw columns: numbers as floats, categoricals as a deterministic code (24-bit CRC32 of
   the text, exact in float32; missing is NaN); no target information is used anywhere.

Window aggregates are exact sums over the buckets of the window (no sampling), so they are
the same whatever order the events of the window arrived in.
"""

from __future__ import annotations

from dataclasses import dataclass

from data.schema import ALL_COLUMNS

HOUR = 3600
DAY = 86_400


@dataclass(frozen=True)
class Window:
    """A window over event time made of ``slots`` buckets of ``bucket_s`` seconds.

    The window of a transaction is its own bucket and the ``slots - 1`` before it, so "1h"
    covers between 50 and 60 minutes: buckets keep the state O(1) per entity (no event list)
    and make the aggregate independent of the order events arrive in.
    """

    name: str
    bucket_s: int
    slots: int


WINDOWS: tuple[Window, ...] = (Window("1h", 600, 6), Window("24h", 3 * HOUR, 8), Window("7d", DAY, 7))
DISTINCT_WINDOW_S = DAY
"""Distinct companions (cards per device ...) are counted over the last 24 hours, to the second."""


@dataclass(frozen=True)
class Entity:
    """A key transactions are grouped by, and the companion counted distinct over 24h.

    ``card_local``: every event of the entity carries one card1 (the card, the uid that contains
    it), so its events travel in one broker partition and its state lives with the card's stream
    shard; the others span cards and, on a Redis Cluster, live on slots of their own
    (``functions.keys.FeatureKeys.shared``)."""

    name: str
    companion: str
    card_local: bool = False


ENTITIES: tuple[Entity, ...] = (
    Entity("card", "addr", card_local=True),
    Entity("uid", "card_fingerprint", card_local=True),
    Entity("email", "card"),
    Entity("device", "card"),
    Entity("addr", "card"),
)


def entity_feature_names(entity: Entity) -> list[str]:
    e = entity.name
    names = [f"{e}_{stat}_{w.name}" for stat in ("cnt", "sum", "mean", "std") for w in WINDOWS]
    names += [f"{e}_{stat}_all" for stat in ("cnt", "sum", "mean", "std")]
    names += [
        f"{e}_secs_since_prev",
        f"{e}_amt_to_mean",
        f"{e}_amt_zscore",
        f"{e}_distinct_{entity.companion}_24h",
    ]
    return names


PER_ENTITY = len(entity_feature_names(ENTITIES[0]))
STATE_FEATURES: list[str] = [
    *(name for entity in ENTITIES for name in entity_feature_names(entity)),
    "uid_new_device",
    "uid_new_email",
]
"""Features that come from the Redis state, in the order the script returns them."""

D_COLUMNS: tuple[str, ...] = tuple(f"D{i}" for i in range(1, 16))
CALENDAR_FEATURES: list[str] = ["hour", "dow", "cents", *(f"{d}_minus_day" for d in D_COLUMNS)]

_NOT_FEATURES = {"TransactionID", "isFraud", "TransactionDT"}  # keys, the label, absolute time
NUMERIC_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in ALL_COLUMNS if c.kind != "str" and c.name not in _NOT_FEATURES
)
CATEGORICAL_COLUMNS: tuple[str, ...] = tuple(c.name for c in ALL_COLUMNS if c.kind == "str")
RAW_FEATURES: list[str] = [*NUMERIC_COLUMNS, *CATEGORICAL_COLUMNS]

FEATURE_NAMES: list[str] = [*STATE_FEATURES, *CALENDAR_FEATURES, *RAW_FEATURES]
"""Every feature, in the column order of the feature matrix and of ``TxEnriched.features``."""
FEATURE_INDEX: dict[str, int] = {name: i for i, name in enumerate(FEATURE_NAMES)}

HISTORY_DEPENDENT: frozenset[str] = frozenset(
    name for name in FEATURE_NAMES if name.endswith("_all") or name.endswith("_minus_day")
)
"""Features whose distribution moves with the length of history or absolute time by construction
(all-history aggregates, account start days): a drift check lists their
PSI but does not raise an alarm on them, since they move on a perfectly stationary stream."""

SHARED_ENTITIES: tuple[str, ...] = ("email", "device")
"""Entities shared by thousands of clients (an e-mail domain, a device model such as "Windows")."""
GROUP_ACTIVITY: frozenset[str] = frozenset(
    name
    for entity in ENTITIES
    if entity.name in SHARED_ENTITIES
    for name in entity_feature_names(entity)
    if not name.endswith("_all") and name.rsplit("_", 1)[-1] in {w.name for w in WINDOWS}
)
"""Window aggregates of a shared entity (``email_cnt_7d``, ``device_distinct_card_24h`` ...): one
value per group and period, carried by every transaction of the group, so a window of 10,000
transactions (12 days at 830 a day) holds a couple of weeks of a few big groups' activity, not
10,000 independent draws, and a fraud ring on one domain moves it for days. On the steady
synthetic stream these read PSI 0.3-0.7 in windows drawn from the reference's own period; a
drift check lists them but does not raise an alarm on them. (The group itself, ``P_emaildomain``
and ``DeviceInfo``, stays watched.)"""
