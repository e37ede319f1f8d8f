"""Gateway: operational metrics for the dashboard (analyst): overview tiles and per-minute series."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from gateway.auth import SECURITY_SCHEME, Role, requires
from gateway.problems import problem_responses
from gateway.schemas.drift import PerformanceView
from gateway.schemas.metrics import Breakdown, Overview, Reliability, Timeseries
from gateway.services import Deps

Minutes = Annotated[int, QueryParameter(ge=1, le=1_440, description="How many recent minutes.")]
Labels = Annotated[
    int, QueryParameter(ge=1, le=50_000, description="How many of the latest labelled, scored transactions.")
]


class MetricsController(Controller):
    path = "/v1/metrics"
    tags = ("metrics",)
    security = ({SECURITY_SCHEME: []},)

    @get(
        "/overview",
        guards=[requires(Role.ANALYST)],
        summary="Volumes and amounts by decision, throughput, latency, fraud rate, live precision/recall",
        responses=problem_responses(401, 403),
        sync_to_thread=True,
    )
    def overview(self, services: Deps, minutes: Minutes = 60) -> Overview:
        return services.metrics.overview(minutes)

    @get(
        "/timeseries",
        guards=[requires(Role.ANALYST)],
        summary="Per-minute counts and amounts by decision (oldest first; the last minute is filling)",
        responses=problem_responses(401, 403),
        sync_to_thread=True,
    )
    def timeseries(self, services: Deps, minutes: Minutes = 60) -> Timeseries:
        return services.metrics.timeseries(minutes)

    @get(
        "/performance",
        guards=[requires(Role.ANALYST)],
        summary="Precision, recall, PR-AUC, fraud amount caught: estimated now from calibrated scores, "
        "beside the realised values from the labels arrived so far, per event-time bucket",
        responses=problem_responses(401, 403, 404),
        sync_to_thread=True,
    )
    def performance(self, services: Deps) -> PerformanceView:
        return services.drift.performance()

    @get(
        "/breakdown",
        guards=[requires(Role.ANALYST)],
        summary="Decisions, amounts and labelled fraud caught per product, card network, card type and device type",
        description="Decisions and amounts over the last minutes; labelled fraud (and the fraud amount at or "
        "above the review threshold in force) over the latest labelled, scored transactions.",
        responses=problem_responses(401, 403),
        sync_to_thread=True,
    )
    def breakdown(self, services: Deps, minutes: Minutes = 60, labels: Labels = 5_000) -> Breakdown:
        review = services.strategy.get().review_threshold
        return services.breakdown.breakdown(minutes, review, labels)

    @get(
        "/reliability",
        guards=[requires(Role.ANALYST)],
        summary="Reliability diagram: predicted vs observed fraud rate per probability bin, on arrived labels",
        responses=problem_responses(401, 403),
        sync_to_thread=True,
    )
    def reliability(
        self,
        services: Deps,
        bins: Annotated[int, QueryParameter(ge=2, le=50, description="Equal-width probability bins.")] = 10,
        labels: Labels = 5_000,
    ) -> Reliability:
        return services.breakdown.reliability(bins, labels)
