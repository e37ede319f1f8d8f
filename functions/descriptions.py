"""Enrich stage, definitions: a short human description of every feature (``FEATURE_DESCRIPTIONS``).

Built from the same definitions as ``functions.features`` (entities, windows, columns), so a
feature added there gets its sentence here or ``tests/unit/functions`` fails. Shown beside
each reason of a score, so an analyst reads "number of transactions of this card in the last
hour" rather than ``card_cnt_1h``.
"""

from __future__ import annotations

import re

from functions.features import (
    CALENDAR_FEATURES,
    ENTITIES,
    FEATURE_NAMES,
    WINDOWS,
    entity_feature_names,
)

ENTITY_TEXT = {
    "card": "this card (card1)",
    "uid": "this client (card1 + addr1 + account start day)",
    "email": "this purchaser e-mail domain",
    "device": "this device (DeviceInfo)",
    "addr": "this billing address (addr1)",
}
COMPANION_TEXT = {"addr": "billing addresses", "card_fingerprint": "card fingerprints", "card": "cards"}
STAT_TEXT = {
    "cnt": "number of transactions",
    "sum": "total amount",
    "mean": "mean amount",
    "std": "standard deviation of the amount",
}
WINDOW_TEXT = {"1h": "in the last hour", "24h": "in the last 24 hours", "7d": "in the last 7 days"}

# The raw IEEE-CIS columns; Vesta masked the meaning of the C, D, M, V and id columns.
RAW_TEXT = {
    "TransactionAmt": "amount in USD",
    "ProductCD": "product code of the transaction",
    "card1": "card identifier (issuer bank / card range)",
    "card2": "card attribute card2",
    "card3": "card attribute card3 (issuing country group)",
    "card4": "card network (visa, mastercard, ...)",
    "card5": "card attribute card5",
    "card6": "card type (debit, credit)",
    "addr1": "billing region",
    "addr2": "billing country",
    "dist1": "distance between addresses (dist1)",
    "dist2": "distance between addresses (dist2)",
    "P_emaildomain": "purchaser e-mail domain",
    "R_emaildomain": "recipient e-mail domain",
    "DeviceType": "device type (mobile, desktop)",
    "DeviceInfo": "device model or operating system",
}
_FAMILIES = (
    (re.compile(r"C(\d+)"), "count C{} (e.g. addresses linked to the card; meaning masked)"),
    (re.compile(r"D(\d+)"), "time delta D{} in days (e.g. since the previous transaction; masked)"),
    (re.compile(r"M(\d+)"), "match flag M{} (e.g. name on card vs address; masked)"),
    (re.compile(r"V(\d+)"), "Vesta engineered feature V{} (meaning masked)"),
    (re.compile(r"id_(\d+)"), "identity attribute id_{} (network, browser, device; masked)"),
)


def _entity_descriptions() -> dict[str, str]:
    out: dict[str, str] = {}
    for entity in ENTITIES:
        who = ENTITY_TEXT[entity.name]
        names = iter(entity_feature_names(entity))
        for stat in STAT_TEXT:
            for window in WINDOWS:
                out[next(names)] = f"{STAT_TEXT[stat]} of {who} {WINDOW_TEXT[window.name]}"
        for stat in STAT_TEXT:
            out[next(names)] = f"{STAT_TEXT[stat]} of {who} in all its history"
        companions = COMPANION_TEXT[entity.companion]
        for text in (
            f"seconds since the previous transaction of {who}",
            f"amount divided by the mean amount of {who}",
            f"how unusual the amount is for {who} (z-score)",
            f"distinct {companions} seen with {who} in the last 24 hours",
        ):
            out[next(names)] = text
    out["uid_new_device"] = "first time this client uses this device"
    out["uid_new_email"] = "first time this client uses this e-mail domain"
    return out


def _calendar_descriptions() -> dict[str, str]:
    out = {
        "hour": "hour of the day (event time)",
        "dow": "day of the week (event time)",
        "cents": "cents part of the amount",
    }
    for name in CALENDAR_FEATURES[3:]:
        d = name.removesuffix("_minus_day")
        out[name] = f"{d} minus the transaction day (constant for a client's account start)"
    return out


def _raw_description(name: str) -> str:
    if name in RAW_TEXT:
        return RAW_TEXT[name]
    for pattern, text in _FAMILIES:
        if match := pattern.fullmatch(name):
            return text.format(match.group(1))
    return ""


def _build() -> dict[str, str]:
    derived = {**_entity_descriptions(), **_calendar_descriptions()}
    return {name: derived.get(name) or _raw_description(name) for name in FEATURE_NAMES}


FEATURE_DESCRIPTIONS: dict[str, str] = _build()
"""Feature name -> one short sentence, for every name of ``FEATURE_NAMES``."""
