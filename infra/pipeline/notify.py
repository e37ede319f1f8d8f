"""Notify stage adapter: alerts -> ``functions.notify`` -> the webhook of ``settings.notify``.

``build(ctx)`` runs once per consumer: it opens the HTTP client (the stage's only socket) and
refuses to start without a configured URL and secret. Per batch, each alert is POSTed, signed,
in stream order, with the retries of ``functions.notify``; an alert not delivered is
dead-lettered with the reason (``Reject``), so ``sentinel dlq replay`` sends it again once the
receiver is back. Nothing else is written: the runtime's counters (processed, dead-lettered,
lag) are the stage's record. Its own consumer group on ``alerts``: a slow or absent receiver
holds back only this stage, never scoring.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import httpx
import msgspec

from core.errors import ConfigError, PoisonMessage
from functions.events import AlertRaised, decode_alert
from functions.notify import Poster, RetryPolicy, deliver
from streams.events import Effect, Event, Reject
from streams.function import Context, Handler

log = logging.getLogger(__name__)


class AlertCodec:
    """``alerts`` payloads (``AlertRaised``); anything else is a dead letter."""

    name = "json:AlertRaised"

    def decode(self, data: bytes) -> AlertRaised:
        try:
            return decode_alert(data)
        except msgspec.MsgspecError as exc:
            raise PoisonMessage(f"invalid AlertRaised: {exc}") from exc


def http_poster(url: str, timeout_s: float) -> Poster:
    """POST to ``url``; no answer (refused, reset, timed out) is an ``OSError``."""
    client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def post(body: bytes, headers: dict[str, str]) -> int:
        try:
            return client.post(url, content=body, headers=headers).status_code
        except httpx.TransportError as exc:
            raise OSError(str(exc) or type(exc).__name__) from exc

    return post


def build(ctx: Context) -> Handler:
    cfg = ctx.settings.notify
    if not cfg.webhook_url:
        raise ConfigError(
            "notify needs a webhook: set SENTINEL_NOTIFY_WEBHOOK_URL and SENTINEL_NOTIFY_WEBHOOK_SECRET"
        )
    post = http_poster(cfg.webhook_url, cfg.timeout_s)
    secret = cfg.webhook_secret.get_secret_value().encode()
    policy = RetryPolicy(cfg.attempts, cfg.backoff_s, cfg.backoff_max_s)

    def handler(batch: Sequence[Event[Any]]) -> list[Effect]:
        effects: list[Effect] = []
        for event in batch:
            tx_id = event.value.TransactionID
            outcome = deliver(event.payload, str(tx_id), post, secret, policy, time.time, time.sleep)
            if outcome.delivered:
                log.debug("alert %s delivered after %d tries", tx_id, outcome.tries)
            else:
                log.warning("alert %s not delivered: %s", tx_id, outcome.error)
                effects.append(Reject(event, f"webhook: {outcome.error}"))
        return effects

    return handler
