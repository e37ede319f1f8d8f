"""Sync scoring: one transaction through the pipeline's own enrich+score functions, inline.

The handler is the fused chain of the pipeline table (``wiring.score_chain``), built by the
same factories the stream workers use, so a transaction scored here gets exactly the score
the stream path would give it in the same state. By default the effects (scored event,
alert, result record, counters) are committed atomically, as an authorisation would record
them; ``dry_run`` computes on scratch copies of the feature state and commits nothing.
Idempotent by TransactionID: a transaction already recorded answers with its recorded
result (``replayed``); a concurrent duplicate finds the record at commit and does the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import redis

from core.errors import SentinelError, TransientError
from core.settings import Settings
from data.schema import Transaction, encode_transaction
from functions.events import TxScored, decode_scored
from functions.keys import ScoreKeys
from functions.result import ResultRecord, from_hash
from gateway.problems import Unavailable
from gateway.schemas.common import Reason
from gateway.schemas.scoring import ChallengerScore, ScoreResult
from gateway.services.scratch import ScratchClient
from gateway.wiring import Wiring
from models.registry import Registry, RegistryError
from streams.commit import GuardedCommitter
from streams.events import PUBLISHED_NS, Effect, Emit, Event
from streams.function import Context, Handler, history_caps
from streams.fusion import fuse
from streams.keys import Keys

log = logging.getLogger(__name__)


def build_chain(wiring: Wiring, ctx: Context) -> Handler:
    specs = wiring.pipeline.chain(list(wiring.score_chain))
    return fuse(specs, [spec.build(ctx) for spec in specs])


def to_result(scored: TxScored, latency_ms: float, dry_run: bool, replayed: bool) -> ScoreResult:
    challenger = scored.challenger
    return ScoreResult(
        transaction_id=scored.TransactionID,
        probability=scored.probability,
        risk_level=scored.risk,
        decision=scored.decision,
        reasons=[
            Reason(feature=r.feature, value=r.value, contribution=r.contribution) for r in scored.reasons
        ],
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
        self._keys = Keys(settings.redis.key_prefix)
        self._results = ScoreKeys(settings.redis.key_prefix)
        self._wiring = wiring
        self._registry = Registry(settings.models.registry_dir)
        self._record: Handler | None = None
        self._dry: Handler | None = None
        try:
            self._record = build_chain(wiring, Context(client, settings, self._keys))
            scratch = ScratchClient(client, f"{settings.redis.key_prefix}scratch:dry-run:")
            self._dry = build_chain(wiring, Context(scratch, settings, self._keys))  # type: ignore[arg-type]
        except SentinelError as exc:  # no model registered yet, no score stage in the table...
            self._unavailable = str(exc)
            log.warning("sync scoring unavailable: %s", exc)
        else:
            self._unavailable = ""
        # history outputs (read by no consumer group) are capped as the runtime caps them
        specs = wiring.pipeline.chain(list(wiring.score_chain)) if self._record is not None else []
        self._committer = GuardedCommitter(client, self._keys, history_caps(specs, settings))

    def unavailable(self) -> str | None:
        """Why scoring cannot run (no score stage, no champion model), or None when it can."""
        if self._record is None:
            return self._unavailable
        try:
            champion = self._registry.pointer().get("champion")
        except RegistryError as exc:
            return f"model registry unreadable: {exc}"
        if not champion or champion not in self._registry.versions():
            return f"no champion model in {self._registry.root}"
        return None

    def score(self, tx: Transaction, dry_run: bool = False) -> ScoreResult:
        started = time.perf_counter()
        if self._record is None or self._dry is None:
            raise Unavailable(f"scoring is not available: {self._unavailable}")
        recorded = self.record(tx.TransactionID)
        if recorded is not None:  # idempotent: a known TransactionID answers with its record
            return to_result(recorded.scored, _ms(started), dry_run, replayed=True)
        if dry_run:
            scored, _ = self._run(self._dry, tx)
            return to_result(scored, _ms(started), dry_run=True, replayed=False)
        scored, effects = self._run(self._record, tx)
        if not self._committer.commit(self._results.result(tx.TransactionID), effects):
            # recorded before (a retry) or meanwhile (a concurrent duplicate): answer with that
            recorded = self.record(tx.TransactionID)
            if recorded is None:  # expired between the two calls: vanishingly rare, and safe to retry
                raise TransientError(f"transaction {tx.TransactionID} was being recorded; retry")
            return to_result(recorded.scored, _ms(started), dry_run=False, replayed=True)
        return to_result(scored, _ms(started), dry_run=False, replayed=False)

    def _run(self, handler: Handler, tx: Transaction) -> tuple[TxScored, Sequence[Effect]]:
        payload = encode_transaction(tx)
        meta = {PUBLISHED_NS: str(time.time_ns()), "origin": "http"}
        effects = handler([Event(f"http-{tx.TransactionID}", tx, payload, meta)])
        for effect in effects:
            if isinstance(effect, Emit) and effect.stream == self._wiring.scored_stream:
                return decode_scored(effect.payload), effects
        raise RuntimeError(f"the score chain emitted nothing to {self._wiring.scored_stream}")

    def record(self, tx_id: int) -> ResultRecord | None:
        """The score stage's result record of a transaction (None when never scored or expired)."""
        found: Any = self._redis.hgetall(self._results.result(tx_id))
        return from_hash(tx_id, found) if found else None


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
