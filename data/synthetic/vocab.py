"""Synthetic data, step 0: the value vocabularies of the IEEE-CIS files and their frequencies.

Frequencies are rounded from public descriptions of the Kaggle training set; the generator
draws categorical columns from these so value formats match the real files exactly.
"""

from __future__ import annotations

import numpy as np

PRODUCTS = ("W", "C", "H", "S", "R")
PRODUCT_WEIGHTS = (0.74, 0.12, 0.06, 0.02, 0.06)
# Probability that a client of each product comes with an identity (device) row.
PRODUCT_IDENTITY = (0.02, 0.95, 0.97, 0.95, 0.97)

CARD4 = ("visa", "mastercard", "american express", "discover")
CARD4_WEIGHTS = (0.65, 0.32, 0.015, 0.015)
CARD6 = ("debit", "credit", "debit or credit", "charge card")
CARD6_WEIGHTS = (0.745, 0.2535, 0.001, 0.0005)

EMAILS = (
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "anonymous.com",
    "aol.com",
    "comcast.net",
    "icloud.com",
    "outlook.com",
    "msn.com",
    "att.net",
    "live.com",
    "sbcglobal.net",
    "verizon.net",
    "ymail.com",
    "bellsouth.net",
    "yahoo.com.mx",
    "me.com",
    "cox.net",
    "optonline.net",
    "charter.net",
    "live.com.mx",
    "rocketmail.com",
    "mail.com",
    "earthlink.net",
    "gmail",
    "outlook.es",
    "mac.com",
    "protonmail.com",
    "hotmail.fr",
    "web.de",
)
_EMAIL_WEIGHTS = np.array(
    [
        *(39, 17, 8, 6, 5, 1.3, 1.1, 0.9, 0.7, 0.7, 0.5, 0.5, 0.4, 0.4, 0.3),
        *(0.3, 0.3, 0.3, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.08, 0.07, 0.05, 0.01, 0.05, 0.05),
    ]
)
EMAIL_WEIGHTS = _EMAIL_WEIGHTS / _EMAIL_WEIGHTS.sum()
# Fraudsters prefer throw-away and privacy-friendly mailboxes (a weak, overlapping signal).
_FRAUD_EMAIL = _EMAIL_WEIGHTS.copy()
_FRAUD_EMAIL[[2, 3, 7, 27]] *= (2.5, 2.0, 3.0, 10.0)
FRAUD_EMAIL_WEIGHTS = _FRAUD_EMAIL / _FRAUD_EMAIL.sum()

DEVICE_TYPES = ("desktop", "mobile")
DESKTOP_INFO = ("Windows", "MacOS", "Trident/7.0", "rv:11.0", "Linux", "rv:57.0", "rv:58.0")
WINDOWS_OS = ("Windows 10", "Windows 7", "Windows 8.1")
MAC_OS = ("Mac OS X 10_12_6", "Mac OS X 10_13_1")
DESKTOP_BROWSERS = (
    "chrome 63.0",
    "chrome 64.0",
    "chrome 65.0",
    "firefox 57.0",
    "edge 16.0",
    "ie 11.0 for desktop",
)
DESKTOP_SCREENS = ("1920x1080", "1366x768", "1440x900", "2560x1600", "1600x900", "1280x800")
MOBILE_OS = ("iOS 11.2.1", "iOS 11.1.2", "iOS 11.3.0", "Android 7.0", "Android 8.0.0", "Android 6.0.1")
MOBILE_BROWSERS = (
    "mobile safari 11.0",
    "chrome 63.0 for android",
    "chrome 65.0 for android",
    "samsung browser 6.2",
)
MOBILE_SCREENS = ("2208x1242", "1334x750", "2436x1125", "1920x1080", "2560x1440", "1280x720")
ANDROID_MAKERS = (
    "SM-G",
    "SM-J",
    "SAMSUNG SM-G",
    "SM-A",
    "LG-K",
    "Moto G (5) Plus",
    "Redmi Note",
    "HUAWEI VNS-L",
)
ANDROID_BUILDS = ("NRD90M", "MMB29K", "LRX22G", "NPNS25.137-92-4", "R16NW", "OPM1.171019.011")

FOUND = ("Found", "NotFound")
NEW_FOUND = ("New", "Found")
ID15 = ("New", "Found", "Unknown")
PROXY = ("IP_PROXY:TRANSPARENT", "IP_PROXY:ANONYMOUS", "IP_PROXY:HIDDEN")
MATCH_STATUS = ("match_status:2", "match_status:1", "match_status:0", "match_status:-1")
TF = ("T", "F")
M4_VALUES = ("M0", "M1", "M2")

# V columns come in blocks that are missing together in the real files (one mask per block):
# (first, last, share of rows missing, True when the block belongs to the identity side).
V_BLOCKS = (
    (1, 11, 0.47, False),
    (12, 34, 0.13, False),
    (35, 52, 0.28, False),
    (53, 74, 0.13, False),
    (75, 94, 0.15, False),
    (95, 137, 0.001, False),
    (138, 166, 0.86, True),
    (167, 216, 0.76, True),
    (217, 278, 0.77, True),
    (279, 321, 0.001, False),
    (322, 339, 0.86, True),
)
# V columns that carry amounts rather than counts in the real files.
V_AMOUNT_COLUMNS = frozenset(
    [*range(126, 138), *range(202, 217), *range(263, 279), *range(306, 322), *range(331, 340)]
)


def android_device_infos(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct-looking Android DeviceInfo strings ("SM-G610M Build/MMB29K")."""
    makers = rng.choice(np.array(ANDROID_MAKERS), n)
    models = rng.integers(100, 999, n).astype(str)
    builds = rng.choice(np.array(ANDROID_BUILDS), n)
    return np.char.add(np.char.add(np.char.add(makers, models), " Build/"), builds)
