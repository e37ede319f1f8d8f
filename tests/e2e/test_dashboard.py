"""The analyst dashboard in a real browser (system Chromium) against the whole local stack."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Stack, screenshot, sign_in

pytestmark = pytest.mark.e2e
expect.set_options(timeout=15_000)  # a busy 2-core CI machine builds and serves the whole stack

NUMBER = re.compile(r"\d")
LIVE = 20_000  # ms: the stack streams traffic; a page shows it within a few refreshes
# ms: a label reaches the stack a minute after its transaction (the simulator's label delay over
# its speed-up, 3,600 s / 60), so on a quiet machine the first test gets here before any label
LABELS = 240_000


def test_sign_in_is_required_and_scorer_keys_are_refused(
    page: Page, stack: Stack, console_errors: list[str]
) -> None:
    page.goto(f"{stack.dashboard}/ops")
    expect(page).to_have_url(re.compile(r"/signin$"))
    page.locator("#api-key").fill(stack.keys["scorer"])
    page.locator("#sign-in").click()
    expect(page.locator("#gateway-error")).to_contain_text("scorer role")
    page.locator("#api-key").fill("not-a-key")
    page.locator("#sign-in").click()
    expect(page.locator("#gateway-error")).to_contain_text("not valid")
    assert stack.keys["scorer"] not in page.url and "not-a-key" not in page.url
    assert console_errors == []


def _open(page: Page, nav: str, title: str) -> None:
    page.locator(f"#nav-{nav}").click()
    expect(page.locator("#page-title")).to_have_text(title)


def test_every_page_renders_live_data_without_console_errors(
    page: Page, stack: Stack, console_errors: list[str]
) -> None:
    sign_in(page, stack, "admin")
    expect(page.locator("#page-title")).to_have_text("Overview")
    for kpi in ("#kpi-tps", "#kpi-scored", "#kpi-latency", "#kpi-declined"):
        expect(page.locator(kpi)).to_have_text(NUMBER, timeout=LIVE)
    scored = page.locator("#kpi-scored").inner_text()
    expect(page.locator("#kpi-scored")).not_to_have_text(scored, timeout=LIVE)  # it moves without a reload
    # the breakdown: one row per product the gateway counts, then per card network
    products = page.locator("#breakdown-table tbody tr")
    expect(products.first).to_be_visible(timeout=LIVE)
    api = stack.api("analyst", "GET", "/v1/metrics/breakdown", params={"minutes": 30}).json()
    by_name = {d["name"]: d["rows"] for d in api["dimensions"]}
    assert {r["value"] for r in by_name["ProductCD"]} <= {"W", "C", "H", "S", "R"}
    expect(products.first).to_contain_text(by_name["ProductCD"][0]["value"])
    page.locator("#breakdown-dimension").click()
    page.get_by_role("option", name="card network").click()
    expect(page.locator("#breakdown-table")).to_contain_text(re.compile("visa|mastercard"))
    screenshot(page, "overview")

    _open(page, "ops-center", "Ops Center")
    expect(page.locator("#kpi-open")).to_have_text(NUMBER, timeout=LIVE)
    expect(page.locator("#alert-queue tr.alert-row").first).to_be_visible(timeout=LIVE)
    expect(page.locator("#case-id")).to_have_text(NUMBER)  # the first case opens by itself

    _open(page, "ml-monitoring", "ML Monitoring")
    expect(page.locator("#score-distribution .recharts-bar-rectangle").first).to_be_visible(timeout=LIVE)
    expect(page.locator("#champion")).to_have_text(re.compile(r"\w+-\w+"))
    expect(page.locator("#model-versions tbody tr").first).to_be_visible()
    expect(page.locator("#drift-empty, #drift-table")).to_be_visible()
    # the reliability diagram on the labels arrived so far (they follow the traffic within seconds)
    expect(page.locator("#reliability-chart .recharts-bar-rectangle").first).to_be_visible(timeout=LABELS)
    expect(page.locator("#reliability-table tbody tr")).to_have_count(10)
    screenshot(page, "ml-monitoring")

    _open(page, "strategy", "Strategy")
    live = stack.api("analyst", "GET", "/v1/strategy").json()
    expect(page.locator("#strategy-live")).to_contain_text(f"review ≥ {live['review_threshold']:.2f}")
    expect(page.locator("#sim-precision, #strategy-empty")).to_be_visible()
    screenshot(page, "strategy")

    _open(page, "forensics", "Forensics")
    expect(page.locator("#forensics-start")).to_be_visible()
    assert console_errors == []


def _first_alert_id(page: Page) -> str:
    rows = page.locator("#alert-queue tr.alert-row")
    expect(rows.first).to_be_visible(timeout=LIVE)
    return rows.first.get_attribute("data-id") or ""


def test_ops_center_resolve_becomes_a_label_and_leaves_the_queue(
    page: Page, stack: Stack, console_errors: list[str]
) -> None:
    sign_in(page, stack, "analyst")
    page.locator("#nav-ops-center").click()
    expect(page.locator("#page-title")).to_have_text("Ops Center")
    expect(page.locator("#kpi-open")).to_have_text(NUMBER, timeout=LIVE)
    # oldest first: new alerts arrive all the time, and would shift the rows of a newest-first queue
    page.locator("#sort").click()
    page.get_by_role("option", name="oldest first").click()
    oldest = stack.api("analyst", "GET", "/v1/alerts/queue", params={"sort": "oldest", "limit": 1}).json()
    first = str(oldest["items"][0]["transaction_id"])
    expect(page.locator("#alert-queue tr.alert-row").first).to_have_attribute("data-id", first)
    page.locator(f'#alert-queue tr[data-id="{first}"]').click()
    expect(page.locator("#case-id")).to_have_text(first)
    expect(page.locator("#case-reasons .recharts-bar-rectangle").first).to_be_visible()
    expect(page.locator("#card-history tbody tr").first).to_be_visible()
    second = page.locator("#alert-queue tr.alert-row").nth(1).get_attribute("data-id")
    page.keyboard.press("j")  # next case
    expect(page.locator("#case-id")).to_have_text(second or "")
    page.keyboard.press("k")  # previous case
    expect(page.locator("#case-id")).to_have_text(first)
    screenshot(page, "ops-center")

    # An alert of a transaction the simulator never labels (its labels follow every transaction it
    # sends within a second here): the oldest alert's transaction again, under a new TransactionID,
    # scored through the API. Filtered by its amount, it is the newest row of the queue.
    raw = stack.api("analyst", "GET", f"/v1/transactions/{first}").json()["raw"]
    mine = {**raw, "TransactionID": 9_000_000_000 + int(time.time()) % 1_000_000}
    scored = stack.api("scorer", "POST", "/v1/score", json=mine).json()
    assert scored["decision"] != "approve", scored  # the same payment as an alerted one, again
    target = str(mine["TransactionID"])
    amount = f"{raw['TransactionAmt']}"
    for box in ("#filter-min-amount", "#filter-max-amount"):
        page.locator(box).fill(amount)
        page.locator(box).press("Tab")
    page.locator("#sort").click()
    page.get_by_role("option", name="newest first").click()
    expect(page.locator("#alert-queue tr.alert-row").first).to_have_attribute("data-id", target, timeout=LIVE)
    page.locator(f'#alert-queue tr[data-id="{target}"]').click()
    expect(page.locator("#case-id")).to_have_text(target)
    page.locator("#resolve-note").fill("card testing pattern")
    page.locator("#alert-queue").click(position={"x": 5, "y": 5})  # leave the comment box
    page.keyboard.press("f")  # verdict: fraud
    expect(page.locator("#resolve-done")).to_contain_text(f"Transaction {target} resolved as fraud")
    expect(page.locator(f'#alert-queue tr[data-id="{target}"]')).to_have_count(0)

    resolved = stack.api(
        "analyst", "GET", "/v1/alerts/queue", params={"status": "resolved", "limit": 500}
    ).json()
    done = [a for a in resolved["items"] if str(a["transaction_id"]) == target]
    assert done and done[0]["verdict"] == "fraud" and done[0]["resolved_by"].startswith("analyst")
    still_open = stack.api("analyst", "GET", "/v1/alerts/queue", params={"limit": 500}).json()
    assert target not in {str(a["transaction_id"]) for a in still_open["items"]}
    audit = stack.api("analyst", "GET", "/v1/audit").json()
    assert any(
        e["action"] == "alert.resolve"
        and e["detail"]["transaction_id"] == target
        and e["detail"]["note"] == "card testing pattern"
        for e in audit
    )
    # the label stage stores the verdict as the transaction's label
    _until(lambda: stack.api("analyst", "GET", f"/v1/transactions/{target}").json().get("label") == 1, 30)
    assert console_errors == []


def test_a_new_alert_appears_in_the_open_ops_center_without_a_reload(
    page: Page, stack: Stack, console_errors: list[str]
) -> None:
    sign_in(page, stack, "analyst")
    page.goto(f"{stack.dashboard}/ops")
    # subscribed to the gateway's alert events: a new alert refreshes the queue as it is raised
    expect(page.locator("#queue-live")).to_have_text("live", timeout=LIVE)
    first = _first_alert_id(page)
    page.evaluate("window.__no_reload = true")
    expect(page.locator("#alert-queue tr.alert-row").first).not_to_have_attribute(
        "data-id", first, timeout=LIVE
    )
    newest = _first_alert_id(page)
    assert page.evaluate("window.__no_reload") is True  # the same document: no reload happened
    queue = stack.api("analyst", "GET", "/v1/alerts/queue", params={"limit": 50}).json()
    assert newest in {str(a["transaction_id"]) for a in queue["items"]}
    assert console_errors == []


def _until(condition: Callable[[], bool], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        time.sleep(0.25)  # polling interval of a deadline loop, not synchronisation


def test_strategy_apply_changes_the_live_thresholds_and_an_analyst_cannot(
    page: Page, stack: Stack, console_errors: list[str]
) -> None:
    before = stack.api("analyst", "GET", "/v1/strategy").json()
    sign_in(page, stack, "analyst")
    page.goto(f"{stack.dashboard}/strategy")
    expect(page.locator("#strategy-readonly")).to_be_visible()
    expect(page.locator("#strategy-apply")).to_be_disabled()
    denied = stack.api(
        "analyst", "PUT", "/v1/strategy", json={"review_threshold": 0.2, "decline_threshold": 0.9}
    )
    assert denied.status_code == 403  # and the gateway refuses it too

    page.locator("#sign-out").click()
    sign_in(page, stack, "admin")
    page.goto(f"{stack.dashboard}/strategy")
    expect(page.locator("#strategy-apply")).to_be_enabled()
    page.locator("#review-input").fill("0.27")
    page.locator("#review-input").press("Tab")
    page.locator("#decline-input").fill("0.86")
    page.locator("#decline-input").press("Tab")
    expect(page.locator("#review-input")).to_have_value("0.27")
    expect(page.locator("#decline-input")).to_have_value("0.86")
    page.locator("#strategy-apply").click()
    expect(page.locator("#strategy-applied")).to_contain_text("review ≥ 0.27 · decline ≥ 0.86")
    after = stack.api("analyst", "GET", "/v1/strategy").json()
    assert (after["review_threshold"], after["decline_threshold"]) == (0.27, 0.86)
    assert after["updated_by"].startswith("admin")
    expect(page.locator("#strategy-history tbody tr").first).to_contain_text("admin")
    restore = {k: before[k] for k in ("review_threshold", "decline_threshold")}
    assert stack.api("admin", "PUT", "/v1/strategy", json=restore).status_code == 200
    assert console_errors == []


def test_forensics_search_shows_the_reasons_chart_of_a_scored_transaction(
    page: Page, stack: Stack, console_errors: list[str]
) -> None:
    queue = stack.api("analyst", "GET", "/v1/alerts/queue", params={"status": "all", "limit": 1}).json()
    alert = queue["items"][0]  # an alert: reviewed or declined, so it has reasons
    sign_in(page, stack, "analyst")
    page.goto(f"{stack.dashboard}/forensics")
    page.locator("#forensics-query").fill(str(alert["transaction_id"]))
    page.locator("#forensics-search").click()
    expect(page.locator("#case-id")).to_have_text(str(alert["transaction_id"]))
    expect(page.locator("#forensics-reasons .recharts-bar-rectangle").first).to_be_visible()
    for reason in alert["reasons"]:
        expect(page.locator("#forensics-reasons")).to_contain_text(reason["feature"])
    expect(page.locator("#forensics-card-history tbody tr").first).to_be_visible()
    screenshot(page, "forensics")

    page.locator("#forensics-kind").click()
    page.get_by_role("option", name="card").click()
    page.locator("#forensics-query").fill(str(alert["card1"]))
    page.locator("#forensics-search").click()
    expect(page.locator("#forensics-timeline tbody tr").first).to_be_visible()
    expect(page.locator("#forensics-timeline")).to_contain_text(str(alert["transaction_id"]))
    assert console_errors == []
