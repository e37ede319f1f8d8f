"""Time to first paint and to live data of each dashboard page, and the Ops Center under 10,000 open alerts.

    python -m tests.benchmarks.dashboard            # against a running `sentinel up` (this state dir)
    python -m tests.benchmarks.dashboard --open-alerts 10000 --json bench-results/dashboard-ops.json

Reads the running stack's URLs and keys from the state directory (SENTINEL_* settings). For
each page it loads the page in the system Chromium (signed in), and reports the browser's
first contentful paint and the time until the page's live data is on screen after a full load
(a bookmark or a reload), and after a click on its sidebar link from the Overview (how an
analyst moves inside the app: Reflex routes in the browser, no reload) — medians of ``--runs``.

``--open-alerts N`` first makes sure at least N alerts are open, appending the shortfall as
synthetic open alerts to the stack's alerts stream (a benchmark fixture, like the queue's
integration test; a stack that already holds N open alerts gets none), times the first queue
request after it (the open-alerts index takes the new alerts in), then the Ops Center's first
page of the queue on a first visit: each run is a new browser session (so nothing of an earlier
run is in the dashboard server's state: the rows shown are the ones this visit asked the gateway
for), signed in on the Overview, then the Ops Center by a full load and, in another session, by
its sidebar link. Per visit: ms until the first page of the queue is on screen and until the first
case, the browser's CPU (all its processes) and the dashboard server's CPU until the queue shows,
the page's main thread until then as Chromium counts it (script, style and layout ms; style
recalculations and layouts), and the state updates (websocket messages with a delta) the browser
received until then. Then
``GET /v1/alerts/queue`` (median wall time, and the CPU the gateway's processes and Redis spent
per request). CPU figures move less with the machine's load than wall times; the load average is
reported before and after.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import redis
from playwright.sync_api import Browser, Locator, Page, WebSocket, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from core.settings import get_settings
from functions.events import AlertRaised
from infra.gateway import wiring
from streams.events import entry_fields
from streams.keys import Keys
from tests.e2e.stack import CHROMIUM, CHROMIUM_ARGS

# page -> the element that shows its live data (the Overview's cards are there at first paint,
# showing "–" until the first answer of the gateway: see _live)
PAGES = {
    "/": "#kpi-scored",
    "/ops": "#alert-queue tr.alert-row",
    "/monitoring": "#score-distribution .recharts-bar-rectangle",
    "/strategy": "#sim-precision, #strategy-empty",
    "/forensics": "#forensics-start",
}
# page -> its sidebar link's id suffix (frontend/dashboard/layout.py)
NAV_IDS = {
    "/ops": "ops-center",
    "/monitoring": "ml-monitoring",
    "/strategy": "strategy",
    "/forensics": "forensics",
}


def _redis() -> redis.Redis:
    settings = get_settings()
    return redis.Redis.from_url(settings.redis.url or "")


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += parents.get(pid, [])
    return out


def _gateway_pids(state_dir: Path) -> list[int]:
    """The `sentinel gateway` processes of this stack (below the pid in its stack.json) and their workers."""
    root = json.loads((state_dir / "stack.json").read_text())["pid"]
    pids: list[int] = []
    for pid in _descendants(int(root)):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"gateway" in cmdline and pid not in pids:
            pids += _descendants(pid)
    return pids


def _cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime, clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def _dashboard_pids(state_dir: Path) -> list[int]:
    """The analyst dashboard's server processes of this stack (frontend/serve.py and its worker)."""
    root = json.loads((state_dir / "stack.json").read_text())["pid"]
    found: list[int] = []
    for pid in _descendants(int(root)):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"serve.py" in cmdline:
            found.append(pid)
    return found


def _chromium_pids() -> list[int]:
    """This benchmark's Chromium processes (below this process, through Playwright's driver)."""
    found = []
    for pid in _descendants(os.getpid()):
        try:
            if b"chrom" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]:
                found.append(pid)
        except OSError:
            continue
    return found


def _redis_cpu_s(client: redis.Redis) -> float:
    info: Any = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _inject(n: int) -> None:
    settings = get_settings()
    client = _redis()
    key = Keys(settings.redis.key_prefix).stream(wiring(settings).alerts_stream)
    pipe = client.pipeline(transaction=False)
    first = 900_000_000 + (int(time.time()) % 9_000) * 10_000  # a fresh id range per top-up
    for i in range(n):
        alert = AlertRaised(
            TransactionID=first + i,
            TransactionDT=86_400 + i,
            TransactionAmt=float(i % 997),
            card1=1000 + i % 5000,
            uid=f"bench{i % 300}",
            probability=0.5 + (i % 50) / 100,
            risk="high",
            decision="decline" if i % 3 else "review",
            reasons=[],
            model_version="bench",
        )
        fields: Any = entry_fields(msgspec.json.encode(alert), {})
        pipe.xadd(key, fields)
    pipe.execute()
    client.close()


def _live(page: Page, route: str, ready: str) -> Locator:
    locator = page.locator(ready).first
    return locator.filter(has_not_text="–") if route == "/" else locator


def _time_page(page: Page, base: str, route: str, ready: str) -> dict[str, float]:
    started = time.perf_counter()
    page.goto(base + route)
    page.locator("#page-title").wait_for(state="visible", timeout=60_000)
    title_ms = (time.perf_counter() - started) * 1000
    _live(page, route, ready).wait_for(state="visible", timeout=60_000)
    data_ms = (time.perf_counter() - started) * 1000
    paints = page.evaluate(
        "Object.fromEntries(performance.getEntriesByType('paint').map(p => [p.name, p.startTime]))"
    )
    first = paints.get("first-contentful-paint", paints.get("first-paint"))
    # headless Chromium does not always report a paint entry: the page's title on screen is kept too
    return {
        "first_paint_ms": float(first) if first is not None else math.nan,
        "title_shown_ms": title_ms,
        "live_data_ms": data_ms,
    }


def _time_navigation(page: Page, base: str, route: str, ready: str) -> float:
    """ms from a click on the page's sidebar link (from the Overview, fully loaded) to its live data:
    what an analyst waits for inside the app, where Reflex routes in the browser without a reload."""
    page.goto(base + "/")
    _live(page, "/", PAGES["/"]).wait_for(state="visible", timeout=60_000)  # connected, hydrated
    started = time.perf_counter()
    page.locator(f"#nav-{NAV_IDS[route]}").click()
    page.locator(ready).first.wait_for(state="visible", timeout=60_000)
    return (time.perf_counter() - started) * 1000


QUEUE_ROWS = PAGES["/ops"]
CASE = "#case-id"


def _deltas(frames: list[tuple[float, int]], since: float, until: float) -> dict[str, int]:
    inside = [size for at, size in frames if since <= at <= until]
    return {"state_updates": len(inside), "state_update_bytes": sum(inside)}


# the page's main thread per Chromium (CDP Performance.getMetrics): name -> (ours, scale)
RENDERER_METRICS = {
    "ScriptDuration": ("main_thread_script_ms", 1000),
    "RecalcStyleDuration": ("main_thread_style_ms", 1000),
    "LayoutDuration": ("main_thread_layout_ms", 1000),
    "RecalcStyleCount": ("style_recalculations", 1),
    "LayoutCount": ("layouts", 1),
}


def _renderer_metrics(cdp: Any) -> dict[str, float]:
    """What the page's main thread did so far: script, style and layout time, and how many style
    recalculations and layouts (counts: the same on a busy machine)."""
    values = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {ours: values.get(name, 0.0) * scale for name, (ours, scale) in RENDERER_METRICS.items()}


def _ops_first_visit(
    browser: Browser, base: str, key: str, how: str, server_pids: list[int]
) -> dict[str, float]:
    """One first visit of the Ops Center in a new browser session, by a full load or the sidebar link
    from the Overview; wall ms and CPU ms (browser, dashboard server) until the queue's first page."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    frames: list[tuple[float, int]] = []  # (perf_counter, bytes) of each received state update

    def watch(socket: WebSocket) -> None:
        def received(payload: str | bytes) -> None:
            if isinstance(payload, str) and '"delta"' in payload:
                frames.append((time.perf_counter(), len(payload)))

        socket.on("framereceived", received)

    try:
        page = context.new_page()
        page.on("websocket", watch)
        page.goto(base + "/signin")
        page.locator("#api-key").fill(key)
        page.locator("#sign-in").click()
        # on the Overview, connected and hydrated (its KPIs may show "–" on a stack without traffic)
        page.locator("#role-badge").filter(has_text=re.compile(r"\w")).wait_for(timeout=60_000)
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        before = _renderer_metrics(cdp) if how == "sidebar" else {}  # a full load: a new document's own
        browser_cpu = {pid: _cpu_s([pid]) for pid in _chromium_pids()}
        server_cpu, started = _cpu_s(server_pids), time.perf_counter()
        if how == "full load":
            page.goto(base + "/ops")
        else:
            page.locator(f"#nav-{NAV_IDS['/ops']}").click()
        page.locator(QUEUE_ROWS).first.wait_for(state="visible", timeout=60_000)
        rows_at = time.perf_counter()
        # a process that started meanwhile (a renderer for the new document) counts from zero
        browser_ms = sum(_cpu_s([pid]) - browser_cpu.get(pid, 0.0) for pid in _chromium_pids()) * 1000
        server_ms = (_cpu_s(server_pids) - server_cpu) * 1000
        after = _renderer_metrics(cdp)
        try:  # the first row's case opens only when its transaction has a record: not a synthetic alert's
            page.locator(CASE).filter(has_text=re.compile(r"\d")).wait_for(state="visible", timeout=15_000)
            case_ms = (time.perf_counter() - started) * 1000
        except PlaywrightTimeout:
            case_ms = math.nan  # left out of the median
        return {
            "queue_shown_ms": (rows_at - started) * 1000,
            "case_shown_ms": case_ms,
            "browser_cpu_ms": browser_ms,
            "server_cpu_ms": server_ms,
            **{name: after[name] - before.get(name, 0.0) for name in after},
            **_deltas(frames, started, rows_at),
        }
    finally:
        context.close()


def _time_pages(browser: Browser, base: str, key: str, runs: int, results: dict[str, Any]) -> None:
    """Each page's first paint and live data after a full load, and from the sidebar (one session)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(base + "/signin")
    page.locator("#api-key").fill(key)
    page.locator("#sign-in").click()
    page.locator("#role-badge").wait_for(timeout=30_000)
    for route, ready in PAGES.items():
        chromium, started = _chromium_pids(), time.perf_counter()
        cpu_before = _cpu_s(chromium)
        loads = [_time_page(page, base, route, ready) for _ in range(runs)]
        results[route] = {k: _median([r[k] for r in loads]) for k in loads[0]}
        # the browser's CPU per full load (until live data): the part of the wall time that is
        # the page's own work, whatever else the machine runs
        results[route]["browser_cpu_ms_per_load"] = round((_cpu_s(chromium) - cpu_before) * 1000 / runs)
        results[route]["wall_ms_per_load"] = round((time.perf_counter() - started) * 1000 / runs)
        if route != "/":
            clicks = [_time_navigation(page, base, route, ready) for _ in range(runs)]
            results[route]["from_sidebar_ms"] = _median(clicks)


def _median(values: list[float]) -> float | None:
    known = [v for v in values if not math.isnan(v)]
    return round(statistics.median(known), 1) if known else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--open-alerts",
        type=int,
        default=0,
        help="time only the Ops Center, with at least this many open alerts",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    settings = get_settings()
    keys = dict(p.split(":", 1) for p in (settings.local.state_dir / "api-keys").read_text().split(","))
    base = f"http://127.0.0.1:{settings.local.dashboard_port}"
    gateway = f"http://{settings.gateway.host}:{settings.gateway.port}"
    headers = {"X-API-Key": keys["analyst"]}
    results: dict[str, Any] = {
        "load_average_before": os.getloadavg(),
        "open_alerts_injected": args.open_alerts,
    }
    if args.open_alerts:
        already = httpx.get(f"{gateway}/v1/alerts/queue", params={"limit": 1}, headers=headers, timeout=60)
        results["open_alerts_injected"] = shortfall = max(0, args.open_alerts - already.json()["open"])
        _inject(shortfall)
        started = time.perf_counter()
        first = httpx.get(f"{gateway}/v1/alerts/queue", params={"limit": 25}, headers=headers, timeout=60)
        results["first queue request after the injection (index catch-up) ms"] = round(
            (time.perf_counter() - started) * 1000, 1
        )
        # the local stack trims alerts older than its retention (minutes): say how many were open
        results["open_alerts_before_the_browser_runs"] = first.json()["open"]
    dashboard_pids = _dashboard_pids(settings.local.state_dir)
    dashboard_cpu, browser_started = _cpu_s(dashboard_pids), time.perf_counter()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        if args.open_alerts:
            for how in ("full load", "sidebar"):
                visits = [
                    _ops_first_visit(browser, base, keys["admin"], how, dashboard_pids)
                    for _ in range(args.runs)
                ]
                results[f"/ops first visit, {how}"] = {
                    **{k: _median([v[k] for v in visits]) for k in visits[0]},
                    "queue_shown_ms (all runs)": [round(v["queue_shown_ms"]) for v in visits],
                    "load_average_after": os.getloadavg(),
                }
        else:
            _time_pages(browser, base, keys["admin"], args.runs, results)
        browser.close()
    results["dashboard server CPU s over the browser runs"] = round(_cpu_s(dashboard_pids) - dashboard_cpu, 2)
    results["browser runs wall s"] = round(time.perf_counter() - browser_started, 1)
    api = []
    pids, client = _gateway_pids(settings.local.state_dir), _redis()
    calls = max(args.runs, 20)
    # what the stack spends anyway (traffic, the other pages' polling) over as long, to subtract
    idle_s = 5.0
    cpu_idle, redis_idle = _cpu_s(pids), _redis_cpu_s(client)
    time.sleep(idle_s)
    cpu_idle, redis_idle = (_cpu_s(pids) - cpu_idle) / idle_s, (_redis_cpu_s(client) - redis_idle) / idle_s
    cpu_before, redis_before, calls_started = _cpu_s(pids), _redis_cpu_s(client), time.perf_counter()
    for _ in range(calls):
        started = time.perf_counter()
        response = httpx.get(f"{gateway}/v1/alerts/queue", params={"limit": 25}, headers=headers)
        api.append((time.perf_counter() - started) * 1000)
        results["open_alerts"] = response.json()["open"]
    results["GET /v1/alerts/queue ms (median)"] = round(statistics.median(api), 1)
    results["GET /v1/alerts/queue ms (max)"] = round(max(api), 1)
    # CPU per request: the gateway's processes and Redis during the calls, less their idle rate
    took = time.perf_counter() - calls_started
    gateway_cpu = _cpu_s(pids) - cpu_before - cpu_idle * took
    redis_cpu = _redis_cpu_s(client) - redis_before - redis_idle * took
    results["gateway CPU ms per request"] = round(gateway_cpu * 1000 / calls, 2)
    results["redis CPU ms per request"] = round(redis_cpu * 1000 / calls, 2)
    results["gateway pids found"] = len(pids)
    results["load_average_after"] = os.getloadavg()
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
