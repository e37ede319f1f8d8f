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


class Decisions(msgspec.Struct, frozen=True, kw_only=True):
    """Scored transactions, and their count and amount by decision."""

    scored: int
    approved: int
    reviewed: int
    declined: int
    amount_approved: float
    amount_reviewed: float
    amount_declined: float


class Volumes(Decisions, frozen=True, kw_only=True):
    """Scored transactions and amounts by decision over the overview's period."""

    minutes: int
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


class MinutePoint(Decisions, frozen=True, kw_only=True):
    minute: int  # unix seconds of the minute's start
    latency_p99_ms: float | None = None  # publish -> scored in this minute (histogram estimate)


class Timeseries(msgspec.Struct, frozen=True, kw_only=True):
    points: list[MinutePoint]


class SegmentRow(Decisions, frozen=True, kw_only=True):
    """One value of a breakdown dimension: its decisions and amounts, and its labelled fraud."""

    value: str  # "" when the transactions had no value in the column
    labelled: int  # among the latest labelled, scored transactions
    frauds: int
    fraud_amount: float
    fraud_amount_caught: float  # labelled fraud at or above the review threshold in force


class Dimension(msgspec.Struct, frozen=True, kw_only=True):
    name: str  # ProductCD | card4 | card6 | DeviceType
    rows: list[SegmentRow]  # most scored first


class Breakdown(msgspec.Struct, frozen=True, kw_only=True):
    """Decisions, amounts and fraud caught per product, card network, card type and device type."""

    minutes: int
    review_threshold: float
    labels: int  # labelled, scored transactions the fraud columns are taken over
    dimensions: list[Dimension]


class ReliabilityBin(msgspec.Struct, frozen=True, kw_only=True):
    lower: float
    upper: float
    count: int
    frauds: int
    mean_predicted: float | None  # None: no labelled transaction in the bin
    observed_rate: float | None


class Reliability(msgspec.Struct, frozen=True, kw_only=True):
    """Predicted vs observed fraud rate per probability bin, on the labels arrived so far."""

    labels: int
    ece: float | None  # expected calibration error: the count-weighted mean |predicted - observed|
    bins: list[ReliabilityBin]
