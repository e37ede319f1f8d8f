"""Decision strategy: the live thresholds (``functions.strategy``, as the stages read them), changed and
simulated here."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import redis

from functions.decision import Thresholds
from functions.keys import LabelKeys
from functions.label_store import read_windows
from functions.strategy import ThresholdStore
from gateway.problems import Invalid
from gateway.schemas.strategy import Simulation, SimulationRequest, Strategy, StrategyUpdate
from gateway.services.audit import AuditLog, now_iso

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeclineCost:
    """What declining a legitimate payment costs: a fixed fee plus a share of its amount."""

    fee: float
    amount_share: float


def check_order(review: float, decline: float) -> Thresholds:
    """The requested thresholds, if they keep the one ordering rule (``Thresholds``): else 400."""
    try:
        return Thresholds(review=review, decline=decline)
    except ValueError as exc:
        raise Invalid("decline_threshold", str(exc)) from exc


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
    """Reads and changes the live thresholds (the stages' store) and replays them over labelled history."""

    def __init__(
        self,
        client: redis.Redis,
        store: ThresholdStore,
        champion: Callable[[], tuple[float, float] | None],  # the champion's own thresholds, if any
        labels: Sequence[LabelKeys],  # every stream shard's label store
        audit: AuditLog,
        cost: DeclineCost,
    ) -> None:
        self._redis = client
        self._store = store
        self._champion = champion
        self._labels = list(labels)
        self._audit = audit
        self._cost = cost

    def get(self) -> Strategy:
        live = self._store.live(self._champion())
        return Strategy(
            review_threshold=live.thresholds.review,
            decline_threshold=live.thresholds.decline,
            source=live.source,
            updated_at=live.updated_at,
            updated_by=live.updated_by,
        )

    def put(self, update: StrategyUpdate, actor: str) -> Strategy:
        wanted = check_order(update.review_threshold, update.decline_threshold)
        before = self.get()
        at = now_iso()
        pipe = self._redis.pipeline(transaction=True)
        self._store.set(pipe, wanted, actor, at)
        detail = {
            "review": f"{before.review_threshold} -> {update.review_threshold}",
            "decline": f"{before.decline_threshold} -> {update.decline_threshold}",
        }
        self._audit.record(pipe, actor, "strategy.update", detail, at)
        pipe.execute()
        return Strategy(
            review_threshold=update.review_threshold,
            decline_threshold=update.decline_threshold,
            source="strategy",
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
        window = read_windows(self._redis, self._labels, limit)
        labels = [y for _, y, _, _ in window]
        probs = [p for _, _, p, _ in window]
        pipe = self._redis.pipeline(transaction=False)
        for tx_id, _, _, store in window:
            pipe.hget(store.label(tx_id), "amount")
        amounts = [float(a) if a is not None else 0.0 for a in pipe.execute()]
        return (
            np.asarray(probs, dtype=np.float64),
            np.asarray(labels, dtype=np.int64),
            np.asarray(amounts, dtype=np.float64),
        )
