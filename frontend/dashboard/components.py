"""The pieces every page is built from: KPI cards and rows, sections, empty states, tables, charts.

One place for each: a page composes these and keeps only what is its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import reflex as rx

Column = tuple[str, str]  # (header, the row key of its text)


def kpi(label: str, value: Any, hint: Any = "", id: str = "") -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="1", color_scheme="gray", weight="medium"),
            rx.text(value, size="5", weight="bold", id=id or None),
            rx.text(hint, size="1", color_scheme="gray"),
            spacing="1",
        ),
        min_width="170px",
        flex="1",
    )


def kpi_row(*cards: rx.Component) -> rx.Component:
    """KPI cards side by side, wrapping on narrow screens."""
    return rx.flex(*cards, wrap="wrap", gap="12px", width="100%")


def data_table(
    columns: Sequence[Column],
    rows: Any,
    id: str = "",
    cell: Callable[[Any, str], rx.Component] | None = None,
    **row_props: Any,
) -> rx.Component:
    """A table of ``rows`` (a list of dicts in the state): one cell per column, its text by key;
    ``cell(row, key)`` when given renders a key's cell itself (return None for plain text)."""

    def render(row: Any) -> rx.Component:
        cells = []
        for _, key in columns:
            custom = cell(row, key) if cell is not None else None
            cells.append(rx.table.cell(custom if custom is not None else row[key]))
        return rx.table.row(*cells, **row_props)

    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h, _ in columns])),
        rx.table.body(rx.foreach(rows, render)),
        id=id or None,
        size="1",
        width="100%",
    )


def empty(message: str, hint: str, id: str = "") -> rx.Component:
    """What an empty list says, and what to do about it."""
    return rx.center(
        rx.vstack(
            rx.icon("inbox", size=28, color=rx.color("gray", 8)),
            rx.text(message, weight="medium"),
            rx.text(hint, size="2", color_scheme="gray"),
            align="center",
            spacing="1",
        ),
        id=id or None,
        padding="32px",
        width="100%",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="8px",
    )


def section(title: str, *children: rx.Component, **props: Any) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, size="3"), *children, spacing="3", width="100%"), width="100%", **props
    )


def reasons_chart(data: Any, id: str) -> rx.Component:
    """Each reason's push on the log-odds: red pushes towards fraud, green away from it."""
    return rx.box(
        rx.recharts.bar_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3", horizontal=False),
            rx.recharts.x_axis(type_="number"),
            rx.recharts.y_axis(data_key="feature", type_="category", width=170),
            rx.recharts.graphing_tooltip(),
            *[
                rx.recharts.bar(
                    is_animation_active=False, data_key=key, stack_id="r", fill=rx.color(c, 9), name=name
                )
                for key, c, name in (
                    ("towards_fraud", "red", "towards fraud"),
                    ("away", "green", "away from fraud"),
                )
            ],
            data=data,
            layout="vertical",
            width="100%",
            height=240,
        ),
        id=id,
        width="100%",
    )


def reason_rows(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chart rows of an API reason list (feature, value, contribution)."""
    return [
        {
            "feature": r["feature"],
            "towards_fraud": round(r["contribution"], 4) if r["contribution"] > 0 else 0,
            "away": round(r["contribution"], 4) if r["contribution"] < 0 else 0,
        }
        for r in reasons
    ]


DECISIONS = (("approve", "green"), ("review", "amber"), ("decline", "red"))


def decision_stack(series: Callable[..., rx.Component], **props: Any) -> list[rx.Component]:
    """One stacked series per decision (``rx.recharts.area`` or ``bar``), in the decisions' colours;
    the rows carry the keys ``approve``, ``review``, ``decline``."""
    return [
        series(
            is_animation_active=False,
            data_key=decision,
            stack_id="decisions",
            stroke=rx.color(color, 9),
            fill=rx.color(color, 7),
            **props,
        )
        for decision, color in DECISIONS
    ]


def chart(
    kind: Callable[..., rx.Component],
    x_key: str,
    *series: rx.Component,
    data: Any,
    height: int = 240,
    legend: bool = True,
    y_axis: rx.Component | None = None,
    **props: Any,
) -> rx.Component:
    """A recharts chart (``rx.recharts.area_chart``, ``bar_chart``, ``line_chart``) the pages' way: grid,
    axes, tooltip, legend, full width; ``series`` are its areas / bars / lines and reference lines."""
    return kind(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
        rx.recharts.x_axis(data_key=x_key),
        y_axis if y_axis is not None else rx.recharts.y_axis(),
        rx.recharts.graphing_tooltip(),
        *([rx.recharts.legend()] if legend else []),
        *series,
        data=data,
        width="100%",
        height=height,
        **props,
    )
