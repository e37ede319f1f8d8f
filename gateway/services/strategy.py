"""Decision strategy: the live thresholds the score stage reads from Redis, changed and simulated here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis

from functions.keys import FeatureKeys
from gateway.problems import Invalid
from gateway.schemas.strategy import Simulation, SimulationRequest, Strategy, StrategyUpdate
from gateway.services.audit import AuditLog, now_iso

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeclineCost:
    """What declining a legitimate payment costs: a fixed fee plus a share of its amount."""

    fee: float
    amount_share: float


def check_order(review: float, decline: float) -> None:
    if not review < decline:
        raise Invalid("decline_threshold", f"must be greater than review_threshold ({review})")


def simulate(
    review: float,
    decline: float,
    probs: np.ndarray,
    labels: np.ndarray,
    amounts: np.ndarray,
    cost: DeclineCost,
) -> Simulation:
    """Precision, recall, rates and money for thresholds over labelled, scored transactions."""
    n = len(probs)
    fraud = labels == 1
    flagged = probs >= review
    declined = probs >= decline
    caught = flagged & fraud
    legit_declined = declined & ~fraud
    return Simulation(
        review_threshold=review,
        decline_threshold=decline,
        transactions=n,
        frauds=int(fraud.sum()),
        precision=float(caught.sum() / flagged.sum()) if flagged.any() else None,
        recall=float(caught.sum() / fraud.sum()) if fraud.any() else None,
        review_rate=float((flagged & ~declined).sum() / n) if n else 0.0,
        decline_rate=float(declined.sum() / n) if n else 0.0,
        fraud_amount_total=round(float(amounts[fraud].sum()), 2),
        fraud_amount_caught=round(float(amounts[caught].sum()), 2),
        false_decline_cost=round(float((cost.fee + cost.amount_share * amounts[legit_declined]).sum()), 2),
    )


class StrategyService:
    """Reads and changes the live thresholds (one Redis hash) and replays them over labelled history."""

    def __init__(
        self,
        client: redis.Redis,
        keys: FeatureKeys,
        audit: AuditLog,
        defaults: tuple[float, float],
        cost: DeclineCost,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._audit = audit
        self._defaults = defaults
        self._cost = cost

    def get(self) -> Strategy:
        found: Any = self._redis.hgetall(self._keys.strategy)
        raw = {k.decode(): v.decode() for k, v in found.items()}
        if "review" not in raw or "decline" not in raw:
            review, decline = self._defaults
            return Strategy(review_threshold=review, decline_threshold=decline)
        return Strategy(
            review_threshold=float(raw["review"]),
            decline_threshold=float(raw["decline"]),
            updated_at=raw.get("updated_at"),
            updated_by=raw.get("updated_by"),
        )

    def put(self, update: StrategyUpdate, actor: str) -> Strategy:
        check_order(update.review_threshold, update.decline_threshold)
        before = self.get()
        at = now_iso()
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(
            self._keys.strategy,
            mapping={
                "review": repr(update.review_threshold),
                "decline": repr(update.decline_threshold),
                "updated_at": at,
                "updated_by": actor,
            },
        )
        detail = {
            "review": f"{before.review_threshold} -> {update.review_threshold}",
            "decline": f"{before.decline_threshold} -> {update.decline_threshold}",
        }
        self._audit.record(pipe, actor, "strategy.update", detail, at)
        pipe.execute()
        return Strategy(
            review_threshold=update.review_threshold,
            decline_threshold=update.decline_threshold,
            updated_at=at,
            updated_by=actor,
        )

    def simulate(self, request: SimulationRequest) -> Simulation:
        check_order(request.review_threshold, request.decline_threshold)
        probs, labels, amounts = self._labelled(request.limit)
        return simulate(
            request.review_threshold, request.decline_threshold, probs, labels, amounts, self._cost
        )

    def _labelled(self, limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probability, label, amount) of the most recent scored, labelled transactions."""
        members: Any = self._redis.zrevrange(self._keys.label_window, 0, limit - 1)
        ids, labels, probs = [], [], []
        for member in members:
            tx_id, label, score = member.decode().split(":")
            if score in ("", "nan", "None"):
                continue  # labelled but never scored: nothing to simulate
            ids.append(int(tx_id))
            labels.append(int(label))
            probs.append(float(score))
        pipe = self._redis.pipeline(transaction=False)
        for tx_id in ids:
            pipe.hget(self._keys.label(tx_id), "amount")
        amounts = [float(a) if a is not None else 0.0 for a in pipe.execute()]
        return (
            np.asarray(probs, dtype=np.float64),
            np.asarray(labels, dtype=np.int64),
            np.asarray(amounts, dtype=np.float64),
        )
