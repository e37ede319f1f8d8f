"""The analyst dashboard in a real browser (system Chromium) against the whole local stack."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Stack, screenshot, sign_in

pytestmark = pytest.mark.e2e

NUMBER = re.compile(r"\d")
LIVE = 20_000  # ms: the stack streams traffic; a page shows it within a few refreshes


def test_sign_in_is_required_and_scorer_keys_are_refused(
    page: Page, stack: Stack, console_errors: list[str]
) -> None:
    page.goto(f"{stack.dashboard}/")
    expect(page).to_have_url(re.compile(r"/signin$"))
    page.locator("#api-key").fill(stack.keys["scorer"])
    page.locator("#sign-in").click()
    expect(page.locator("#gateway-error")).to_contain_text("scorer role")
    page.locator("#api-key").fill("not-a-key")
    page.locator("#sign-in").click()
    expect(page.locator("#gateway-error")).to_contain_text("not valid")
    assert stack.keys["scorer"] not in page.url and "not-a-key" not in page.url
    assert console_errors == []


def test_overview_shows_live_kpis(page: Page, stack: Stack, console_errors: list[str]) -> None:
    sign_in(page, stack, "analyst")
    expect(page.locator("#page-title")).to_have_text("Overview")
    for kpi in ("#kpi-tps", "#kpi-scored", "#kpi-latency", "#kpi-declined"):
        expect(page.locator(kpi)).to_have_text(NUMBER, timeout=LIVE)
    scored = page.locator("#kpi-scored").inner_text()
    expect(page.locator("#kpi-scored")).not_to_have_text(scored, timeout=LIVE)  # it moves without a reload
    screenshot(page, "overview")
    assert console_errors == []
