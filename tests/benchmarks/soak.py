"""Soak the local stack: run `sentinel up --detach`, sample every process's memory, judge flatness.

    python tests/benchmarks/soak.py --warmup 10 --minutes 10 --json bench-results/soak.json

The stack keeps per-transaction records for ``SENTINEL_LOCAL_RETENTION_S`` (default 10 min) and
empties its in-memory broker every ``SENTINEL_LOCAL_BROKER_MAX_MESSAGES``, so memory should rise
during the warm-up and then stay flat. Prints, per process, resident memory over the measured
window (after the warm-up), and writes every sample as JSON plus a PNG plot beside it.
Uses the current environment's SENTINEL_* settings (state dir, rate, ...).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import redis

from core.settings import get_settings
from infra.pipeline.table import PIPELINE
from streams.keys import Keys


def _label(proc: psutil.Process) -> str:
    cmd = proc.cmdline()
    text = " ".join(cmd)
    for name in ("redis-server", "tansu", "granian", "rq-dashboard", "rqscheduler", "rq worker", "honcho"):
        if name in text:
            return name
    if "simulate" in cmd:
        return "sentinel simulate"
    if "sentinel" in text or "infra.cli" in text:
        args = [a for a in cmd if not a.startswith("-") and "python" not in a and "/" not in a]
        return "sentinel " + " ".join(args[1:4]) if len(args) > 1 else "sentinel"
    return cmd[0] if cmd else "?"


STREAMS = sorted({name for spec in PIPELINE for name in (spec.input, *spec.outputs)})


def _sample(root: psutil.Process, client: redis.Redis | None, keys: Keys) -> dict[str, Any]:
    rss: dict[str, float] = {}
    for proc in [root, *root.children(recursive=True)]:
        try:
            rss[f"{_label(proc)} [{proc.pid}]"] = proc.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            continue
    row: dict[str, Any] = {"t": time.time(), "rss_mb": rss}
    if client is not None:  # what Redis holds: memory, keys, stream lengths, mirror counters
        info: Any = client.info("memory")
        stats: Any = client.hgetall(keys.mirror_stats)
        row["redis_used_mb"] = info["used_memory"] / 2**20
        row["redis_keys"] = client.dbsize()
        row["stream_lengths"] = {name: client.xlen(keys.stream(name)) for name in STREAMS}
        row["mirror"] = {k.decode(): int(v) for k, v in stats.items()}
    return row


def _plot(samples: list[dict[str, Any]], warmup_s: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = samples[0]["t"]
    fig, ax = plt.subplots(figsize=(11, 6))
    for label in sorted({label for s in samples for label in s["rss_mb"]}):
        points = [((s["t"] - t0) / 60, s["rss_mb"][label]) for s in samples if label in s["rss_mb"]]
        if max(mb for _, mb in points) >= 20:  # launcher shells and the like would only clutter it
            ax.plot(*zip(*points, strict=True), label=label)
    ax.axvline(warmup_s / 60, color="grey", linestyle="--", label="end of warm-up")
    ax.set(xlabel="minutes", ylabel="resident memory (MB)", title="Local stack soak: memory per process")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warmup", type=float, default=10, help="Minutes before the measured window.")
    parser.add_argument("--minutes", type=float, default=10, help="Minutes of the measured window.")
    parser.add_argument("--interval", type=float, default=10, help="Seconds between samples.")
    parser.add_argument("--json", type=Path, default=Path("bench-results/soak.json"))
    args = parser.parse_args()
    settings = get_settings()
    state, keys = settings.local.state_dir, Keys(settings.redis.key_prefix)
    subprocess.run([sys.executable, "-m", "infra.cli", "up", "--detach"], check=True)
    root = psutil.Process(int((state / "stack.pid").read_text()))
    announced = reversed((state / "stack.log").read_text().splitlines())  # this run's lines come last
    redis_url = next((line.split()[-1] for line in announced if line.startswith("  Redis ")), None)
    client = redis.Redis.from_url(redis_url) if redis_url else None
    samples: list[dict[str, Any]] = []
    start = time.monotonic()
    try:
        while time.monotonic() - start < (args.warmup + args.minutes) * 60:
            samples.append(_sample(root, client, keys))
            time.sleep(args.interval)  # sampling period of a measurement, not synchronisation
    finally:
        subprocess.run([sys.executable, "-m", "infra.cli", "down"], check=False)
    window = [s for s in samples if s["t"] - samples[0]["t"] >= args.warmup * 60] or samples[-1:]
    first, last = window[0], window[-1]
    print(f"measured window: minutes {args.warmup:g}-{args.warmup + args.minutes:g} ({len(window)} samples)")
    print(f"{'process':46} {'start MB':>9} {'end MB':>9} {'min MB':>9} {'max MB':>9} {'change':>8}")
    for label in sorted(last["rss_mb"]):
        values = [s["rss_mb"][label] for s in window if label in s["rss_mb"]]
        if label in first["rss_mb"]:
            start_mb, end_mb = first["rss_mb"][label], last["rss_mb"][label]
            print(
                f"{label:46} {start_mb:9.1f} {end_mb:9.1f} {min(values):9.1f} {max(values):9.1f} "
                f"{end_mb - start_mb:+8.1f}"
            )
    if "redis_used_mb" in last:
        print(f"redis used_memory: {first['redis_used_mb']:.1f} -> {last['redis_used_mb']:.1f} MB, "
              f"keys: {first['redis_keys']:,} -> {last['redis_keys']:,}")  # fmt: skip
        print(f"stream lengths: {first['stream_lengths']} -> {last['stream_lengths']}")
        print(f"mirror stats at the end: {last['mirror']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps({"warmup_minutes": args.warmup, "minutes": args.minutes, "samples": samples})
    )
    _plot(samples, args.warmup * 60, args.json.with_suffix(".png"))
    print(f"samples: {args.json}  plot: {args.json.with_suffix('.png')}")


if __name__ == "__main__":
    main()
