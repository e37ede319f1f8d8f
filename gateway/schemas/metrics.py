"""Gateway DTOs of operational metrics: the overview tiles and per-minute series for charts."""

from __future__ import annotations

import msgspec


class FunctionMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """One pipeline function: what it processed, how fast, how far behind."""

    name: str
    processed: int
    failed: int
    dead_lettered: int
    batch_latency_p50_ms: float | None
    batch_latency_p99_ms: float | None
    lag: int | None
    pending: int | None


class Quality(msgspec.Struct, frozen=True, kw_only=True):
    """Live model quality over the latest labelled, scored transactions."""

    window: int
    fraud: int
    precision: float | None
    recall: float | None
    pr_auc: float | None


class Volumes(msgspec.Struct, frozen=True, kw_only=True):
    """Scored transactions and amounts by decision over the overview's period."""

    minutes: int
    scored: int
    approved: int
    reviewed: int
    declined: int
    amount_approved: float
    amount_reviewed: float
    amount_declined: float
    throughput_per_s: float
    latency_p50_ms: float | None = None  # publish -> scored over the period (histogram estimate)
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None


class Overview(msgspec.Struct, frozen=True, kw_only=True):
    volumes: Volumes
    fraud_rate: float | None  # share of labelled transactions that were fraud
    labels: int
    labels_waiting: int = 0  # labels whose transaction is not scored yet (joined when it is)
    quality: Quality | None
    functions: list[FunctionMetrics]


class MinutePoint(msgspec.Struct, frozen=True, kw_only=True):
    minute: int  # unix seconds of the minute's start
    scored: int
    approved: int
    reviewed: int
    declined: int
    amount_approved: float
    amount_reviewed: float
    amount_declined: float
    latency_p99_ms: float | None = None  # publish -> scored in this minute (histogram estimate)


class Timeseries(msgspec.Struct, frozen=True, kw_only=True):
    points: list[MinutePoint]
