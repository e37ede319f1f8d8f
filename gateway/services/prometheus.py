"""Pipeline metrics for Prometheus: the gateway's ``/metrics`` is the one scrape target.

Read from Redis on each scrape (every worker answers alike): per function the runtime's
counters (processed, dead-lettered, failed: chart events/s with ``rate()``), consumer lag,
pending entries and batch latency (``streams.metrics.StreamsCollector``); the decisions and
the publish -> scored latency of the last five minutes (the score stage's KPI counters); and
which model versions are champion and challenger.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from functions import latency
from functions.decision import Decision
from functions.result import SCORED, count_field
from gateway.services.metrics import MetricsService
from models.registry import Registry, RegistryError
from streams.keys import KeySets
from streams.metrics import StreamsCollector

WINDOW_MINUTES = 5
DECISIONS: tuple[Decision, ...] = ("approve", "review", "decline")


class PipelineCollector(Collector):
    """The pipeline's state as Prometheus metrics (see the module doc)."""

    def __init__(
        self,
        client: redis.Redis,
        keys: KeySets,
        functions: Sequence[tuple[str, str, str]],  # (name, input stream, group)
        metrics: MetricsService,
        registry: Registry,
    ) -> None:
        self._streams = StreamsCollector(client, keys, functions)
        self._metrics = metrics
        self._registry = registry

    def describe(self) -> list[GaugeMetricFamily]:
        """Nothing up front: registering reads no Redis (the names come with each scrape)."""
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._streams.collect()  # type: ignore[misc]
        totals = self._metrics.totals(WINDOW_MINUTES)
        decisions = GaugeMetricFamily(
            "sentinel_decisions_5m",
            "Transactions scored in the last 5 minutes, by decision",
            labels=["decision"],
        )
        for decision in DECISIONS:
            decisions.add_metric([decision], totals.get(count_field(decision), 0.0))
        yield decisions
        yield GaugeMetricFamily(
            "sentinel_scored_5m", "Transactions scored in the last 5 minutes", value=totals.get(SCORED, 0.0)
        )
        lat = GaugeMetricFamily(
            "sentinel_scored_latency_5m_ms",
            "Publish -> scored latency over the last 5 minutes (histogram estimate)",
            labels=["quantile"],
        )
        for q in (0.5, 0.95, 0.99):
            value = latency.quantile(totals, q)
            if value is not None:
                lat.add_metric([str(q)], value)
        yield lat
        model = GaugeMetricFamily(
            "sentinel_model_info", "Model version per role (value 1)", labels=["role", "version"]
        )
        try:
            pointer = self._registry.pointer()
        except RegistryError:
            pointer = {}
        for role in ("champion", "challenger"):
            if pointer.get(role):
                model.add_metric([role, str(pointer[role])], 1)
        yield model
