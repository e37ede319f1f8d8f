"""Audit entries: who changed what and when, one Redis stream for the gateway and the model jobs.

The gateway records operator actions (strategy, alert verdicts, model pointer); the model
jobs record their decisions (retrain, promotion accepted or rejected, with the numbers).
``/v1/audit`` reads them all back. Detail values are text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

KEEP = 100_000
"""Entries the audit stream keeps (newest)."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def audit_fields(actor: str, action: str, detail: dict[str, Any], at: str) -> dict[str, str | bytes]:
    """The stream fields of one entry: at, actor, action, detail (JSON object of strings)."""
    text = {k: v if isinstance(v, str) else str(v) for k, v in detail.items()}
    return {"at": at, "actor": actor, "action": action, "detail": msgspec.json.encode(text)}
