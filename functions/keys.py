"""Fraud keyspace: every Redis key the stages and the gateway keep, built in one place, one class per owner.

All keys live under the runtime's prefix (``ctx.keys.prefix``; a scratch prefix for replays)::

    FeatureKeys: the enrich stage's state
    <prefix>feat:e:<entity>:<value>     string: packed float64 state: all-history n, sum, sum of
                                         squares, newest TransactionDT, then per window bucket slot:
                                         bucket id, count, amount sum, sum of squares
    <prefix>feat:c:<entity>:<value>     zset: companion (card, address ...) -> newest TransactionDT,
                                         trimmed to the last 24 hours of event time
    <prefix>feat:seen:<uid>             hash: "d:<device>" / "e:<email>" -> first TransactionDT seen
    <prefix>feat:vec:<TransactionID>    string: the packed stateful features computed for the tx,
                                         returned again on re-processing (idempotency)
    <prefix>tx:received:<TransactionID> hash: ``raw``, the transaction as received (forensics),
                                         expiring with the result record
    ScoreKeys: the score stage's records
    <prefix>result:<TransactionID>      hash: the result record of one transaction (``functions.result``)
    <prefix>kpi:<minute>                hash: per-minute score counters (``functions.result``)
    <prefix>hist:card:<card1>           zset: the card's newest scored TransactionIDs -> scored at (ms),
    <prefix>hist:uid:<uid>              the client's: bounded per entity, expiring with the result records
    <prefix>alerts                      pub/sub channel of alerts
    LabelKeys: the label stage's store
    <prefix>feat:lbl:...                labels, their window, counters and live quality
    OperatorKeys: what people change through the gateway
    <prefix>strategy                    hash: live decision thresholds (review, decline, updated_by ...)
    <prefix>audit                       stream: audit log of strategy / model changes
    <prefix>alert:verdict:<TransactionID>  hash: analyst's verdict on an alert (becomes a label)
    <prefix>alert:open:..., alert:entry, alert:resolved..., alert:cursor..., alert:waits
                                        the open-alerts index (``gateway.services.queue_index``)
    <prefix>alert:outbox                hash: sharded streams: verdict labels not yet in their shard
    <prefix>alert:labelled:<TransactionID>  string (under the shard's prefix): that label was appended
    <prefix>gateway:authfail:<address>  hash: failed authentications of an address in its window
    ModelJobKeys: the model lifecycle jobs (models.jobs)
    <prefix>model:drift                 stream: drift reports (capped), newest last
    <prefix>model:drift:live            pub/sub channel: each new drift report as JSON
    <prefix>model:jobs                  hash: lifecycle job state (last retrain, its trigger ...)
    <prefix>model:retrain:lock          string, expiring: held while a retrain runs
    scratch_prefix: throwaway state
    <prefix>scratch:<purpose>:<id>:...  a training-set replay, a benchmark, the gateway's dry runs

On a Redis Cluster ``FeatureKeys.spread``: the keys of ``feat:e``/``feat:c`` of e-mail, device and
address are under the spread prefix their value hashes to (each a hash tag of its own slot);
card and uid state, ``feat:seen`` and ``feat:vec`` are under the stream shard's prefix; and ``feat:vec:<id>`` is
kept under every prefix the transaction's state touched, with the part of the vector computed there.

State keys expire after a period without activity (``FeatureTtl``), so memory is bounded
by the entities active in that period.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass


def scratch_prefix(key_prefix: str, purpose: str, one_slot: bool = False) -> str:
    """A prefix under ``key_prefix`` that nothing else uses, for throwaway state (drop it after).

    ``one_slot``: its id is a hash tag, so on a Redis Cluster every key under it shares one slot
    (a script may then touch any of them)."""
    run = uuid.uuid4().hex[:12]
    return (
        f"{key_prefix}scratch:{purpose}:{{{run}}}:" if one_slot else f"{key_prefix}scratch:{purpose}:{run}:"
    )


@dataclass(frozen=True)
class FeatureKeys:
    """The enrich stage's feature-state keys under one prefix.

    ``spread``: on a Redis Cluster, the prefixes (one hash tag each) over which state that spans
    cards (e-mail, device, address) is spread by a hash of its value
    (:meth:`shared`); card-local state and the vectors stay under ``prefix`` (the stream shard's).
    Empty (one Redis): everything under ``prefix``."""

    prefix: str
    spread: tuple[str, ...] = ()

    def shared(self, name: str, value: str) -> FeatureKeys:
        """The keys of the state of ``name`` = ``value`` that spans cards: under the prefix of
        ``spread`` its CRC32 picks (the same in every process), or these keys when not spread."""
        if not self.spread:
            return self
        return FeatureKeys(self.spread[zlib.crc32(f"{name}:{value}".encode()) % len(self.spread)])

    @property
    def placeholder(self) -> str:
        """Never written: stands for an absent entity in a feature script's KEYS, in this prefix's
        slot (a cluster refuses a script whose keys span slots)."""
        return f"{self.prefix}feat:none"

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

    def vector(self, transaction_id: int) -> str:
        return f"{self.prefix}feat:vec:{transaction_id}"

    def received(self, transaction_id: int) -> str:
        """Hash: ``raw``, the transaction as received (JSON), for forensics; expires with the result."""
        return f"{self.prefix}tx:received:{transaction_id}"


@dataclass(frozen=True)
class ScoreKeys:
    """The score stage's records under one prefix."""

    prefix: str

    def result(self, transaction_id: int) -> str:
        """Hash: the result record of one transaction (fields: ``functions.result``); expiring."""
        return f"{self.prefix}result:{transaction_id}"

    def kpi(self, minute: int) -> str:
        """Hash: per-minute counters of the score stage (``functions.result.kpi_increments``)."""
        return f"{self.prefix}kpi:{minute}"

    def segments(self, minute: int) -> str:
        """Hash: per-minute counters per segment and decision (``functions.result.segment_increments``)."""
        return f"{self.prefix}kpiseg:{minute}"

    def card_history(self, card1: int) -> str:
        """Zset: the card's newest scored TransactionIDs, scored by when (unix ms); bounded, expiring."""
        return f"{self.prefix}hist:card:{card1}"

    def client_history(self, uid: str) -> str:
        """Zset: the client's (uid's) newest scored TransactionIDs, as ``card_history``."""
        return f"{self.prefix}hist:uid:{uid}"

    @property
    def alerts_channel(self) -> str:
        """Pub/sub channel: every AlertRaised as JSON, for live dashboards."""
        return f"{self.prefix}alerts"


@dataclass(frozen=True)
class LabelKeys:
    """The label stage's store and live quality under one prefix."""

    prefix: str

    def label(self, transaction_id: int) -> str:
        """Hash: the label of one transaction joined with its result (``functions.label_store``: isFraud,
        TransactionDT, amount, probability, decision, model_version, delay_s, segment)."""
        return f"{self.prefix}feat:lbl:tx:{transaction_id}"

    @property
    def window(self) -> str:
        """Zset: recent labelled transactions, member "txid:label:probability" (probability empty
        when the transaction was never scored), score = label arrival time (ns)."""
        return f"{self.prefix}feat:lbl:window"

    @property
    def stats(self) -> str:
        """Hash: label counters (labels, fraud, unscored, late, delay sums)."""
        return f"{self.prefix}feat:lbl:stats"

    @property
    def waiting(self) -> str:
        """Hash: labels waiting for their transaction's score, TransactionID -> "label:arrival_ns"."""
        return f"{self.prefix}feat:lbl:waiting"

    @property
    def waiting_age(self) -> str:
        """Zset: the waiting labels, member TransactionID, score = when it began waiting (ms)."""
        return f"{self.prefix}feat:lbl:waiting:age"


@dataclass(frozen=True)
class OperatorKeys:
    """What operators change through the gateway (the score and label stages read the strategy)."""

    prefix: str

    @property
    def strategy(self) -> str:
        """Hash: the live thresholds ``review``, ``decline`` and who set them (``updated_by``/``_at``)."""
        return f"{self.prefix}strategy"

    @property
    def audit(self) -> str:
        """Stream: audit trail of operator actions (strategy changes, alert verdicts, model pointer)."""
        return f"{self.prefix}audit"

    def auth_failures(self, address: str) -> str:
        """Hash: failed authentications of one client address in its current window (``start``,
        ``n``), shared by every gateway worker; expiring with the window."""
        return f"{self.prefix}gateway:authfail:{address}"

    def alert_verdict(self, transaction_id: int) -> str:
        """Hash: an analyst's verdict on the alert of one transaction (verdict, by, at, note); expiring."""
        return f"{self.prefix}alert:verdict:{transaction_id}"

    def queue_order(self, order: str, decision: str) -> str:
        """Zset: the open alerts' index (``gateway.services.queue_index``), member TransactionID, scored
        by ``order`` (raised / amount / probability), of one ``decision`` (review / decline / all)."""
        return f"{self.prefix}alert:open:{decision}:{order}"

    @property
    def queue_entries(self) -> str:
        """Hash: TransactionID -> alerts stream entry id, of every alert the queue index holds."""
        return f"{self.prefix}alert:entry"

    @property
    def queue_resolved(self) -> str:
        """Zset: resolved alerts still in the alerts stream, member TransactionID, score = raise order."""
        return f"{self.prefix}alert:resolved"

    @property
    def queue_cursor(self) -> str:
        """String: the last alerts stream entry id the queue index has taken in."""
        return f"{self.prefix}alert:cursor"

    def queue_shard_cursor(self, shard: int) -> str:
        """String: with stream shards, the last entry id of shard ``shard``'s alerts stream the index
        has taken in (one stream: ``queue_cursor``)."""
        return f"{self.prefix}alert:cursor:{shard}"

    def queue_shard_open(self, shard: int) -> str:
        """Zset: with stream shards, the open alerts of shard ``shard`` scored by raise order, so that
        alerts its stream has trimmed leave the index (one stream: the ``all``/``raised`` zset)."""
        return f"{self.prefix}alert:open:shard:{shard}"

    def queue_shard_resolved(self, shard: int) -> str:
        """Zset: with stream shards, ``queue_resolved`` of shard ``shard``'s alerts stream."""
        return f"{self.prefix}alert:resolved:{shard}"

    @property
    def label_outbox(self) -> str:
        """Hash: with stream shards, verdict labels committed but not yet appended to their
        transaction's shard: TransactionID -> JSON (shard, label fields) (``gateway.services.outbox``)."""
        return f"{self.prefix}alert:outbox"

    def label_sent(self, transaction_id: int) -> str:
        """String, expiring, under the transaction's stream shard prefix: set in the script that
        appends a verdict's label to that shard's labels stream, so a re-sent outbox entry appends
        nothing."""
        return f"{self.prefix}alert:labelled:{transaction_id}"

    @property
    def verdict_waits(self) -> str:
        """Zset: the latest verdicts, member "TransactionID:seconds from alert to verdict", score = when (ms)."""
        return f"{self.prefix}alert:waits"


@dataclass(frozen=True)
class ModelJobKeys:
    """The model lifecycle jobs' keys under one prefix."""

    prefix: str

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
        """Hash: lifecycle job state (``last_retrain_at``, ``last_trigger``)."""
        return f"{self.prefix}model:jobs"

    @property
    def retrain_lock(self) -> str:
        """String, expiring: the id of the retrain job that holds it (one retrain at a time)."""
        return f"{self.prefix}model:retrain:lock"
