"""Sync scoring: one transaction through the pipeline's own enrich+score functions, inline.

The runtime's one-off door (``streams.inline.InlineChain``) runs the fused chain of the pipeline
table (``wiring.score_chain``), built by the same factories the stream workers use, so a
transaction scored here gets exactly the score the stream path would give it in the same state.
By default the effects (scored event, alert, result record, counters) are committed atomically,
as an authorisation would record them; ``dry_run`` computes on scratch copies of the feature
state and commits nothing.
Idempotent by TransactionID: a transaction already recorded answers with its recorded
result (``replayed``); a concurrent duplicate finds the record at commit and does the same.
Another transaction under a recorded TransactionID (other time, amount or card) is a 409, as is
one whose id the stream path received with other content; a transaction the stream path
received but has not scored yet is a 503 (retry: its score comes from there).

With stream shards (a Redis Cluster) there is one chain per shard, each working as that shard's
consumers do (its feature script once per slot the transaction's state touches, its commit in the
shard's slot), and a transaction runs on the shard its card's events reach on the stream path:
the partition the producers' partitioner gives the key ``card1`` (``streams.keys.partition_of``,
librdkafka's CRC-32 partitioner, over ``kafka.partitions``), routed as the mirror routes it. So a
card's sync and streamed transactions share its state. A producer with another partitioner (a Java
client's murmur2) sends a card elsewhere than this path does: its cards' sync scores would read
another shard's card state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import redis

from core.errors import SentinelError, TransientError
from core.settings import Settings
from data.schema import Transaction
from functions.events import TxScored
from functions.keys import ScoreKeys, scratch_prefix
from functions.result import ResultRecord, from_hash
from gateway.problems import Conflict, Unavailable
from gateway.schemas.common import reasons_of
from gateway.schemas.scoring import ChallengerScore, ScoreResult
from gateway.wiring import Wiring
from models.registry import Registry, RegistryError
from streams.events import ORIGIN, PUBLISHED_NS, Reject
from streams.inline import InlineChain, emitted
from streams.keys import Keys, Shards

log = logging.getLogger(__name__)


# What the warm-up scores (dry: nothing is recorded): the smallest valid transaction.
WARM_UP_PROBE = Transaction(
    TransactionID=0, isFraud=None, TransactionDT=86_400, TransactionAmt=1.0, ProductCD="W", card1=1000
)


def to_result(scored: TxScored, latency_ms: float, dry_run: bool, replayed: bool) -> ScoreResult:
    challenger = scored.challenger
    return ScoreResult(
        transaction_id=scored.TransactionID,
        probability=scored.probability,
        risk_level=scored.risk,
        decision=scored.decision,
        reasons=reasons_of(scored.reasons),
        model_version=scored.model_version,
        challenger=None
        if challenger is None
        else ChallengerScore(
            model_version=challenger.model_version,
            probability=challenger.probability,
            decision=challenger.decision,
        ),
        latency_ms=round(latency_ms, 3),
        dry_run=dry_run,
        replayed=replayed,
    )


class ScoreService:
    def __init__(self, client: redis.Redis, settings: Settings, wiring: Wiring) -> None:
        self._redis = client
        self._shards = Shards.of(settings)
        self._partitions = settings.kafka.partitions
        self._scored_stream = wiring.scored_stream
        self._registry = Registry(settings.models.registry_dir)
        self._chains: list[InlineChain] = []  # one per stream shard
        self._probed: tuple[tuple[Any, ...], str | None] = ((), None)
        self._warmed: str | None = None  # the model version of the warm-up, once it has run
        try:
            scratch = scratch_prefix(settings.redis.key_prefix, "dry-run")
            shared: dict[str, Any] = {}  # one model for every shard's chain
            self._chains = [
                InlineChain(wiring.pipeline, wiring.score_chain, client, settings, scratch, keys, shared)
                for keys in self._shards
            ]
        except SentinelError as exc:  # no model registered yet, no score stage in the table...
            self._unavailable = str(exc)
            log.warning("sync scoring unavailable: %s", exc)
        else:
            self._unavailable = ""

    def _shard_of(self, tx: Transaction) -> int:
        """The stream shard a transaction's card reaches on the stream path (see the module doc)."""
        if self._shards.count == 1:
            return 0
        return self._shards.of_key(str(tx.card1).encode(), self._partitions)

    def warm(self) -> str | None:
        """Score a probe transaction, dry, and load the commit script; None when done, else why not.

        Run before the gateway serves (its lifespan) and by readiness until it succeeds, so the
        first real request finds the champion loaded and warm, the functions built and every
        script in Redis's cache (it took 1.3 s without, against milliseconds after). With stream
        shards, on every shard's chain (a Redis Cluster caches scripts per node).
        """
        if not self._chains:
            return self._unavailable
        started = time.perf_counter()
        meta = {PUBLISHED_NS: str(time.time_ns()), ORIGIN: "warm-up"}
        try:
            effects = [chain.warm("warm-up", WARM_UP_PROBE, meta) for chain in self._chains]
        except (SentinelError, redis.RedisError, OSError) as exc:
            log.warning("scoring not warmed up yet: %s", exc)
            return str(exc)
        scored: TxScored
        (scored,) = emitted(effects[0], self._scored_stream)
        self._warmed = scored.model_version
        log.info(
            "scoring warmed up in %.0f ms: model %s scored a probe row, scripts loaded",
            _ms(started),
            scored.model_version,
        )
        return None

    def unavailable(self) -> str | None:
        """Why scoring cannot run (no score stage, no champion model, not warmed up), or None."""
        if not self._chains:
            return self._unavailable
        try:
            champion = self._registry.pointer().get("champion")
        except RegistryError as exc:
            return f"model registry unreadable: {exc}"
        if not champion or champion not in self._registry.versions():
            return "no champion model registered"
        if (problem := self._loadable(champion)) is not None:
            return problem
        if self._warmed is None and self.warm() is not None:
            return "not warmed up yet (the gateway's log says why)"
        return None

    def _loadable(self, version: str) -> str | None:
        """None when ``version`` loads and scores a probe row, else why not (probed again only
        when its files change)."""
        stamp = (
            version,
            *sorted(
                (f.name, f.stat().st_mtime_ns, f.stat().st_size)
                for f in self._registry.root.joinpath(version).iterdir()
            ),
        )
        if stamp != self._probed[0]:
            try:
                self._registry.probe(version)
                self._probed = (stamp, None)
            except RegistryError as exc:
                log.warning("champion unusable: %s", exc)
                self._probed = (stamp, f"champion {version} cannot be loaded")
        return self._probed[1]

    def score(self, tx: Transaction, dry_run: bool = False, raw: bytes = b"") -> ScoreResult:
        """``tx``'s score (``raw``: the body it was decoded from, kept as received; else its
        canonical JSON is)."""
        started = time.perf_counter()
        if not self._chains:
            raise Unavailable(f"scoring is not available: {self._unavailable}")
        shard = self._shard_of(tx)
        chain = self._chains[shard]
        if self._shards.count > 1:  # another card's transaction under this id ran on another shard,
            # whose received check this shard's chain does not see: look for a record everywhere first
            recorded = self.record(tx.TransactionID)
            if recorded is not None:  # idempotent: a known TransactionID answers with its record
                _same_transaction(recorded.scored, tx)
                return to_result(recorded.scored, _ms(started), dry_run, replayed=True)
        # On one shard no lookup first (a round trip per request): the enrich stage's check of what
        # was received (kept as long as the record) finds a resend, and emits nothing for it
        meta = {PUBLISHED_NS: str(time.time_ns()), ORIGIN: "http"}
        effects = chain.run(f"http-{tx.TransactionID}", tx, meta, dry_run=dry_run, payload=raw)
        outputs = emitted(effects, self._scored_stream)
        if not outputs:  # received before: recorded (answer with the record), or not scored yet
            return self._resent(tx, [e.reason for e in effects if isinstance(e, Reject)], started, dry_run)
        scored: TxScored = outputs[0]
        if dry_run:
            return to_result(scored, _ms(started), dry_run=True, replayed=False)
        if not chain.commit(ScoreKeys(self._shards.keys(shard).prefix).result(tx.TransactionID), effects):
            # recorded meanwhile (a concurrent duplicate): answer with that
            recorded = self.record(tx.TransactionID)
            if recorded is None:  # expired between the two calls: vanishingly rare, and safe to retry
                raise TransientError(f"transaction {tx.TransactionID} was being recorded; retry")
            _same_transaction(recorded.scored, tx)
            return to_result(recorded.scored, _ms(started), dry_run=False, replayed=True)
        return to_result(scored, _ms(started), dry_run=False, replayed=False)

    def _resent(self, tx: Transaction, rejected: list[str], started: float, dry_run: bool) -> ScoreResult:
        """The answer to a TransactionID received before: its record when it is the same transaction
        (by time, amount and card), 409 for another one, 503 while the stream path scores it."""
        recorded = self.record(tx.TransactionID)
        if recorded is not None:  # idempotent: a known TransactionID answers with its record
            _same_transaction(recorded.scored, tx)
            return to_result(recorded.scored, _ms(started), dry_run, replayed=True)
        if rejected:  # received before (on the stream) as another transaction
            raise Conflict(f"{rejected[0]}; a TransactionID is not reused")
        raise TransientError(f"transaction {tx.TransactionID} was received and is being scored; retry")

    def record(self, tx_id: int) -> ResultRecord | None:
        """The score stage's result record of a transaction (None when never scored or expired)."""
        found = find_record(self._redis, list(self._shards), tx_id)
        return None if found is None else found[0]


def find_record(client: redis.Redis, shards: Sequence[Keys], tx_id: int) -> tuple[ResultRecord, int] | None:
    """The result record of a transaction and the index of the shard that wrote it (a record is
    written by one shard's score stage; every shard's read in one round trip), None when never
    scored or expired."""
    if len(shards) == 1:
        one: Any = client.hgetall(ScoreKeys(shards[0].prefix).result(tx_id))
        return (from_hash(tx_id, one), 0) if one else None
    pipe = client.pipeline(transaction=False)
    for shard in shards:
        pipe.hgetall(ScoreKeys(shard.prefix).result(tx_id))
    for index, found in enumerate(pipe.execute()):
        if found:
            return from_hash(tx_id, found), index
    return None


def _same_transaction(recorded: TxScored, tx: Transaction) -> None:
    """A resend is answered with its record only when it is the same transaction; another one under
    a reused TransactionID is refused (409), never given (or shown) the earlier one's score."""
    fields = (
        ("TransactionDT", recorded.TransactionDT, tx.TransactionDT),
        ("TransactionAmt", recorded.TransactionAmt, tx.TransactionAmt),
        ("card1", recorded.card1, tx.card1),
    )
    differ = [name for name, before, now in fields if before != now]
    if differ:
        raise Conflict(
            f"TransactionID {tx.TransactionID} was already scored with other content "
            f"({', '.join(differ)} differ); a TransactionID is not reused"
        )


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
