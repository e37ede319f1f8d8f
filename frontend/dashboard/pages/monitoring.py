"""ML Monitoring: realised quality on arrived labels, the score distribution against the thresholds,
the reliability diagram, drift when the model lifecycle reports it, and the model versions
(promote / roll back: admin)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import reflex as rx

from dashboard import fmt
from dashboard.components import chart, data_table, empty, kpi, kpi_row, section
from dashboard.gateway import GatewayError, call
from dashboard.layout import shell
from dashboard.session import Session

BINS = 20


def histogram(probabilities: list[float]) -> list[dict[str, Any]]:
    counts = [0] * BINS
    for p in probabilities:
        counts[min(int(p * BINS), BINS - 1)] += 1
    return [{"bin": f"{i / BINS:.2f}", "transactions": n} for i, n in enumerate(counts)]


def bin_of(threshold: float) -> str:
    return f"{min(int(threshold * BINS), BINS - 1) / BINS:.2f}"


async def _missing_ok(answer: Awaitable[Any]) -> Any:
    """The answer, or None where the gateway has none yet (404: no drift check or estimate has run)."""
    try:
        return await answer
    except GatewayError as exc:
        if exc.status == 404:
            return None
        raise


async def _fetch(key: str) -> dict[str, Any]:
    """Everything the page shows but the model list, from the gateway."""
    answers = await asyncio.gather(
        call(key, "GET", "/v1/metrics/overview", {"minutes": 60}),
        call(key, "GET", "/v1/transactions", {"limit": 500}),
        call(key, "GET", "/v1/strategy"),
        _missing_ok(call(key, "GET", "/v1/metrics/performance")),
        _missing_ok(call(key, "GET", "/v1/drift")),
        call(key, "GET", "/v1/metrics/reliability", {"bins": 10}),
        _missing_ok(call(key, "GET", "/v1/drift/history", {"count": 30})),
    )
    names = ("overview", "scored", "strategy", "performance", "drift", "reliability", "history")
    return dict(zip(names, answers, strict=True))


class MonitoringState(Session):
    precision: str = "–"
    recall: str = "–"
    pr_auc: str = "–"
    window: str = "–"
    estimate: str = ""  # the lifecycle's estimate before labels, when the gateway has it
    distribution: list[dict[str, Any]] = []
    review_bin: str = ""
    decline_bin: str = ""
    reliability: list[dict[str, Any]] = []
    calibration: str = ""  # the expected calibration error, and over how many labels
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
        await self.refresh_locked(_fetch, self._show)
        await self.load_models()
        return None

    @rx.event(background=True)
    async def tick(self, _: str = "") -> None:
        await self.refresh_unlocked(_fetch, self._show)

    def _show(self, answers: dict[str, Any]) -> None:
        overview, scored, strategy, performance, drift, reliability, history = (
            answers[k]
            for k in ("overview", "scored", "strategy", "performance", "drift", "reliability", "history")
        )
        self._assign(error="")
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
        self.reliability = _reliability_rows(reliability)
        self.calibration = (
            f"expected calibration error {fmt.prob(reliability['ece'])} over "
            f"{fmt.count(reliability['labels'])} labelled transactions"
            if reliability["labels"]
            else ""
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


def _reliability_rows(reliability: dict[str, Any]) -> list[dict[str, Any]]:
    """Bins of GET /v1/metrics/reliability: predicted vs observed fraud rate, for the chart and table."""
    return [
        {
            "bin": f"{b['lower']:.1f}–{b['upper']:.1f}",
            "predicted": round(b["mean_predicted"], 4) if b["count"] else 0,
            "observed": round(b["observed_rate"], 4) if b["count"] else 0,
            "count": fmt.count(b["count"]),
            "frauds": fmt.count(b["frauds"]),
            "predicted_text": fmt.pct(b["mean_predicted"]),
            "observed_text": fmt.pct(b["observed_rate"]),
        }
        for b in reliability["bins"]
    ]


RELIABILITY_COLUMNS = [
    ("probability", "bin"),
    ("labelled", "count"),
    ("fraud", "frauds"),
    ("predicted", "predicted_text"),
    ("observed", "observed_text"),
]


def _reliability() -> rx.Component:
    s = MonitoringState
    bars = chart(
        rx.recharts.bar_chart,
        "bin",
        *[
            rx.recharts.bar(is_animation_active=False, data_key=key, fill=rx.color(color, 8), name=key)
            for key, color in (("predicted", "indigo"), ("observed", "orange"))
        ],
        data=s.reliability,
        height=220,
        y_axis=rx.recharts.y_axis(domain=[0, 1]),
    )
    return section(
        "Reliability (predicted vs observed fraud rate per probability bin)",
        rx.cond(
            s.calibration != "",
            rx.vstack(
                rx.text(s.calibration, size="1", color_scheme="gray"),
                rx.box(bars, id="reliability-chart", width="100%"),
                data_table(RELIABILITY_COLUMNS, s.reliability, id="reliability-table"),
                width="100%",
            ),
            empty(
                "No labels yet",
                "Labels follow the traffic after the label delay; resolving alerts in the Ops Center adds some.",
                id="reliability-empty",
            ),
        ),
    )


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
    return chart(
        rx.recharts.bar_chart,
        "bin",
        rx.recharts.bar(is_animation_active=False, data_key="transactions", fill=rx.color("indigo", 8)),
        rx.recharts.reference_line(x=s.review_bin, stroke=rx.color("amber", 10), label="review"),
        rx.recharts.reference_line(x=s.decline_bin, stroke=rx.color("red", 10), label="decline"),
        data=s.distribution,
        legend=False,
        id="score-distribution",
    )


MODEL_COLUMNS = [
    ("version", "version"),
    ("algorithm", "algorithm"),
    ("role", "role"),
    ("PR-AUC", "pr_auc"),
    ("ROC-AUC", "roc_auc"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("", "promote"),
]


def _model_cell(m: Any, key: str) -> rx.Component | None:
    s = MonitoringState
    if key == "role":
        return rx.cond(m["role"] != "", rx.badge(m["role"], variant="soft"), rx.text(""))
    if key == "promote":
        return rx.cond(
            s.is_admin & (m["role"] != "champion"),
            rx.button("Promote", size="1", variant="soft", on_click=s.promote(m["version"])),
            rx.text(""),
        )
    return None


def page() -> rx.Component:
    s = MonitoringState
    body = rx.vstack(
        kpi_row(
            kpi("Precision (realised)", s.precision, "at the review threshold", id="kpi-precision"),
            kpi("Recall (realised)", s.recall, "at the review threshold", id="kpi-recall"),
            kpi("PR-AUC (realised)", s.pr_auc, s.window, id="kpi-pr-auc"),
            kpi(
                "Before labels (estimate)",
                rx.cond(s.estimate != "", s.estimate, "not available yet"),
                "from the model lifecycle",
                id="kpi-estimate",
            ),
        ),
        section(
            "Score distribution, latest 500 transactions",
            rx.cond(
                s.distribution.length() > 0,
                _distribution(),
                empty("No transactions scored yet", "Is the simulator running?"),
            ),
        ),
        _reliability(),
        section(
            "Feature drift (PSI)",
            rx.cond(
                s.drift.length() > 0,
                data_table(
                    [("feature", "feature"), ("PSI", "psi"), ("status", "status")], s.drift, id="drift-table"
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
                chart(
                    rx.recharts.line_chart,
                    "at",
                    *[
                        rx.recharts.line(is_animation_active=False, data_key=key, stroke=rx.color(color, 9))
                        for key, color in (("max_feature_psi", "red"), ("score_psi", "indigo"))
                    ],
                    data=s.drift_history,
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
            data_table(MODEL_COLUMNS, s.models, id="model-versions", cell=_model_cell),
            rx.cond(s.done != "", rx.callout(s.done, icon="check", color_scheme="green")),
        ),
        width="100%",
        spacing="4",
    )
    return shell(
        "ML Monitoring",
        "Model quality on arrived labels, score distribution, reliability, drift and versions.",
        body,
        s.tick,
    )
