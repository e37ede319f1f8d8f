"""Overview: live KPIs (throughput, latency, decisions, fraud rate, money caught and lost) and their series."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import reflex as rx

from dashboard import fmt
from dashboard.layout import empty, kpi, section, shell
from dashboard.session import Session

MINUTES = 30


class OverviewState(Session):
    tps: str = "–"
    latency: str = "–"
    scored: str = "–"
    approved: str = "–"
    reviewed: str = "–"
    declined: str = "–"
    fraud_rate: str = "–"
    labels: str = "–"
    caught: str = "–"
    false_declines: str = "–"
    net: str = "–"
    thresholds: str = ""
    series: list[dict[str, Any]] = []
    functions: list[dict[str, str]] = []
    has_traffic: bool = False
    loaded: bool = False
    _last: tuple[float, int] | None = None  # (time, score's processed counter) of the previous refresh

    @rx.event
    async def load(self) -> Any:
        if (redirect := self.guard()) is not None:
            return redirect
        self._last = None
        await self.refresh()
        return None

    @rx.event
    async def tick(self, _: str = "") -> None:
        if self.signed_in:
            await self.refresh()

    async def refresh(self) -> None:
        overview, series, strategy = await asyncio.gather(
            self.gateway("GET", "/v1/metrics/overview", {"minutes": MINUTES}),
            self.gateway("GET", "/v1/metrics/timeseries", {"minutes": MINUTES}),
            self.gateway("GET", "/v1/strategy"),
        )
        if overview is None or series is None or strategy is None:
            return
        self.error = ""
        self._volumes(overview)
        self.series = [
            {
                "minute": fmt.clock(p["minute"]),
                "approve": p["approved"],
                "review": p["reviewed"],
                "decline": p["declined"],
            }
            for p in series["points"]
        ]
        self.functions = [
            {
                "name": f["name"],
                "processed": fmt.count(f["processed"]),
                "p99": fmt.ms(f["batch_latency_p99_ms"]),
                "lag": fmt.count(f["lag"]),
                "dead": fmt.count(f["dead_lettered"]),
            }
            for f in overview["functions"]
        ]
        review, decline = strategy["review_threshold"], strategy["decline_threshold"]
        self.thresholds = f"at review ≥ {review:.2f}, decline ≥ {decline:.2f}"
        sim = await self.gateway(
            "POST", "/v1/strategy/simulate", body={"review_threshold": review, "decline_threshold": decline}
        )
        if sim is not None and sim["transactions"]:
            self.caught = fmt.money(sim["fraud_amount_caught"])
            self.false_declines = fmt.money(sim["false_decline_cost"])
            self.net = fmt.money(sim["fraud_amount_caught"] - sim["false_decline_cost"])
        self.loaded = True

    def _volumes(self, overview: dict[str, Any]) -> None:
        v = overview["volumes"]
        total = v["scored"]
        self.has_traffic = total > 0
        self.scored = fmt.count(total)
        share = (lambda n: f" ({fmt.pct(n / total)})") if total else (lambda n: "")
        self.approved = fmt.count(v["approved"]) + share(v["approved"])
        self.reviewed = fmt.count(v["reviewed"]) + share(v["reviewed"])
        self.declined = fmt.count(v["declined"]) + share(v["declined"])
        self.latency = f"{fmt.ms(v['latency_p50_ms'])} / {fmt.ms(v['latency_p99_ms'])}"
        self.fraud_rate = fmt.pct(overview["fraud_rate"], 2)
        self.labels = fmt.count(overview["labels"])
        processed = next((f["processed"] for f in overview["functions"] if f["name"] == "score"), None)
        now = time.monotonic()
        if processed is not None and self._last is not None and now > self._last[0]:
            self.tps = fmt.rate((processed - self._last[1]) / (now - self._last[0]))
        elif self.tps == "–":
            self.tps = fmt.rate(v["throughput_per_s"])
        if processed is not None:
            self._last = (now, processed)


def _series() -> rx.Component:
    return rx.recharts.area_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
        rx.recharts.x_axis(data_key="minute"),
        rx.recharts.y_axis(),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
        rx.recharts.area(
            is_animation_active=False,
            data_key="approve",
            stack_id="d",
            stroke=rx.color("green", 9),
            fill=rx.color("green", 5),
        ),
        rx.recharts.area(
            is_animation_active=False,
            data_key="review",
            stack_id="d",
            stroke=rx.color("amber", 9),
            fill=rx.color("amber", 5),
        ),
        rx.recharts.area(
            is_animation_active=False,
            data_key="decline",
            stack_id="d",
            stroke=rx.color("red", 9),
            fill=rx.color("red", 5),
        ),
        data=OverviewState.series,
        width="100%",
        height=260,
    )


def _functions() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                *[
                    rx.table.column_header_cell(h)
                    for h in ("function", "processed", "batch p99", "lag", "dead letters")
                ]
            )
        ),
        rx.table.body(
            rx.foreach(
                OverviewState.functions,
                lambda f: rx.table.row(
                    rx.table.cell(f["name"]),
                    rx.table.cell(f["processed"]),
                    rx.table.cell(f["p99"]),
                    rx.table.cell(f["lag"]),
                    rx.table.cell(f["dead"]),
                ),
            )
        ),
        size="1",
        width="100%",
    )


def page() -> rx.Component:
    s = OverviewState
    body = rx.vstack(
        rx.flex(
            kpi("Transactions/s", s.tps, "scored, live", id="kpi-tps"),
            kpi("Latency p50 / p99", s.latency, "score batch", id="kpi-latency"),
            kpi("Scored", s.scored, f"last {MINUTES} min", id="kpi-scored"),
            kpi("Approved", s.approved, "", id="kpi-approved"),
            kpi("Review", s.reviewed, "", id="kpi-reviewed"),
            kpi("Declined", s.declined, "", id="kpi-declined"),
            wrap="wrap",
            gap="12px",
            width="100%",
        ),
        rx.flex(
            kpi("Fraud rate (labelled)", s.fraud_rate, s.labels + " labels", id="kpi-fraud-rate"),
            kpi("Fraud caught", s.caught, s.thresholds, id="kpi-caught"),
            kpi(
                "False-decline cost",
                s.false_declines,
                "legitimate payments declined",
                id="kpi-false-declines",
            ),
            kpi("Net savings", s.net, "caught − false-decline cost", id="kpi-net"),
            wrap="wrap",
            gap="12px",
            width="100%",
        ),
        section(
            "Decisions per minute",
            rx.cond(
                s.has_traffic | ~s.loaded,
                _series(),
                empty(
                    "No transactions scored yet",
                    "Is the simulator running? `just up` starts one.",
                    id="overview-empty",
                ),
            ),
        ),
        section("Pipeline functions", _functions()),
        width="100%",
        spacing="4",
    )
    return shell("Overview", "Live volumes, decisions, quality and money, refreshed every 2 s.", body, s.tick)
