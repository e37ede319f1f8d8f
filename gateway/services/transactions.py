"""Investigation: recent scored transactions, newest first, and one transaction's record.

The recent transactions come from the scored stream; one card's or one client's from the
score stage's history index of that entity (``ScoreKeys.card_history`` / ``client_history``:
its newest ``features.history_per_entity`` transactions, however much else was scored since),
read with the entity's result records. An entity page's cursor is ``<scored ms>-<TransactionID>``
of its last item.

With stream shards (a Redis Cluster) the scored streams of every shard are paged as one
(``pages.page_back_merged``), and a transaction's record, the row as received and its label are
read from the shard whose score stage wrote them; its state features are put together from the
parts each slot computed (``functions.velocity.RedisFeatureState``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np
import redis

from functions.events import TxScored, decode_scored
from functions.features import STATE_FEATURES
from functions.keys import FeatureKeys, LabelKeys, ScoreKeys
from functions.result import ResultRecord, from_hash
from gateway.problems import NotFound
from gateway.schemas.investigation import Forensics, TransactionPage, TransactionSummary
from gateway.services.pages import Entry, page_back_merged
from gateway.services.scoring import find_record, to_result
from streams.events import PAYLOAD
from streams.keys import KeySets, key_sets

_PAYLOAD = PAYLOAD.encode()
_decode_row = msgspec.json.Decoder(dict[str, Any]).decode
SCAN = 5_000  # entries one page reads at most


class TransactionFilter(msgspec.Struct, frozen=True, kw_only=True):
    risk_level: str | None = None
    decision: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    card1: int | None = None  # one card's transactions
    uid: str | None = None  # one client's transactions

    @property
    def entity(self) -> bool:
        return self.card1 is not None or self.uid is not None


class TransactionService:
    def __init__(self, client: redis.Redis, keys: KeySets, scored_stream: str) -> None:
        self._redis = client
        self._shards = key_sets(keys)
        self._streams = [shard.stream(scored_stream) for shard in self._shards]
        # where the parts of a vector are kept: one prefix on one Redis, every shard's when spread
        self._vector_parts = [FeatureKeys(shard.prefix) for shard in self._shards]

    def list(self, flt: TransactionFilter, limit: int, cursor: str | None) -> TransactionPage:
        if flt.entity:
            return self._entity(flt, limit, cursor)

        def summary(entry_id: str, fields: dict[bytes, bytes]) -> TransactionSummary | None:
            payload = fields.get(_PAYLOAD)
            if payload is None:
                return None
            scored = decode_scored(payload)
            return _summary(scored, int(entry_id.split("-")[0])) if _matches(scored, flt) else None

        def convert(entries: list[Entry]) -> list[TransactionSummary | None]:
            return [summary(entry_id, fields) for entry_id, fields in entries]

        items, next_cursor = page_back_merged(
            self._redis,
            self._streams,
            convert,
            limit,
            cursor,
            since_ms=flt.since_ms,
            until_ms=flt.until_ms,
            scan_limit=SCAN,
        )
        return TransactionPage(items=items, next_cursor=next_cursor)

    def _entity(self, flt: TransactionFilter, limit: int, cursor: str | None) -> TransactionPage:
        """One card's (or client's) page from its history index, newest first. The index is bounded, so
        it is read whole (every shard's: one Redis call each, in one pipeline); result records are read
        from the shard that indexed them, for as many candidates as the page needs."""
        newest = "+inf" if flt.until_ms is None else str(flt.until_ms)
        oldest = "-inf" if flt.since_ms is None else str(flt.since_ms)
        pipe = self._redis.pipeline(transaction=False)
        for shard in self._shards:
            keys = ScoreKeys(shard.prefix)
            index = (
                keys.card_history(flt.card1) if flt.card1 is not None else keys.client_history(flt.uid or "")
            )
            pipe.zrevrangebyscore(index, newest, oldest, withscores=True)
        found: Any = pipe.execute()
        candidates = sorted(
            (
                (int(score), int(member), shard.prefix)
                for shard, members in zip(self._shards, found, strict=True)
                for member, score in members
            ),
            reverse=True,
        )
        if cursor is not None:
            before_ms, _, before_tx = cursor.partition("-")
            candidates = [c for c in candidates if c[:2] < (int(before_ms), int(before_tx))]
        items: list[TransactionSummary] = []
        while candidates and len(items) < limit:
            chunk, candidates = candidates[: 2 * limit], candidates[2 * limit :]
            records = self._records([(tx_id, prefix) for _, tx_id, prefix in chunk])
            for i, ((ms, tx_id, _), record) in enumerate(zip(chunk, records, strict=True)):
                if record is not None and _matches(record.scored, flt):
                    items.append(_summary(record.scored, ms))
                    if len(items) == limit:
                        more = i + 1 < len(chunk) or bool(candidates)
                        return TransactionPage(items=items, next_cursor=f"{ms}-{tx_id}" if more else None)
        return TransactionPage(items=items, next_cursor=None)

    def _records(self, where: Sequence[tuple[int, str]]) -> Sequence[ResultRecord | None]:
        """The result records of (TransactionID, shard prefix) pairs in one round trip (None: expired)."""
        pipe = self._redis.pipeline(transaction=False)
        for tx_id, prefix in where:
            pipe.hgetall(ScoreKeys(prefix).result(tx_id))
        found: Any = pipe.execute()
        return [from_hash(tx_id, raw) if raw else None for (tx_id, _), raw in zip(where, found, strict=True)]

    def _record(self, tx_id: int) -> tuple[ResultRecord, str] | None:
        """The result record of a transaction and the prefix of the shard that wrote it."""
        found = find_record(self._redis, self._shards, tx_id)
        return None if found is None else (found[0], self._shards[found[1]].prefix)

    def forensics(self, tx_id: int) -> Forensics:
        found = self._record(tx_id)
        if found is None:
            raise NotFound(f"no scored transaction {tx_id} (never scored, or its record expired)")
        record, prefix = found
        scored = record.scored
        result = to_result(scored, 0.0, dry_run=False, replayed=True)
        label: Any = self._redis.hget(LabelKeys(prefix).label(tx_id), "isFraud")
        return Forensics(
            transaction_id=tx_id,
            scored_at=record.scored_ns / 1e9,
            published_at=record.published_ns / 1e9 if record.published_ns is not None else None,
            raw=self._received(FeatureKeys(prefix), tx_id)
            or {  # received before the record was kept (older versions): what the score recorded
                "TransactionID": tx_id,
                "TransactionDT": scored.TransactionDT,
                "TransactionAmt": scored.TransactionAmt,
                "card1": scored.card1,
            },
            uid=scored.uid,
            features=self._state_features(tx_id),
            probability=result.probability,
            risk_level=result.risk_level,
            decision=result.decision,
            reasons=result.reasons,
            model_version=result.model_version,
            review_threshold=scored.review_threshold,
            decline_threshold=scored.decline_threshold,
            challenger=result.challenger,
            label=None if label is None else int(label),
        )

    def _received(self, keys: FeatureKeys, tx_id: int) -> dict[str, Any] | None:
        """The transaction as received by the enrich stage (every column present), if still kept."""
        raw: Any = self._redis.hget(keys.received(tx_id), "raw")
        return None if raw is None else _decode_row(raw)

    def _state_features(self, tx_id: int) -> dict[str, float | None]:
        pipe = self._redis.pipeline(transaction=False)
        for keys in self._vector_parts:
            pipe.get(keys.vector(tx_id))
        parts = [np.frombuffer(blob, dtype="<f8") for blob in pipe.execute() if blob]
        if not parts:
            return {}
        values = np.fmax.reduce(parts) if len(parts) > 1 else parts[0]  # one number per cell
        return {
            name: None if np.isnan(v) else float(v) for name, v in zip(STATE_FEATURES, values, strict=False)
        }


def _matches(scored: TxScored, flt: TransactionFilter) -> bool:
    return not (
        (flt.risk_level and scored.risk != flt.risk_level)
        or (flt.decision and scored.decision != flt.decision)
        or (flt.card1 is not None and scored.card1 != flt.card1)
        or (flt.uid is not None and scored.uid != flt.uid)
    )


def _summary(scored: TxScored, scored_ms: int) -> TransactionSummary:
    return TransactionSummary(
        transaction_id=scored.TransactionID,
        scored_at=scored_ms / 1000,
        amount=scored.TransactionAmt,
        probability=scored.probability,
        risk_level=scored.risk,
        decision=scored.decision,
        model_version=scored.model_version,
        card1=scored.card1,
        uid=scored.uid,
    )
