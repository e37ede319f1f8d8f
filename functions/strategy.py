"""Decision strategy, state: the live thresholds every reader uses (score, label, gateway), one store.

Where the thresholds come from, in order:

1. ``strategy``: set by an operator (``PUT /v1/strategy``), kept in ``OperatorKeys.strategy``;
2. ``champion``: the champion model's own cost-optimal thresholds, computed at training;
3. ``defaults``: the configured ``strategy.review_threshold`` / ``decline_threshold``, only for
   a champion that has none (or none that keeps the ordering rule of ``Thresholds``).

The store reads Redis through an injected client; the caller passes the champion's thresholds
(the score stage from its loaded model, the others from the registry).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import msgspec

from functions.decision import Thresholds
from functions.keys import OperatorKeys

Source = Literal["strategy", "champion", "defaults"]


class LiveThresholds(msgspec.Struct, frozen=True, kw_only=True):
    """The thresholds in force, where they come from, and who set them (for ``strategy``)."""

    thresholds: Thresholds
    source: Source
    updated_at: str | None = None
    updated_by: str | None = None


class QueuedWrites(Protocol):
    """A Redis pipeline (MULTI/EXEC) the write is queued on, to commit with its audit entry."""

    def hset(self, name: str, *, mapping: Any) -> Any: ...


class ThresholdStore(Protocol):
    """Port: the live thresholds, and an operator's change of them."""

    def live(self, champion: tuple[float, float] | None) -> LiveThresholds:
        """The thresholds in force, given the champion's own (None: no champion, or it has none)."""
        ...

    def set(self, pipe: QueuedWrites, thresholds: Thresholds, actor: str, at: str) -> None:
        """Queue an operator's thresholds on ``pipe`` (executed by the caller, with its audit entry)."""
        ...


class StrategyClient(Protocol):
    def hmget(self, name: str, keys: list[str]) -> Any: ...


def champion_thresholds(champion: tuple[float, float] | None) -> Thresholds | None:
    """A champion's (review, decline) as Thresholds, or None when it has none that keep the rule."""
    if champion is None:
        return None
    try:
        return Thresholds(review=champion[0], decline=champion[1])
    except ValueError:
        return None


class RedisThresholds:
    """``ThresholdStore`` on one Redis hash (``OperatorKeys.strategy``)."""

    _FIELDS = ("review", "decline", "updated_at", "updated_by")

    def __init__(self, client: StrategyClient, keys: OperatorKeys, defaults: tuple[float, float]) -> None:
        self._client = client
        self._key = keys.strategy
        self._defaults = Thresholds(review=defaults[0], decline=defaults[1])  # bad config: fails at start

    def live(self, champion: tuple[float, float] | None) -> LiveThresholds:
        review, decline, at, by = self._client.hmget(self._key, list(self._FIELDS))
        if review is not None and decline is not None:
            return LiveThresholds(
                thresholds=Thresholds(review=float(review), decline=float(decline)),
                source="strategy",
                updated_at=at.decode() if at is not None else None,
                updated_by=by.decode() if by is not None else None,
            )
        own = champion_thresholds(champion)
        if own is not None:
            return LiveThresholds(thresholds=own, source="champion")
        return LiveThresholds(thresholds=self._defaults, source="defaults")

    def set(self, pipe: QueuedWrites, thresholds: Thresholds, actor: str, at: str) -> None:
        """Queue the new strategy on ``pipe`` (the caller adds the audit entry and executes)."""
        mapping = {
            "review": repr(thresholds.review),
            "decline": repr(thresholds.decline),
            "updated_at": at,
            "updated_by": actor,
        }
        pipe.hset(self._key, mapping=mapping)
