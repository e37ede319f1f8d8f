"""Score stage: enriched transactions -> ``TxScored`` (+ ``AlertRaised`` for review / decline).

Pure and deterministic: the model (a ``Scorer`` port), an optional challenger scored in
shadow, and the thresholds come in as arguments; nothing is read from Redis or the clock.
One batched model call per batch; reasons (the model's path attribution, ``Scorer.reasons``)
only for the rows at or above the review threshold (approvals need none, and explaining costs
more than predicting).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np

from functions.decision import RISK, Thresholds
from functions.events import AlertRaised, ShadowScore, TxEnriched, TxScored, feature_matrix
from functions.features import CATEGORICAL_COLUMNS, FEATURE_INDEX, FEATURE_NAMES
from functions.scorer import Matrix, Reason, Scorer

DEFAULT_REASONS = 5
"""Reasons per flagged row when the caller sets none (the score stage passes ``models.max_reasons``)."""
CATEGORICAL = frozenset(CATEGORICAL_COLUMNS)


def model_matrix(full: Matrix, names: Sequence[str]) -> Matrix:
    """The columns a model expects, from a matrix in ``FEATURE_NAMES`` order."""
    if len(names) == len(FEATURE_NAMES) and list(names) == FEATURE_NAMES:
        return full
    missing = [name for name in names if name not in FEATURE_INDEX]
    if missing:
        # A model trained on features this code no longer computes: a deployment error.
        raise ValueError(f"model needs features the enrich stage does not produce: {missing[:5]}")
    return np.ascontiguousarray(full[:, [FEATURE_INDEX[name] for name in names]])


def readable(reasons: list[Reason], tx: TxEnriched) -> list[Reason]:
    """Reasons with a categorical feature's original value instead of the code the model reads."""
    return [
        msgspec.structs.replace(r, value=tx.categories.get(r.feature)) if r.feature in CATEGORICAL else r
        for r in reasons
    ]


def score(
    batch: Sequence[TxEnriched],
    model: Scorer,
    thresholds: Thresholds,
    challenger: Scorer | None = None,
    top_k: int = DEFAULT_REASONS,
) -> tuple[list[TxScored], list[AlertRaised]]:
    """Score a batch: one scored event per input (same order), one alert per review/decline."""
    if not batch:
        return [], []
    full = feature_matrix(batch)
    matrix = model_matrix(full, model.feature_names)
    probabilities = model.predict_proba(matrix)
    decisions = [thresholds.decide(float(p)) for p in probabilities]
    flagged = [i for i, d in enumerate(decisions) if d != "approve"]
    reasons: dict[int, list[Reason]] = {}
    if flagged:
        explained = model.reasons(matrix[flagged], top_k)
        reasons = {i: readable(found, batch[i]) for i, found in zip(flagged, explained, strict=True)}
    shadow: list[ShadowScore | None] = [None] * len(batch)
    if challenger is not None:
        challenger_proba = challenger.predict_proba(model_matrix(full, challenger.feature_names))
        for i, p in enumerate(challenger_proba):
            shadow[i] = ShadowScore(
                model_version=challenger.version, probability=float(p), decision=thresholds.decide(float(p))
            )
    scored, alerts = [], []
    for i, tx in enumerate(batch):
        decision = decisions[i]
        event = TxScored(
            TransactionID=tx.TransactionID,
            TransactionDT=tx.TransactionDT,
            TransactionAmt=tx.TransactionAmt,
            card1=tx.card1,
            uid=tx.uid,
            probability=float(probabilities[i]),
            risk=RISK[decision],
            decision=decision,
            reasons=reasons.get(i, []),
            model_version=model.version,
            review_threshold=thresholds.review,
            decline_threshold=thresholds.decline,
            challenger=shadow[i],
        )
        scored.append(event)
        if decision != "approve":
            alerts.append(AlertRaised.of(event))
    return scored, alerts
