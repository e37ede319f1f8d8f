"""Overview: live KPIs (throughput, latency, decisions, fraud rate, money caught and lost), their series,
and the breakdown by product, card network, card type and device type."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import reflex as rx

from dashboard import fmt
from dashboard.components import chart, data_table, decision_stack, empty, kpi, kpi_row, section
from dashboard.gateway import GatewayError, call
from dashboard.layout import shell
from dashboard.session import Session

MINUTES = 30
DIMENSIONS = {  # breakdown dimension: the label shown -> the gateway's name
    "product": "ProductCD",
    "card network": "card4",
    "card type": "card6",
    "device type": "DeviceType",
}
BREAKDOWN_COLUMNS = [
    ("value", "value"),
    ("scored", "scored"),
    ("approved", "approved"),
    ("review", "reviewed"),
    ("declined", "declined"),
    ("amount declined", "amount_declined"),
    ("labelled", "labelled"),
    ("fraud", "frauds"),
    ("fraud amount", "fraud_amount"),
    ("fraud caught", "caught"),
]


async def _fetch(key: str) -> dict[str, Any]:
    """Everything the page shows, from the gateway (the money figures: the what-if of the thresholds
    in force over the labelled window; left out, not failed, when that call fails)."""
    overview, series, strategy, breakdown = await asyncio.gather(
        call(key, "GET", "/v1/metrics/overview", {"minutes": MINUTES}),
        call(key, "GET", "/v1/metrics/timeseries", {"minutes": MINUTES}),
        call(key, "GET", "/v1/strategy"),
        call(key, "GET", "/v1/metrics/breakdown", {"minutes": MINUTES}),
    )
    thresholds = {k: strategy[k] for k in ("review_threshold", "decline_threshold")}
    try:
        simulation = await call(key, "POST", "/v1/strategy/simulate", body=thresholds)
    except GatewayError:
        simulation = None
    return {
        "overview": overview,
        "series": series,
        "strategy": strategy,
        "breakdown": breakdown,
        "simulation": simulation,
    }


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
    dimension: str = "product"
    breakdown: list[dict[str, Any]] = []  # rows of the chosen dimension
    _breakdown: dict[str, list[dict[str, Any]]] = {}  # gateway name -> its rows, as last read
    has_traffic: bool = False
    loaded: bool = False
    _last: tuple[float, int] | None = None  # (time, score's processed counter) of the previous refresh

    @rx.event
    async def load(self) -> Any:
        if (redirect := self.guard()) is not None:
            return redirect
        self._last = None
        await self.refresh_locked(_fetch, self._show)
        return None

    @rx.event(background=True)
    async def tick(self, _: str = "") -> None:
        await self.refresh_unlocked(_fetch, self._show)

    def _show(self, answers: dict[str, Any]) -> None:
        overview, series, strategy, breakdown, sim = (
            answers[k] for k in ("overview", "series", "strategy", "breakdown", "simulation")
        )
        self._assign(error="")
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
        self._breakdown = {d["name"]: [_segment(r) for r in d["rows"]] for d in breakdown["dimensions"]}
        self._show_breakdown()
        review, decline = strategy["review_threshold"], strategy["decline_threshold"]
        self.thresholds = f"at review ≥ {review:.2f}, decline ≥ {decline:.2f}"
        if sim is not None and sim["transactions"]:
            self.caught = fmt.money(sim["fraud_amount_caught"])
            self.false_declines = fmt.money(sim["false_decline_cost"])
            self.net = fmt.money(sim["fraud_amount_caught"] - sim["false_decline_cost"])
        self.loaded = True

    @rx.event
    def set_dimension(self, label: str) -> None:
        self.dimension = label
        self._show_breakdown()

    def _show_breakdown(self) -> None:
        self.breakdown = self._breakdown.get(DIMENSIONS.get(self.dimension, "ProductCD"), [])

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


def _segment(row: dict[str, Any]) -> dict[str, Any]:
    """A breakdown row (GET /v1/metrics/breakdown) as the table and the chart show it."""
    return {
        "value": row["value"] or "(none)",
        "approve": row["approved"],
        "review": row["reviewed"],
        "decline": row["declined"],
        **{
            k: fmt.count(row[k]) for k in ("scored", "approved", "reviewed", "declined", "labelled", "frauds")
        },
        "amount_declined": fmt.money(row["amount_declined"]),
        "fraud_amount": fmt.money(row["fraud_amount"]),
        "caught": fmt.money(row["fraud_amount_caught"]),
    }


def _series() -> rx.Component:
    return chart(
        rx.recharts.area_chart,
        "minute",
        *decision_stack(rx.recharts.area),
        data=OverviewState.series,
        height=260,
    )


def _breakdown() -> rx.Component:
    s = OverviewState
    bars = chart(
        rx.recharts.bar_chart, "value", *decision_stack(rx.recharts.bar), data=s.breakdown, height=220
    )
    return section(
        "Breakdown",
        rx.hstack(
            rx.select(
                list(DIMENSIONS), value=s.dimension, on_change=s.set_dimension, id="breakdown-dimension"
            ),
            rx.text(
                f"decisions over the last {MINUTES} min; fraud over the latest labelled transactions, "
                "caught = at or above the review threshold",
                size="1",
                color_scheme="gray",
            ),
            align="center",
        ),
        rx.cond(
            s.breakdown.length() > 0,
            rx.vstack(bars, data_table(BREAKDOWN_COLUMNS, s.breakdown, id="breakdown-table"), width="100%"),
            empty(
                "Nothing scored yet", "Is the simulator running? `just up` starts one.", id="breakdown-empty"
            ),
        ),
    )


FUNCTION_COLUMNS = [
    ("function", "name"),
    ("processed", "processed"),
    ("batch p99", "p99"),
    ("lag", "lag"),
    ("dead letters", "dead"),
]


def page() -> rx.Component:
    s = OverviewState
    body = rx.vstack(
        kpi_row(
            kpi("Transactions/s", s.tps, "scored, live", id="kpi-tps"),
            kpi("Latency p50 / p99", s.latency, "publish → scored", id="kpi-latency"),
            kpi("Scored", s.scored, f"last {MINUTES} min", id="kpi-scored"),
            kpi("Approved", s.approved, "", id="kpi-approved"),
            kpi("Review", s.reviewed, "", id="kpi-reviewed"),
            kpi("Declined", s.declined, "", id="kpi-declined"),
        ),
        kpi_row(
            kpi("Fraud rate (labelled)", s.fraud_rate, s.labels + " labels", id="kpi-fraud-rate"),
            kpi("Fraud caught", s.caught, s.thresholds, id="kpi-caught"),
            kpi(
                "False-decline cost",
                s.false_declines,
                "legitimate payments declined",
                id="kpi-false-declines",
            ),
            kpi("Net savings", s.net, "caught − false-decline cost", id="kpi-net"),
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
        _breakdown(),
        section("Pipeline functions", data_table(FUNCTION_COLUMNS, s.functions, id="functions-table")),
        width="100%",
        spacing="4",
    )
    return shell("Overview", "Live volumes, decisions, quality and money, refreshed every 2 s.", body, s.tick)
