"""Label stage: Label (stream ``labels``) -> label store, live model quality, label delay statistics.

Each label is joined with the score the score stage stored for its transaction
(``ScoreKeys.result``) and kept for retraining (``LabelStored`` on ``labels.stored``, and a
hash per transaction) and in the sliding window of the latest labels. The live quality over
that window (``QUALITY_WINDOW``: precision and recall at the review threshold, PR-AUC as
average precision, the fraud share) is computed where it is read (``live_quality``, by the
gateway), not per batch: reading and ranking the window costs ~10 ms, and a label stage that
paid it on every batch spent most of a core on it whatever the label rate.

A label whose transaction is not scored yet (a backlog: labels overtake their scores) waits
in the store and is joined when the score exists: before each label batch here, and before
each score batch (``infra.pipeline.score``), bounded in time and number (past the bound it is
stored unscored). ``Quality.labels_waiting`` says how many wait.

State goes through the ``LabelStore`` port (Redis: one script call per batch). It is
idempotent by TransactionID: a redelivered label changes no counter and is reported again
with the same join, so the effects the runtime commits are the same too; a waiting label is
counted once, when it is joined, whichever stage joins it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from data.schema import Label
from functions.events import LabelStored

QUALITY_WINDOW = 5_000
"""Latest labels the live precision / recall / PR-AUC are computed over."""


@dataclass(frozen=True)
class LabelIn:
    """A label and when it arrived (its ``published_ns``), as the label function receives it."""

    label: Label
    arrived_ns: int | None


@dataclass(frozen=True)
class Quality:
    """Live model quality over the sliding window of labelled, scored transactions."""

    window: int
    fraud: int
    precision: float
    recall: float
    pr_auc: float
    review_threshold: float
    labels_waiting: int = 0  # labels whose transaction is not scored yet


class LabelReads(Protocol):
    """What the live quality reads of a label store (one store, or every shard's together)."""

    def waiting(self) -> int: ...

    def window(self) -> list[tuple[int, float]]: ...


class LabelStore(Protocol):
    """Port: store a batch of labels (idempotently) and return their joins and the window."""

    def store(self, batch: Sequence[LabelIn]) -> list[LabelStored]:
        """One ``LabelStored`` per label, in order; counters and window updated once per TransactionID.

        A label whose score does not exist yet waits (``probability`` None, nothing counted)."""
        ...

    def join_waiting(self) -> tuple[int, int]:
        """Join waiting labels whose score now exists: (joined, stored unscored past the wait bound)."""
        ...

    def waiting(self) -> int:
        """Labels waiting for their transaction's score."""
        ...

    def window(self) -> list[tuple[int, float]]:
        """(isFraud, probability) of the latest scored labels, at most ``QUALITY_WINDOW``."""
        ...


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """PR-AUC as average precision (the step-wise sum, as scikit-learn computes it); NaN if no fraud."""
    positives = int(labels.sum())
    if positives == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    ranked_scores, ranked = scores[order], labels[order]
    tp = np.cumsum(ranked)
    # one precision/recall point per distinct score (ties share one threshold)
    last = np.r_[np.flatnonzero(np.diff(ranked_scores)), len(ranked) - 1]
    precision = tp[last] / (last + 1)
    recall = tp[last] / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def quality(window: Sequence[tuple[int, float]], review_threshold: float) -> Quality:
    """Precision / recall at the review threshold and PR-AUC of a window of (label, probability)."""
    if not window:
        nan = float("nan")
        return Quality(0, 0, nan, nan, nan, review_threshold)
    pairs = np.asarray(window, dtype=np.float64)
    labels, scores = pairs[:, 0], pairs[:, 1]
    flagged = scores >= review_threshold
    tp = float(np.sum(flagged & (labels == 1)))
    positives = float(labels.sum())
    return Quality(
        window=len(pairs),
        fraud=int(positives),
        precision=tp / float(flagged.sum()) if flagged.any() else float("nan"),
        recall=tp / positives if positives else float("nan"),
        pr_auc=average_precision(labels, scores),
        review_threshold=review_threshold,
    )


def label(batch: Sequence[LabelIn], store: LabelStore) -> list[LabelStored]:
    """Join the waiting labels that can be, then store the batch."""
    store.join_waiting()
    return store.store(batch)


def live_quality(store: LabelReads, review_threshold: float) -> Quality:
    """The live quality over the window of the latest labels, and how many labels wait for a score."""
    return dataclasses.replace(quality(store.window(), review_threshold), labels_waiting=store.waiting())
