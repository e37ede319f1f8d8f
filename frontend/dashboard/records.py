"""One transaction as the Ops Center's case view and Forensics show it: its record, reasons, history."""

from __future__ import annotations

from typing import Any

import reflex as rx

from dashboard import fmt

DECISION_COLOR = {"approve": "green", "review": "amber", "decline": "red"}


def case_of(record: dict[str, Any]) -> dict[str, str]:
    """Display fields of a forensics record (GET /v1/transactions/{id})."""
    label = record.get("label")
    challenger = record.get("challenger") or {}
    return {
        "id": str(record["transaction_id"]),
        "amount": fmt.money(record["raw"].get("TransactionAmt")),
        "card1": str(record["raw"].get("card1", "")),
        "uid": record["uid"],
        "dt": fmt.count(record["raw"].get("TransactionDT")),
        "scored": fmt.clock(record["scored_at"]),
        "probability": fmt.prob(record["probability"]),
        "risk": record["risk_level"],
        "decision": record["decision"],
        "model": record["model_version"],
        "thresholds": f"review ≥ {record['review_threshold']:.2f} · decline ≥ {record['decline_threshold']:.2f}",
        "label": "not labelled yet" if label is None else ("fraud" if label == 1 else "legitimate"),
        "challenger": f"{challenger['model_version']}: {fmt.prob(challenger['probability'])}"
        if challenger
        else "none",
    }


def history_of(page: dict[str, Any], current: int) -> list[dict[str, str]]:
    """Rows of an entity's recent transactions (GET /v1/transactions?card1=|uid=)."""
    return [
        {
            "id": str(t["transaction_id"]),
            "when": fmt.since(t["scored_at"]) + " ago",
            "amount": fmt.money(t["amount"]),
            "probability": fmt.prob(t["probability"]),
            "decision": t["decision"],
            "this": "yes" if t["transaction_id"] == current else "",
        }
        for t in page["items"]
    ]


def features_of(record: dict[str, Any], limit: int = 40) -> list[dict[str, str]]:
    return [
        {"name": name, "value": "–" if value is None else f"{value:,.4g}"}
        for name, value in list(record.get("features", {}).items())[:limit]
    ]


def decision_badge(decision: Any) -> rx.Component:
    return rx.badge(
        decision,
        color_scheme=rx.match(
            decision, ("approve", "green"), ("review", "amber"), ("decline", "red"), "gray"
        ),
        variant="soft",
    )


def field(label: str, value: Any, id: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.text(value, size="2", weight="medium", id=id or None),
        spacing="0",
        min_width="120px",
    )


def record_fields(case: Any) -> rx.Component:
    """The transaction, its score and the model and thresholds it was scored with."""
    return rx.flex(
        field("Transaction", case["id"], id="case-id"),
        field("Amount", case["amount"]),
        field("Card (card1)", case["card1"]),
        field("Client (uid)", case["uid"]),
        field("Scored at", case["scored"]),
        field("Probability", case["probability"], id="case-probability"),
        rx.vstack(
            rx.text("Decision", size="1", color_scheme="gray"), decision_badge(case["decision"]), spacing="0"
        ),
        field("Model", case["model"], id="case-model"),
        field("Thresholds", case["thresholds"]),
        field("Label", case["label"], id="case-label"),
        field("Challenger", case["challenger"]),
        wrap="wrap",
        gap="16px",
    )


def history_table(rows: Any, id: str) -> rx.Component:
    """An entity's latest transactions as plain table elements styled by ``assets/dashboard.css``
    (class ``rows``; the tier's colour from the row's ``data-tier``, this case's row in bold)."""
    return rx.el.table(
        rx.el.thead(rx.el.tr(*[rx.el.th(h) for h in ("transaction", "when", "amount", "p", "decision")])),
        rx.el.tbody(
            rx.foreach(
                rows,
                lambda r: rx.el.tr(
                    rx.el.td(r["id"]),
                    rx.el.td(r["when"]),
                    rx.el.td(r["amount"]),
                    rx.el.td(r["probability"]),
                    rx.el.td(rx.el.span(r["decision"], class_name="tier")),
                    custom_attrs={"data-tier": r["decision"], "data-this": r["this"]},
                ),
            )
        ),
        id=id,
        class_name="rows",
    )
