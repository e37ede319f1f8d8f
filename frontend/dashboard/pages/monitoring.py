"""ML Monitoring: realised quality on arrived labels, the score distribution against the thresholds,
drift when the model lifecycle reports it, and the model versions (promote / roll back: admin)."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from dashboard import fmt
from dashboard.layout import empty, kpi, section, shell
from dashboard.session import Session

BINS = 20


def histogram(probabilities: list[float]) -> list[dict[str, Any]]:
    counts = [0] * BINS
    for p in probabilities:
        counts[min(int(p * BINS), BINS - 1)] += 1
    return [{"bin": f"{i / BINS:.2f}", "transactions": n} for i, n in enumerate(counts)]


def bin_of(threshold: float) -> str:
    return f"{min(int(threshold * BINS), BINS - 1) / BINS:.2f}"


class MonitoringState(Session):
    precision: str = "–"
    recall: str = "–"
    pr_auc: str = "–"
    window: str = "–"
    estimate: str = ""  # the lifecycle's estimate before labels, when the gateway has it
    distribution: list[dict[str, Any]] = []
    review_bin: str = ""
    decline_bin: str = ""
    drift: list[dict[str, str]] = []
    drift_history: list[dict[str, Any]] = []
    models: list[dict[str, str]] = []
    champion: str = "–"
    challenger: str = "none"
    done: str = ""
    loaded: bool = False

    @rx.event
    async def load(self) -> Any:
        if (redirect := self.guard()) is not None:
            return redirect
        self.done = ""
        await self.refresh()
        await self.load_models()
        return None

    @rx.event
    async def tick(self, _: str = "") -> None:
        if self.signed_in:
            await self.refresh()

    async def refresh(self) -> None:
        overview, scored, strategy, performance, drift = await asyncio.gather(
            self.gateway("GET", "/v1/metrics/overview", {"minutes": 60}),
            self.gateway("GET", "/v1/transactions", {"limit": 500}),
            self.gateway("GET", "/v1/strategy"),
            self.gateway("GET", "/v1/metrics/performance", missing_ok=True),
            self.gateway("GET", "/v1/drift", missing_ok=True),
        )
        history = await self.gateway("GET", "/v1/drift/history", {"count": 30}, missing_ok=True)
        if overview is None or scored is None or strategy is None:
            return
        self.error = ""
        quality = overview["quality"] or {}
        self.precision, self.recall = fmt.pct(quality.get("precision")), fmt.pct(quality.get("recall"))
        self.pr_auc = fmt.prob(quality.get("pr_auc"))
        self.window = (
            f"{fmt.count(quality.get('window'))} labelled, {fmt.count(quality.get('fraud'))} fraud"
            if quality
            else "no labels yet"
        )
        self.distribution = histogram([t["probability"] for t in scored["items"]])
        self.review_bin, self.decline_bin = (
            bin_of(strategy["review_threshold"]),
            bin_of(strategy["decline_threshold"]),
        )
        self.estimate = _estimate(performance)
        self.drift = _drift_rows(drift)
        self.drift_history = _drift_history(history)
        self.loaded = True

    async def load_models(self) -> None:
        models, pointer = await asyncio.gather(
            self.gateway("GET", "/v1/models"), self.gateway("GET", "/v1/models/pointer")
        )
        if models is None or pointer is None:
            return
        self.champion, self.challenger = pointer["champion"] or "–", pointer["challenger"] or "none"
        self.models = [
            {
                "version": m["version"],
                "algorithm": m["algorithm"],
                "role": m["role"] or "",
                "pr_auc": fmt.prob(m["metrics"].get("pr_auc")),
                "roc_auc": fmt.prob(m["metrics"].get("roc_auc")),
                "precision": fmt.pct(m["metrics"].get("precision")),
                "recall": fmt.pct(m["metrics"].get("recall")),
            }
            for m in models
        ]

    @rx.event
    async def promote(self, version: str) -> None:
        if await self.gateway("POST", f"/v1/models/{version}/promote", body={"role": "champion"}) is not None:
            self.done = f"{version} is the champion now; scorers load it within seconds (audited)."
            await self.load_models()

    @rx.event
    async def rollback(self) -> None:
        if await self.gateway("POST", "/v1/models/rollback") is not None:
            self.done = "Rolled back to the previous champion (audited)."
            await self.load_models()


def _estimate(performance: Any) -> str:
    """The lifecycle's estimate before labels (GET /v1/metrics/performance), from calibrated scores."""
    estimated = performance.get("estimated") if isinstance(performance, dict) else None
    if not isinstance(estimated, dict):
        return ""
    return (
        f"precision {fmt.pct(estimated.get('precision_at_review'))} · recall "
        f"{fmt.pct(estimated.get('recall_at_review'))} · PR-AUC {fmt.prob(estimated.get('pr_auc'))}"
    )


def _drift_rows(drift: Any) -> list[dict[str, str]]:
    """PSI per model input of the latest drift report (GET /v1/drift), largest first."""
    features = drift.get("features") if isinstance(drift, dict) else None
    return [
        {"feature": str(f["name"]), "psi": f"{float(f['psi']):.3f}", "status": str(f.get("status", ""))}
        for f in (features or [])[:15]
        if isinstance(f, dict) and isinstance(f.get("psi"), int | float)
    ]


def _drift_history(history: Any) -> list[dict[str, Any]]:
    """Recent drift checks (GET /v1/drift/history), oldest first, for the PSI-over-time chart."""
    return [
        {
            "at": str(h["at"])[11:19],
            "max_feature_psi": round(h["max_feature_psi"], 4),
            "score_psi": h["score_psi"],
        }
        for h in reversed(history or [])
        if isinstance(h, dict)
    ]


def _distribution() -> rx.Component:
    s = MonitoringState
    return rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
        rx.recharts.x_axis(data_key="bin"),
        rx.recharts.y_axis(),
        rx.recharts.graphing_tooltip(),
        rx.recharts.bar(is_animation_active=False, data_key="transactions", fill=rx.color("indigo", 8)),
        rx.recharts.reference_line(x=s.review_bin, stroke=rx.color("amber", 10), label="review"),
        rx.recharts.reference_line(x=s.decline_bin, stroke=rx.color("red", 10), label="decline"),
        data=s.distribution,
        width="100%",
        height=240,
        id="score-distribution",
    )


def _models() -> rx.Component:
    s = MonitoringState
    header = ("version", "algorithm", "role", "PR-AUC", "ROC-AUC", "precision", "recall", "")
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in header])),
        rx.table.body(
            rx.foreach(
                s.models,
                lambda m: rx.table.row(
                    rx.table.cell(m["version"]),
                    rx.table.cell(m["algorithm"]),
                    rx.table.cell(rx.cond(m["role"] != "", rx.badge(m["role"], variant="soft"), rx.text(""))),
                    rx.table.cell(m["pr_auc"]),
                    rx.table.cell(m["roc_auc"]),
                    rx.table.cell(m["precision"]),
                    rx.table.cell(m["recall"]),
                    rx.table.cell(
                        rx.cond(
                            s.is_admin & (m["role"] != "champion"),
                            rx.button("Promote", size="1", variant="soft", on_click=s.promote(m["version"])),
                            rx.text(""),
                        )
                    ),
                ),
            )
        ),
        id="model-versions",
        size="1",
        width="100%",
    )


def page() -> rx.Component:
    s = MonitoringState
    body = rx.vstack(
        rx.flex(
            kpi("Precision (realised)", s.precision, "at the review threshold", id="kpi-precision"),
            kpi("Recall (realised)", s.recall, "at the review threshold", id="kpi-recall"),
            kpi("PR-AUC (realised)", s.pr_auc, s.window, id="kpi-pr-auc"),
            kpi(
                "Before labels (estimate)",
                rx.cond(s.estimate != "", s.estimate, "not available yet"),
                "from the model lifecycle",
                id="kpi-estimate",
            ),
            wrap="wrap",
            gap="12px",
            width="100%",
        ),
        section(
            "Score distribution, latest 500 transactions",
            rx.cond(
                s.distribution.length() > 0,
                _distribution(),
                empty("No transactions scored yet", "Is the simulator running?"),
            ),
        ),
        section(
            "Feature drift (PSI)",
            rx.cond(
                s.drift.length() > 0,
                rx.table.root(
                    rx.table.body(
                        rx.foreach(
                            s.drift,
                            lambda d: rx.table.row(
                                rx.table.cell(d["feature"]),
                                rx.table.cell(d["psi"]),
                                rx.table.cell(d["status"]),
                            ),
                        )
                    ),
                    size="1",
                    id="drift-table",
                ),
                empty(
                    "No drift report yet",
                    "Drift checks run as scheduled jobs; their PSI per feature shows here.",
                    id="drift-empty",
                ),
            ),
        ),
        section(
            "PSI over time (largest input, score)",
            rx.cond(
                s.drift_history.length() > 0,
                rx.recharts.line_chart(
                    rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                    rx.recharts.x_axis(data_key="at"),
                    rx.recharts.y_axis(),
                    rx.recharts.graphing_tooltip(),
                    rx.recharts.legend(),
                    rx.recharts.line(
                        is_animation_active=False, data_key="max_feature_psi", stroke=rx.color("red", 9)
                    ),
                    rx.recharts.line(
                        is_animation_active=False, data_key="score_psi", stroke=rx.color("indigo", 9)
                    ),
                    data=s.drift_history,
                    width="100%",
                    height=200,
                ),
                rx.text("No drift checks yet.", size="2", color_scheme="gray"),
            ),
        ),
        section(
            "Model versions",
            rx.hstack(
                rx.text(
                    "Champion: ",
                    rx.text.strong(s.champion, id="champion"),
                    " · challenger: ",
                    s.challenger,
                    size="2",
                ),
                rx.spacer(),
                rx.cond(
                    s.is_admin,
                    rx.button(
                        "Roll back",
                        size="1",
                        color_scheme="red",
                        variant="soft",
                        on_click=s.rollback,
                        id="rollback",
                    ),
                ),
                width="100%",
            ),
            _models(),
            rx.cond(s.done != "", rx.callout(s.done, icon="check", color_scheme="green")),
        ),
        width="100%",
        spacing="4",
    )
    return shell(
        "ML Monitoring",
        "Model quality on arrived labels, score distribution, drift and versions.",
        body,
        s.tick,
    )
