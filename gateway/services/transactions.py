"""Investigation: recent scored transactions, newest first, and one transaction's record.

The recent transactions come from the scored stream; one card's or one client's from the
score stage's history index of that entity (``ScoreKeys.card_history`` / ``client_history``:
its newest ``features.history_per_entity`` transactions, however much else was scored since),
read with the entity's result records. An entity page's cursor is ``<scored ms>-<TransactionID>``
of its last item.
"""

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
from gateway.services.pages import Entry, page_back
from gateway.services.scoring import ScoreService, to_result
from streams.events import PAYLOAD
from streams.keys import Keys

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
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        features: FeatureKeys,
        labels: LabelKeys,
        results: ScoreKeys,
        scored_stream: str,
        scoring: ScoreService,
    ) -> None:
        self._redis = client
        self._features = features
        self._labels = labels
        self._results = results
        self._stream = keys.stream(scored_stream)
        self._scoring = scoring

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

        items, next_cursor = page_back(
            self._redis,
            self._stream,
            convert,
            limit,
            cursor,
            since_ms=flt.since_ms,
            until_ms=flt.until_ms,
            scan_limit=SCAN,
        )
        return TransactionPage(items=items, next_cursor=next_cursor)

    def _entity(self, flt: TransactionFilter, limit: int, cursor: str | None) -> TransactionPage:
        """One card's (or client's) page from its history index, newest first: the index is bounded, so
        it is read whole; result records are read for as many candidates as the page needs."""
        if flt.card1 is not None:
            index = self._results.card_history(flt.card1)
        else:
            index = self._results.client_history(flt.uid or "")
        newest = "+inf" if flt.until_ms is None else str(flt.until_ms)
        oldest = "-inf" if flt.since_ms is None else str(flt.since_ms)
        found: Any = self._redis.zrevrangebyscore(index, newest, oldest, withscores=True)
        candidates = sorted(((int(score), int(member)) for member, score in found), reverse=True)
        if cursor is not None:
            before_ms, _, before_tx = cursor.partition("-")
            candidates = [c for c in candidates if c < (int(before_ms), int(before_tx))]
        items: list[TransactionSummary] = []
        while candidates and len(items) < limit:
            chunk, candidates = candidates[: 2 * limit], candidates[2 * limit :]
            records = self._records([tx_id for _, tx_id in chunk])
            for i, ((ms, tx_id), record) in enumerate(zip(chunk, records, strict=True)):
                if record is not None and _matches(record.scored, flt):
                    items.append(_summary(record.scored, ms))
                    if len(items) == limit:
                        more = i + 1 < len(chunk) or bool(candidates)
                        return TransactionPage(items=items, next_cursor=f"{ms}-{tx_id}" if more else None)
        return TransactionPage(items=items, next_cursor=None)

    def _records(self, tx_ids: Sequence[int]) -> Sequence[ResultRecord | None]:
        """The result records of ``tx_ids`` in one round trip (None: expired)."""
        pipe = self._redis.pipeline(transaction=False)
        for tx_id in tx_ids:
            pipe.hgetall(self._results.result(tx_id))
        found: Any = pipe.execute()
        return [from_hash(tx_id, raw) if raw else None for tx_id, raw in zip(tx_ids, found, strict=True)]

    def forensics(self, tx_id: int) -> Forensics:
        record = self._scoring.record(tx_id)
        if record is None:
            raise NotFound(f"no scored transaction {tx_id} (never scored, or its record expired)")
        scored = record.scored
        result = to_result(scored, 0.0, dry_run=False, replayed=True)
        label: Any = self._redis.hget(self._labels.label(tx_id), "isFraud")
        return Forensics(
            transaction_id=tx_id,
            scored_at=record.scored_ns / 1e9,
            published_at=record.published_ns / 1e9 if record.published_ns is not None else None,
            raw=self._received(tx_id)
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

    def _received(self, tx_id: int) -> dict[str, Any] | None:
        """The transaction as received by the enrich stage (every column present), if still kept."""
        raw: Any = self._redis.hget(self._features.received(tx_id), "raw")
        return None if raw is None else _decode_row(raw)

    def _state_features(self, tx_id: int) -> dict[str, float | None]:
        blob: Any = self._redis.get(self._features.vector(tx_id))
        if not blob:
            return {}
        values = np.frombuffer(blob, dtype="<f8")
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
