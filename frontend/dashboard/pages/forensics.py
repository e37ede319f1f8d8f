"""Forensics: find a transaction (TransactionID), a card (card1) or a client (uid); its record,
features, reasons, label and the entity's timeline."""

from __future__ import annotations

from typing import Any

import reflex as rx

from dashboard.components import empty, reason_rows, reasons_chart, section
from dashboard.layout import shell
from dashboard.records import case_of, features_of, history_of, history_table, record_fields
from dashboard.session import Session

KINDS = ["transaction", "card", "client"]


class ForensicsState(Session):
    kind: str = "transaction"
    query: str = ""
    searched: bool = False
    case: dict[str, str] = {}
    reasons: list[dict[str, Any]] = []
    features: list[dict[str, str]] = []
    card_history: list[dict[str, str]] = []
    client_history: list[dict[str, str]] = []
    timeline: list[dict[str, str]] = []  # a card's or client's transactions
    timeline_title: str = ""

    @rx.event
    def load(self) -> Any:
        return self.guard()

    @rx.event
    def set_kind(self, value: str) -> None:
        self.kind = value

    @rx.event
    async def search(self, form: dict[str, Any]) -> None:
        self.query = str(form.get("query", "")).strip()
        self.case, self.reasons, self.features, self.timeline = {}, [], [], []
        self.card_history, self.client_history = [], []
        self.searched, self.error = True, ""
        if not self.query:
            self.error = "Enter a TransactionID, a card number (card1) or a client id (uid)."
            return
        if self.kind == "transaction":
            await self.open_transaction(self.query)
        elif self.kind == "card":
            if not self.query.isdigit():
                self.error = "A card (card1) is a number, e.g. 13926."
                return
            await self._timeline({"card1": self.query}, f"Card {self.query}")
        else:
            await self._timeline({"uid": self.query}, f"Client {self.query}")

    async def _timeline(self, params: dict[str, Any], title: str) -> None:
        page = await self.gateway("GET", "/v1/transactions", {**params, "limit": 100})
        self.timeline = history_of(page, -1) if page else []
        self.timeline_title = title

    @rx.event
    async def open_transaction(self, tx_id: str) -> None:
        if not tx_id.isdigit():
            self.error = "A TransactionID is a number."
            return
        record = await self.gateway("GET", f"/v1/transactions/{tx_id}", missing_ok=True)
        self.kind, self.query, self.searched = "transaction", tx_id, True
        if record is None:
            self.case = {}
            return
        self.case = case_of(record)
        self.reasons = reason_rows(record["reasons"])
        self.features = features_of(record)
        card = await self.gateway("GET", "/v1/transactions", {"card1": record["raw"]["card1"], "limit": 20})
        client = await self.gateway("GET", "/v1/transactions", {"uid": record["uid"], "limit": 20})
        self.card_history = history_of(card, int(tx_id)) if card else []
        self.client_history = history_of(client, int(tx_id)) if client else []


def _search() -> rx.Component:
    s = ForensicsState
    return rx.form(
        rx.hstack(
            rx.select(KINDS, value=s.kind, on_change=s.set_kind, id="forensics-kind"),
            rx.input(
                name="query", placeholder="TransactionID, card1 or uid", id="forensics-query", width="320px"
            ),
            rx.button("Search", type="submit", id="forensics-search"),
            align="center",
        ),
        on_submit=s.search,
    )


def _features() -> rx.Component:
    return rx.grid(
        rx.foreach(
            ForensicsState.features,
            lambda f: rx.hstack(
                rx.text(f["name"], size="1", color_scheme="gray"), rx.spacer(), rx.text(f["value"], size="1")
            ),
        ),
        columns="3",
        gap_x="24px",
        gap_y="2px",
        width="100%",
    )


def _transaction() -> rx.Component:
    s = ForensicsState
    return rx.vstack(
        section("Record", record_fields(s.case)),
        section(
            "Reasons (push on the log-odds)",
            rx.cond(
                s.reasons.length() > 0,
                reasons_chart(s.reasons, id="forensics-reasons"),
                rx.text(
                    "Approved: no reasons are computed below the review threshold.",
                    size="2",
                    color_scheme="gray",
                ),
            ),
        ),
        section("Same card", history_table(s.card_history, id="forensics-card-history")),
        section("Same client", history_table(s.client_history, id="forensics-client-history")),
        section("Entity features at scoring time", _features()),
        width="100%",
        spacing="3",
    )


def page() -> rx.Component:
    s = ForensicsState
    result = rx.cond(
        s.case.contains("id"),
        _transaction(),
        rx.cond(
            s.timeline.length() > 0,
            section(s.timeline_title, history_table(s.timeline, id="forensics-timeline")),
            rx.cond(
                s.searched,
                empty(
                    "Nothing found",
                    "Records are kept for a limited time (SENTINEL_LOCAL_RETENTION_S in the local stack); check the number.",
                    id="forensics-none",
                ),
                empty(
                    "Search for a transaction, a card or a client",
                    "IDs are in the Ops Center's queue and case views.",
                    id="forensics-start",
                ),
            ),
        ),
    )
    body = rx.vstack(_search(), result, width="100%", spacing="4")
    return shell(
        "Forensics", "Everything recorded about a transaction, and the history of its card and client.", body
    )
