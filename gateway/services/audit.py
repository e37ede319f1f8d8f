"""Audit trail: who changed what and when (strategy, alert verdicts, model pointer), in one Redis stream."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import redis
from redis.client import Pipeline

from gateway.schemas.strategy import AuditEntry
from models.audit import KEEP, audit_fields, now_iso

log = logging.getLogger(__name__)
__all__ = ["AuditLog", "now_iso"]

_decode_detail = msgspec.json.Decoder(dict[str, str]).decode


class AuditLog:
    """Appends to and reads the audit stream (capped, newest kept)."""

    def __init__(self, client: redis.Redis, key: str, keep: int = KEEP) -> None:
        self._redis = client
        self._key = key
        self._keep = keep

    def record(self, pipe: Pipeline, actor: str, action: str, detail: dict[str, str], at: str) -> None:
        """Queue the entry on ``pipe`` so it commits with the change it describes."""
        fields = audit_fields(actor, action, detail, at)
        pipe.xadd(self._key, fields, maxlen=self._keep, approximate=True)  # type: ignore[arg-type]
        log.info("audit action=%s actor=%s detail=%s", action, actor, detail)

    def recent(self, count: int, action: str | None = None) -> list[AuditEntry]:
        entries = []
        found: Any = self._redis.xrevrange(self._key, count=count if action is None else count * 10)
        for _id, fields in found:
            entry = AuditEntry(
                at=fields[b"at"].decode(),
                actor=fields[b"actor"].decode(),
                action=fields[b"action"].decode(),
                detail=_decode_detail(fields[b"detail"]),
            )
            if action is None or entry.action == action:
                entries.append(entry)
            if len(entries) >= count:
                break
        return entries
