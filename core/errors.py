"""The project's exceptions: one root, and the two kinds the streams runtime acts on."""

from __future__ import annotations


class SentinelError(Exception):
    """Root of every error Sentinel raises on purpose."""


class PoisonMessage(SentinelError):
    """This event can never be processed (malformed, out of range): dead-letter it at once."""


class TransientError(SentinelError):
    """Processing failed for a passing reason (a timeout): leave it pending to be retried."""


class DependencyDown(TransientError):
    """Something the events need is missing or unusable (no loadable model): not their fault.

    The streams runtime holds the batch and retries it with backoff; it neither dead-letters the
    events nor counts the wait as a delivery, so they are processed once the dependency is back.
    """


class ConfigError(SentinelError):
    """The configuration is unusable; raised at start-up, never mid-stream."""
