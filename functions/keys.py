"""Feature state plumbing: every Redis key of the enrich stage's state, built in one place.

All keys live under the runtime's prefix (``ctx.keys.prefix``; a scratch prefix for replays)::

    <prefix>feat:e:<entity>:<value>     string: packed float64 state: all-history n, sum, sum of
                                         squares, newest TransactionDT, then per window bucket slot:
                                         bucket id, count, amount sum, sum of squares
    <prefix>feat:c:<entity>:<value>     zset: companion (card, address ...) -> newest TransactionDT,
                                         trimmed to the last 24 hours of event time
    <prefix>feat:seen:<uid>             hash: "d:<device>" / "e:<email>" -> first TransactionDT seen
    <prefix>feat:freq:<column>          hash: value -> count (online frequency encoding)
    <prefix>feat:vec:<TransactionID>    string: the packed stateful features computed for the tx,
                                         returned again on re-processing (idempotency)
    <prefix>result:<TransactionID>      hash: the score stage's result for one transaction (expiring)
    <prefix>kpi:<minute>                hash: per-minute score counters (expiring)
    <prefix>alerts                      pub/sub channel of alerts
    <prefix>strategy                    hash: live decision thresholds (review, decline, updated_by ...)
    <prefix>audit                       stream: audit log of strategy / model changes
    <prefix>alert:verdict:<TransactionID>  hash: analyst's verdict on an alert (becomes a label)
    <prefix>feat:lbl:...                label store and live quality metrics (the label stage)
    <prefix>model:drift                 stream: drift reports of the drift job (capped), newest last
    <prefix>model:drift:live            pub/sub channel: each new drift report as JSON
    <prefix>model:jobs                  hash: lifecycle job state (last retrain, last trigger ...)
    <prefix>model:retrain:lock          string, expiring: held while a retrain runs

State keys expire after a period without activity (``FeatureTtl``), so memory is bounded
by the entities active in that period.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureKeys:
    """Builds the feature-state key names under one prefix."""

    prefix: str

    @property
    def root(self) -> str:
        """Common start of every feature-state key (for scans that drop a scratch prefix)."""
        return f"{self.prefix}feat:"

    def entity(self, entity: str, value: str) -> str:
        return f"{self.prefix}feat:e:{entity}:{value}"

    def companions(self, entity: str, value: str) -> str:
        return f"{self.prefix}feat:c:{entity}:{value}"

    def seen(self, uid: str) -> str:
        return f"{self.prefix}feat:seen:{uid}"

    def frequency(self, column: str) -> str:
        return f"{self.prefix}feat:freq:{column}"

    def vector(self, transaction_id: int) -> str:
        return f"{self.prefix}feat:vec:{transaction_id}"

    # score stage
    def result(self, transaction_id: int) -> str:
        """Hash: probability, decision, risk, model_version, review/decline_threshold, TransactionDT,
        amount, card1, uid, published_ns, reasons (JSON), challenger_* (shadow score)."""
        return f"{self.prefix}result:{transaction_id}"

    def kpi(self, minute: int) -> str:
        """Hash: per-minute counters of the score stage (scored, approve/review/decline, amounts)."""
        return f"{self.prefix}kpi:{minute}"

    @property
    def alerts_channel(self) -> str:
        """Pub/sub channel: every AlertRaised as JSON, for live dashboards."""
        return f"{self.prefix}alerts"

    # label stage
    def label(self, transaction_id: int) -> str:
        """Hash: the label of one transaction (isFraud, TransactionDT, amount, probability, delay_s)."""
        return f"{self.prefix}feat:lbl:tx:{transaction_id}"

    @property
    def label_window(self) -> str:
        """Zset: recent labelled transactions, member "txid:label:probability" (probability empty
        when the transaction was never scored), score = label arrival time (ns)."""
        return f"{self.prefix}feat:lbl:window"

    @property
    def label_stats(self) -> str:
        """Hash: label counters (labels, fraud, unscored, delay sums)."""
        return f"{self.prefix}feat:lbl:stats"

    @property
    def label_quality(self) -> str:
        """Hash: the live precision / recall / PR-AUC over the sliding window."""
        return f"{self.prefix}feat:lbl:quality"

    # decision strategy (score stage reads it; the gateway's Strategy API writes it)
    @property
    def strategy(self) -> str:
        """Hash: the live thresholds ``review``, ``decline`` and who set them (``updated_by``/``_at``)."""
        return f"{self.prefix}strategy"

    @property
    def audit(self) -> str:
        """Stream: audit trail of operator actions (strategy changes, alert verdicts, model pointer)."""
        return f"{self.prefix}audit"

    # model lifecycle jobs (models.jobs)
    @property
    def drift_reports(self) -> str:
        """Stream: one drift report (JSON, field ``d``) per drift check, capped, newest last."""
        return f"{self.prefix}model:drift"

    @property
    def drift_channel(self) -> str:
        """Pub/sub channel: each new drift report as JSON, for live dashboards."""
        return f"{self.prefix}model:drift:live"

    @property
    def jobs_state(self) -> str:
        """Hash: lifecycle job state (``last_retrain_at``, ``last_trigger``, ``last_decision`` ...)."""
        return f"{self.prefix}model:jobs"

    @property
    def retrain_lock(self) -> str:
        """String, expiring: the id of the retrain job that holds it (one retrain at a time)."""
        return f"{self.prefix}model:retrain:lock"

    # alert queue (the score stage raises alerts; analysts resolve them through the gateway)
    def alert_verdict(self, transaction_id: int) -> str:
        """Hash: an analyst's verdict on the alert of one transaction (verdict, by, at, note); expiring."""
        return f"{self.prefix}alert:verdict:{transaction_id}"
