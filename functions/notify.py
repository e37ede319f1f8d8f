"""Alert notifications: each alert POSTed to a webhook, signed, retried with capped backoff.

The pure part of the ``notify`` stage (alerts -> the webhook): how a request is signed, which
answers are worth retrying, and the retry loop. The HTTP client, the clock and the sleep come
in through ports, so the loop is tested without a network and the adapter
(``infra.pipeline.notify``) owns the socket.

What a receiver gets, per alert: the alert as the score stage wrote it (``AlertRaised`` JSON) as
the body, and

- ``X-Sentinel-Delivery``: the alert's TransactionID, the same for every retry and replay of it
  (delivery is at-least-once: deduplicate on it);
- ``X-Sentinel-Timestamp``: Unix seconds when this try was signed;
- ``X-Sentinel-Signature``: ``sha256=`` + hex HMAC-SHA256, keyed with the shared secret, of
  ``timestamp + "." + body``. Check it in constant time and refuse old timestamps (replays).

The rule: a 2xx is delivered. A 4xx other than 408 and 429 means the receiver refuses this
alert: it is dead-lettered at once with the answer. Anything else (no connection, a timeout,
5xx, 408, 429) is tried again after ``backoff_s``, doubling up to ``backoff_max_s``, until
``attempts`` tries have failed; then it is dead-lettered with the last error.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

SIGNATURE = "X-Sentinel-Signature"
TIMESTAMP = "X-Sentinel-Timestamp"
DELIVERY = "X-Sentinel-Delivery"


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Sentinel-Signature`` value of ``body`` signed at ``timestamp``."""
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: bytes, timestamp: int, body: bytes, delivery: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        DELIVERY: delivery,
        TIMESTAMP: str(timestamp),
        SIGNATURE: signature(secret, timestamp, body),
    }


class Poster(Protocol):
    """Sends one request: the status code, or raises ``OSError`` when there is no answer."""

    def __call__(self, body: bytes, headers: dict[str, str]) -> int: ...


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0

    def wait_s(self, failed_tries: int) -> float:
        """The wait after ``failed_tries`` failures (1, 2, ...): capped exponential."""
        return float(min(self.backoff_max_s, self.backoff_s * 2 ** (failed_tries - 1)))


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    tries: int
    error: str = ""  # why it was not delivered


def retryable(status: int) -> bool:
    return status >= 500 or status in (408, 429)


def deliver(
    body: bytes,
    delivery: str,
    post: Poster,
    secret: bytes,
    policy: RetryPolicy,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Outcome:
    """POST ``body`` until delivered, refused, or ``policy.attempts`` tries have failed."""
    error = ""
    for tries in range(1, policy.attempts + 1):
        headers = signed_headers(secret, int(clock()), body, delivery)
        try:
            status = post(body, headers)
        except OSError as exc:
            error = f"no answer: {exc}"
        else:
            if 200 <= status < 300:
                return Outcome(True, tries)
            error = f"answered {status}"
            if not retryable(status):
                return Outcome(False, tries, f"the receiver refused the alert: {error}")
        if tries < policy.attempts:
            sleep(policy.wait_s(tries))
    return Outcome(False, policy.attempts, f"{policy.attempts} tries failed, the last: {error}")
