"""Readable numbers: currency, percentages, thousands separators, ages, probabilities."""

from __future__ import annotations

import time


def money(value: float | None) -> str:
    if value is None:
        return "–"
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def count(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def rate(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}/s"


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f} ms"


def prob(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def age(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def since(unix_s: float) -> str:
    """How long ago a unix time was, e.g. '3 min'."""
    return age(time.time() - unix_s)


def clock(unix_s: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(unix_s))
