"""Ops Center: the alert queue (server-side filters, sorting and pages), the case view and verdicts.

Keyboard: j / k next and previous case, f fraud, l legitimate (not while typing a comment).

New alerts show at once: while the page is open, a background task of its state listens to the
gateway's event stream (``GET /v1/events?types=alert``) and refreshes the queue when alerts come,
at most once every ``LIVE_GAP_S`` (each refresh is a re-render in the browser). A refresh sets only
the vars whose value changed (``Session._assign``). One subscription lasts ``LISTEN_S``; the page's 2 s tick (which also refreshes the queue's ages
and KPIs, in the background: keys and clicks never wait for it) starts the next one, so a closed tab leaves no listener behind for longer than that.
If the stream is refused (e.g. the gateway's limit of live clients), the queue keeps polling.

Two states, so that each change re-renders only its half of the page in the browser (a state's
update re-renders every component that reads that state): ``OpsState`` is the queue (filters,
rows, KPIs), ``CaseState`` (a substate) the open case (record, reasons chart, histories, comment).
A queue refresh (every 2 s, and on new alerts) leaves the case view and its chart alone; opening a
case changes the queue only by the row it highlights. The tick skips a refresh when the queue was
shown less than ``MIN_GAP_S`` ago (its first tick comes at mount, right after the page's load).
The rows are plain: a risk bar is one element, styled by ``assets/dashboard.css`` from the row's
data attributes, not per-row generated CSS (each new value of generated CSS is a new rule, and a
style recalculation of the whole page).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import reflex as rx

from dashboard import fmt
from dashboard.components import empty, kpi, kpi_row, reason_rows, reasons_chart, section
from dashboard.gateway import GatewayError, call, live_events
from dashboard.layout import shell
from dashboard.records import case_of, history_of, history_table, record_fields
from dashboard.session import Session

ROUTE = "/ops"
PAGE = 25
LISTEN_S = 30  # one subscription to the event stream; the tick opens the next while the page is open
RETRY_S = 30  # after a refused or broken subscription, poll only for this long
# at most one queue refresh a second from the event stream (a burst is one refresh, later alerts of
# the second come with the next one or the 2 s tick): each refresh is a re-render in the browser,
# measured at ~0.2 s of its CPU on a loaded 2-core box, and alerts can come many a second
LIVE_GAP_S = 1.0
MIN_GAP_S = 1.0  # the tick leaves a queue shown more recently than this as it is
AGES = {"any age": (None, None), "< 5 min": (None, 300), "< 1 h": (None, 3600), "> 1 h": (3600, None)}
SORTS = {
    "newest first": "newest",
    "oldest first": "oldest",
    "amount, high to low": "amount_desc",
    "amount, low to high": "amount_asc",
    "risk, high to low": "probability_desc",
}


def _amount(text: str) -> float | None:
    try:
        value = float(text.replace(",", "").replace("$", "").strip())
    except ValueError:
        return None
    return value if value >= 0 else None


class QueueFilters(Session):
    """What the analyst asks of the queue. A state of its own, above the queue's: the filter
    controls read only these, so a queue refresh (a change of ``OpsState``) does not re-render them."""

    status: str = "open"
    decision: str = "all"
    age: str = "any age"
    sort: str = "newest first"
    min_amount: str = ""
    max_amount: str = ""


class OpsState(QueueFilters):
    """The queue: a page of the alerts matching the filters, its KPIs, the open case's id, live updates."""

    offset: int = 0
    total: int = 0
    rows: list[dict[str, str]] = []
    open_alerts: str = "–"
    oldest: str = "–"
    verdict_time: str = "–"
    loaded: bool = False
    selected: str = ""  # the id of the open case (its row is highlighted)
    live: bool = False  # subscribed to the gateway's alert events (else: polling every 2 s)
    _retry_at: float = 0.0  # monotonic time before which no new subscription is tried
    _shown_at: float = 0.0  # monotonic time the queue was last shown

    @rx.var
    def page_label(self) -> str:
        if not self.total:
            return "no alerts"
        return f"{self.offset + 1:,}–{min(self.offset + PAGE, self.total):,} of {self.total:,}"

    @rx.event
    async def load(self) -> AsyncIterator[Any]:
        if (redirect := self.guard()) is not None:
            yield redirect
            return
        await self.refresh()
        yield  # the queue shows before the first case is fetched
        if self.rows and not self.selected:
            case = await self.get_state(CaseState)
            await case.open_case(self.rows[0]["id"])

    @rx.event(background=True)
    async def tick(self, _: str = "") -> Any:
        async with self:
            query, fresh = self._query(), time.monotonic() - self._shown_at < MIN_GAP_S
        if not fresh:
            await self.refresh_unlocked(
                lambda key: call(key, "GET", "/v1/alerts/queue", query), self._show_if(query)
            )
        async with self:
            subscribe = self.signed_in and not self.live and time.monotonic() >= self._retry_at
        return OpsState.listen if subscribe else None

    def _show_if(self, query: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
        """Shows an answer to ``query`` unless the filters, sort or page changed while it was asked."""

        def show(queue: dict[str, Any]) -> None:
            if self._query() == query:
                self._show(queue)

        return show

    @rx.event(background=True)
    async def listen(self) -> None:
        """Refresh the queue on each new alert for ``LISTEN_S`` (one subscription at a time), while the
        Ops Center is the page shown; the state is locked only to read the query and show the answer."""
        async with self:
            if self.live or not self.signed_in or not self._on_page():
                return
            self.live, key = True, self._api_key
        try:
            async for _ in live_events(key, "alert", LISTEN_S, min_gap_s=LIVE_GAP_S):
                async with self:
                    if not self._on_page():
                        break  # left the page: the next visit's tick subscribes again
                    query = self._query()
                queue = await call(key, "GET", "/v1/alerts/queue", query)
                async with self:
                    self._show_if(query)(queue)
        except GatewayError:
            async with self:
                self._retry_at = time.monotonic() + RETRY_S
        finally:
            async with self:
                self.live = False

    def _on_page(self) -> bool:
        return self.router.url.path.rstrip("/") == ROUTE

    async def refresh(self) -> None:
        queue = await self.gateway("GET", "/v1/alerts/queue", self._query())
        if queue is not None:
            self._show(queue)

    def _query(self) -> dict[str, Any]:
        """The queue request of the filters, sort and page in force."""
        min_age, max_age = AGES.get(self.age, (None, None))
        return {
            "status": self.status,
            "decision": None if self.decision == "all" else self.decision,
            "min_amount": _amount(self.min_amount),
            "max_amount": _amount(self.max_amount),
            "min_age_s": min_age,
            "max_age_s": max_age,
            "sort": SORTS.get(self.sort, "newest"),
            "offset": self.offset,
            "limit": PAGE,
        }

    def _show(self, queue: dict[str, Any]) -> None:
        rows = [
            {
                "id": str(a["transaction_id"]),
                "age": fmt.since(a["raised_at"]),
                "amount": fmt.money(a["amount"]),
                "probability": fmt.prob(a["probability"]),
                "decision": a["decision"],
                "status": a["verdict"] or a["status"],
                "top_reason": a["reasons"][0]["feature"] if a["reasons"] else "–",
            }
            for a in queue["items"]
        ]
        self._assign(
            error="",
            total=queue["total"],
            open_alerts=fmt.count(queue["open"]),
            oldest=fmt.age(queue["oldest_open_age_s"]),
            verdict_time=fmt.age(queue["median_time_to_verdict_s"]),
            rows=rows,
            loaded=True,
        )
        self._shown_at = time.monotonic()

    async def _requery(self) -> None:
        self.offset = 0
        await self.refresh()

    @rx.event
    async def set_status(self, value: str) -> None:
        self.status = value
        await self._requery()

    @rx.event
    async def set_decision(self, value: str) -> None:
        self.decision = value
        await self._requery()

    @rx.event
    async def set_age(self, value: str) -> None:
        self.age = value
        await self._requery()

    @rx.event
    async def set_sort(self, value: str) -> None:
        self.sort = value
        await self._requery()

    @rx.event
    async def set_min_amount(self, value: str) -> None:
        self.min_amount = value
        await self._requery()

    @rx.event
    async def set_max_amount(self, value: str) -> None:
        self.max_amount = value
        await self._requery()

    @rx.event
    async def next_page(self) -> None:
        if self.offset + PAGE < self.total:
            self.offset += PAGE
            await self.refresh()

    @rx.event
    async def previous_page(self) -> None:
        if self.offset:
            self.offset = max(0, self.offset - PAGE)
            await self.refresh()


class CaseState(OpsState):
    """The open case: its record, reasons, the card's and client's latest transactions, the comment
    and the last verdict. A substate of the queue: it reads the queue's rows (next / previous case)
    and refreshes it after a verdict, but its own changes re-render only the case view."""

    case: dict[str, str] = {}
    reasons: list[dict[str, Any]] = []
    card_history: list[dict[str, str]] = []
    client_history: list[dict[str, str]] = []
    note: str = ""
    typing: bool = False
    done: str = ""  # what the last verdict did

    @rx.event
    async def open_case(self, tx_id: str) -> None:
        record = await self.gateway("GET", f"/v1/transactions/{tx_id}")
        if record is None:
            return
        self.selected, self.note, self.done = tx_id, "", ""  # selected: the queue's (OpsState)
        self.case = case_of(record)
        self.reasons = reason_rows(record["reasons"])
        card, client = await asyncio.gather(
            self.gateway("GET", "/v1/transactions", {"card1": record["raw"]["card1"], "limit": 10}),
            self.gateway("GET", "/v1/transactions", {"uid": record["uid"], "limit": 10}),
        )
        self.card_history = history_of(card, int(tx_id)) if card else []
        self.client_history = history_of(client, int(tx_id)) if client else []

    @rx.event
    def set_note(self, value: str) -> None:
        self.note = value

    @rx.event
    def set_typing(self, value: bool) -> None:
        self.typing = value

    @rx.event
    async def resolve(self, verdict: str) -> None:
        if not self.selected:
            return
        tx_id, position = self.selected, self._position()
        body = {"verdict": verdict, **({"note": self.note} if self.note.strip() else {})}
        result = await self.gateway("POST", f"/v1/alerts/{tx_id}/resolve", body=body)
        if result is None:
            return
        self._assign(error="")
        await self.refresh()
        self.done = f"Transaction {tx_id} resolved as {verdict}: label sent, audit entry written."
        message = self.done
        if self.rows:
            await self.open_case(self.rows[min(max(position, 0), len(self.rows) - 1)]["id"])
            self.done = message

    def _position(self) -> int:
        return next((i for i, r in enumerate(self.rows) if r["id"] == self.selected), -1)

    @rx.event
    async def on_key(self, key: str, info: dict[str, Any]) -> None:
        if (
            self.typing
            or info.get("ctrl_key")
            or info.get("meta_key")
            or info.get("alt_key")
            or not self.rows
        ):
            return
        position = self._position()
        if key == "j":
            await self.open_case(self.rows[min(position + 1, len(self.rows) - 1)]["id"])
        elif key == "k":
            await self.open_case(self.rows[max(position - 1, 0)]["id"])
        elif key == "f":
            await self.resolve("fraud")
        elif key == "l":
            await self.resolve("legitimate")


def _filters() -> rx.Component:
    f, s = QueueFilters, OpsState  # the values shown, the handlers (they refresh the queue)
    return rx.flex(
        rx.select(["open", "resolved", "all"], value=f.status, on_change=s.set_status, id="filter-status"),
        rx.select(["all", "review", "decline"], value=f.decision, on_change=s.set_decision, id="filter-tier"),
        rx.select(list(AGES), value=f.age, on_change=s.set_age, id="filter-age"),
        rx.input(placeholder="min amount", on_blur=s.set_min_amount, id="filter-min-amount", width="110px"),
        rx.input(placeholder="max amount", on_blur=s.set_max_amount, id="filter-max-amount", width="110px"),
        rx.select(list(SORTS), value=f.sort, on_change=s.set_sort, id="sort"),
        gap="8px",
        wrap="wrap",
        align="center",
    )


COLUMNS = ("transaction", "age", "amount", "risk", "tier", "top reason", "status")


def _row(r: Any) -> rx.Component:
    """One alert as plain table elements (25 rows re-render on every refresh: no component
    library per cell, no CSS generated per row), styled by ``assets/dashboard.css`` from the row's
    classes and data attributes; the risk bar is one element, its length the probability."""
    return rx.el.tr(
        rx.el.td(r["id"]),
        rx.el.td(r["age"]),
        rx.el.td(r["amount"]),
        rx.el.td(
            rx.el.span(class_name="risk-bar", custom_attrs={"style": {"--risk": r["probability"]}}),
            r["probability"],
        ),
        rx.el.td(rx.el.span(r["decision"], class_name="tier")),
        rx.el.td(r["top_reason"]),
        rx.el.td(r["status"]),
        on_click=CaseState.open_case(r["id"]),
        class_name="alert-row",
        custom_attrs={
            "data-id": r["id"],
            "data-tier": r["decision"],
            "data-selected": OpsState.selected == r["id"],
        },
    )


def _queue() -> rx.Component:
    s = OpsState
    return section(
        "Alert queue",
        _filters(),
        rx.cond(
            s.rows.length() > 0,
            rx.el.table(
                rx.el.thead(rx.el.tr(*[rx.el.th(h) for h in COLUMNS])),
                rx.el.tbody(rx.foreach(s.rows, _row)),
                id="alert-queue",
                class_name="rows",
            ),
            rx.cond(
                s.loaded,
                empty(
                    "No alerts match",
                    "No alerts yet? Is the simulator running (`just up` starts one)? Or widen the filters.",
                    id="queue-empty",
                ),
                rx.spinner(),
            ),
        ),
        rx.hstack(
            rx.button("Previous", on_click=s.previous_page, variant="soft", size="1", id="page-previous"),
            rx.text(s.page_label, size="1", id="page-label"),
            rx.button("Next", on_click=s.next_page, variant="soft", size="1", id="page-next"),
            align="center",
        ),
    )


def _case() -> rx.Component:
    s = CaseState
    return rx.cond(
        s.case,
        rx.vstack(
            section(
                "Case",
                record_fields(s.case),
                rx.text_area(
                    placeholder="Comment (optional, kept in the audit log)",
                    value=s.note,
                    on_change=s.set_note,
                    on_focus=s.set_typing(True),
                    on_blur=s.set_typing(False),
                    id="resolve-note",
                    width="100%",
                ),
                rx.hstack(
                    rx.button(
                        "Fraud  (f)", color_scheme="red", on_click=s.resolve("fraud"), id="resolve-fraud"
                    ),
                    rx.button(
                        "Legitimate  (l)",
                        color_scheme="green",
                        on_click=s.resolve("legitimate"),
                        id="resolve-legitimate",
                    ),
                    rx.text("j / k: next / previous case", size="1", color_scheme="gray"),
                    align="center",
                ),
                rx.cond(
                    s.done != "", rx.callout(s.done, icon="check", color_scheme="green", id="resolve-done")
                ),
            ),
            section("Reasons (push on the log-odds)", reasons_chart(s.reasons, id="case-reasons")),
            section("Same card, latest", history_table(s.card_history, id="card-history")),
            section("Same client, latest", history_table(s.client_history, id="client-history")),
            width="100%",
            spacing="3",
        ),
        empty("No case selected", "Pick an alert in the queue (or press j).", id="case-empty"),
    )


def page() -> rx.Component:
    s = OpsState
    body = rx.vstack(
        kpi_row(
            kpi("Open alerts", s.open_alerts, "waiting for a verdict", id="kpi-open"),
            kpi("Oldest open", s.oldest, "age of the oldest alert", id="kpi-oldest"),
            kpi("Time to verdict", s.verdict_time, "median, latest verdicts", id="kpi-verdict-time"),
            kpi(
                "Updates",
                rx.cond(s.live, "live", "polling"),
                rx.cond(s.live, "new alerts show as they are raised", "every 2 s"),
                id="queue-live",
            ),
        ),
        rx.grid(_queue(), _case(), columns="minmax(0, 3fr) minmax(0, 2fr)", gap="16px", width="100%"),
        rx.window_event_listener(on_key_down=CaseState.on_key),
        width="100%",
        spacing="4",
    )
    return shell(
        "Ops Center", "Work the alerts: filter, open a case, resolve it as fraud or legitimate.", body, s.tick
    )
