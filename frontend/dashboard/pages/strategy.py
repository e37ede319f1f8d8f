"""Strategy: review and decline thresholds with a live what-if on recent labelled data, a cost curve,
and apply (admin only; audited)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import reflex as rx

from dashboard import fmt
from dashboard.components import chart, data_table, empty, kpi, kpi_row, section
from dashboard.layout import shell
from dashboard.session import Session

GRID = [round(0.1 * i, 2) for i in range(1, 10)]  # review thresholds of the cost curve
CURVE_LABELS = 2_000  # the latest labelled transactions the curve is computed over


def _threshold(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 <= value <= 1 else None


class StrategyState(Session):
    review: float = 0.3
    decline: float = 0.8
    review_text: str = "0.30"
    decline_text: str = "0.80"
    live: str = "–"
    source: str = ""
    labelled: int = 0
    precision: str = "–"
    recall: str = "–"
    review_rate: str = "–"
    decline_rate: str = "–"
    caught: str = "–"
    false_declines: str = "–"
    net: str = "–"
    curve: list[dict[str, Any]] = []
    optimal: str = ""
    optimal_x: str = ""
    current_x: str = ""
    history: list[dict[str, str]] = []
    applied: str = ""
    loaded: bool = False

    @rx.event
    async def load(self) -> AsyncIterator[Any]:
        if (redirect := self.guard()) is not None:
            yield redirect
            return
        self.applied = ""
        strategy = await self.gateway("GET", "/v1/strategy")
        if strategy is None:
            return
        self._show_live(strategy)
        self._set(strategy["review_threshold"], strategy["decline_threshold"])
        yield  # the thresholds in force show before the what-if and the curve are computed
        await self.what_if()
        await self.load_history()
        yield
        await self.cost_curve()
        self.loaded = True

    def _show_live(self, strategy: dict[str, Any]) -> None:
        self.live = (
            f"review ≥ {strategy['review_threshold']:.2f} · decline ≥ {strategy['decline_threshold']:.2f}"
        )
        origin = strategy.get("source")  # strategy | champion | defaults, where the gateway reports it
        by = strategy.get("updated_by")
        self.source = (
            f"set by {by} at {strategy.get('updated_at', '')}"
            if by
            else f"from the {origin}"
            if origin
            else "defaults (never changed here)"
        )

    def _set(self, review: float, decline: float) -> None:
        self.review, self.decline = round(review, 2), round(decline, 2)
        self.review_text, self.decline_text = f"{self.review:.2f}", f"{self.decline:.2f}"

    async def what_if(self) -> None:
        if not self.review < self.decline:
            self.error = "The review threshold must be below the decline threshold."
            return
        sim = await self.gateway(
            "POST",
            "/v1/strategy/simulate",
            body={"review_threshold": self.review, "decline_threshold": self.decline},
        )
        if sim is None:
            return
        self._assign(error="")
        self.labelled = sim["transactions"]
        self.precision, self.recall = fmt.pct(sim["precision"]), fmt.pct(sim["recall"])
        self.review_rate, self.decline_rate = fmt.pct(sim["review_rate"]), fmt.pct(sim["decline_rate"])
        self.caught, self.false_declines = (
            fmt.money(sim["fraud_amount_caught"]),
            fmt.money(sim["false_decline_cost"]),
        )
        self.net = fmt.money(sim["fraud_amount_caught"] - sim["false_decline_cost"])
        self.current_x = f"{self.review:.2f}"

    async def cost_curve(self) -> None:
        """Net (fraud caught − false-decline cost) over review thresholds below the decline threshold."""
        grid = [r for r in GRID if r < self.decline]
        sims = await asyncio.gather(
            *[
                self.gateway(
                    "POST",
                    "/v1/strategy/simulate",
                    body={"review_threshold": r, "decline_threshold": self.decline, "limit": CURVE_LABELS},
                )
                for r in grid
            ]
        )
        if any(sim is None for sim in sims):
            return
        points = [
            {"review": f"{r:.2f}", "net": round(sim["fraud_amount_caught"] - sim["false_decline_cost"], 2)}
            for r, sim in zip(grid, sims, strict=True)
        ]
        self.curve = points
        if points:
            best = max(points, key=lambda p: p["net"])
            self.optimal_x = best["review"]
            self.optimal = f"best review threshold here: {best['review']} (net {fmt.money(best['net'])})"

    async def load_history(self) -> None:
        entries = await self.gateway("GET", "/v1/strategy/history", {"limit": 10})
        self.history = [
            {
                "at": e["at"][:19].replace("T", " "),
                "actor": e["actor"],
                "review": e["detail"].get("review", ""),
                "decline": e["detail"].get("decline", ""),
            }
            for e in entries or []
        ]

    @rx.event
    async def slide_review(self, value: list[float]) -> None:
        self._set(value[0], self.decline)
        await self.what_if()

    @rx.event
    async def slide_decline(self, value: list[float]) -> None:
        self._set(self.review, value[0])
        await self.what_if()
        await self.cost_curve()

    @rx.event
    async def type_review(self, text: str) -> None:
        if (value := _threshold(text)) is None:
            self.error = "A threshold is a probability between 0 and 1."
            return
        self._set(value, self.decline)
        await self.what_if()

    @rx.event
    async def type_decline(self, text: str) -> None:
        if (value := _threshold(text)) is None:
            self.error = "A threshold is a probability between 0 and 1."
            return
        self._set(self.review, value)
        await self.what_if()
        await self.cost_curve()

    @rx.event
    async def apply(self) -> None:
        if not self.is_admin:
            self.error = "Only an admin may change the thresholds."
            return
        body = {"review_threshold": self.review, "decline_threshold": self.decline}
        strategy = await self.gateway("PUT", "/v1/strategy", body=body)
        if strategy is None:
            return
        self._assign(error="")
        self._show_live(strategy)
        self.applied = (
            f"Applied: {self.live}. The score stage uses them from its next batch; the change is audited."
        )
        await self.load_history()


def _slider(label: str, value: Any, text: Any, on_commit: Any, on_type: Any, id: str) -> rx.Component:
    """A threshold as a slider and a number field (either changes it)."""
    return rx.vstack(
        rx.hstack(
            rx.text(label, weight="medium", size="2"),
            # keyed by the value, so a slider move re-renders it with the new number
            rx.input(default_value=text, key=text, on_blur=on_type, id=f"{id}-input", width="80px", size="1"),
            align="center",
        ),
        rx.slider(
            value=[value],
            min=0,
            max=1,
            step=0.01,
            on_value_commit=on_commit,
            id=f"{id}-slider",
            width="100%",
        ),
        width="100%",
    )


def page() -> rx.Component:
    s = StrategyState
    controls = section(
        "Thresholds",
        rx.text(
            "In force: ",
            rx.text.strong(s.live, id="strategy-live"),
            " — ",
            s.source,
            size="2",
            id="strategy-source",
        ),
        _slider("Review from", s.review, s.review_text, s.slide_review, s.type_review, "review"),
        _slider("Decline from", s.decline, s.decline_text, s.slide_decline, s.type_decline, "decline"),
        rx.hstack(
            rx.button("Apply", on_click=s.apply, disabled=~s.is_admin, id="strategy-apply"),
            rx.cond(
                ~s.is_admin,
                rx.text(
                    "Only an admin may apply thresholds; you can explore them.",
                    size="1",
                    color_scheme="gray",
                    id="strategy-readonly",
                ),
            ),
            align="center",
        ),
        rx.cond(
            s.applied != "", rx.callout(s.applied, icon="check", color_scheme="green", id="strategy-applied")
        ),
    )
    what_if = rx.cond(
        s.labelled > 0,
        kpi_row(
            kpi("Precision", s.precision, "", id="sim-precision"),
            kpi("Recall", s.recall, "", id="sim-recall"),
            kpi("Review rate", s.review_rate, ""),
            kpi("Decline rate", s.decline_rate, ""),
            kpi("Fraud caught", s.caught, "", id="sim-caught"),
            kpi("False-decline cost", s.false_declines, ""),
            kpi("Net", s.net, "caught − false-decline cost", id="sim-net"),
        ),
        empty(
            "No labelled transactions yet",
            "Labels follow the traffic after the label delay; resolving alerts in the Ops Center adds some too.",
            id="strategy-empty",
        ),
    )
    curve = chart(
        rx.recharts.line_chart,
        "review",
        rx.recharts.line(is_animation_active=False, data_key="net", stroke=rx.color("indigo", 9), dot=False),
        rx.recharts.reference_line(x=s.current_x, stroke=rx.color("amber", 9), label="current"),
        rx.recharts.reference_line(x=s.optimal_x, stroke=rx.color("green", 9), label="optimal"),
        data=s.curve,
        legend=False,
    )
    history = data_table(
        [("when (UTC)", "at"), ("who", "actor"), ("review", "review"), ("decline", "decline")],
        s.history,
        id="strategy-history",
    )
    body = rx.vstack(
        controls,
        section("What if, on recent labelled transactions", what_if),
        section("Net by review threshold", rx.text(s.optimal, size="1", color_scheme="gray"), curve),
        section("Changes", history),
        width="100%",
        spacing="4",
    )
    return shell("Strategy", "Move the thresholds, see what they would have done, apply them (admin).", body)
