"""Soak the local stack: run `sentinel up --detach` for a while and sample every process's memory.

    python tests/benchmarks/soak.py --minutes 10 --json bench-results/soak.json

Uses the current environment's SENTINEL_* settings (state dir, rate, ...). Prints, per
process, resident memory after warm-up and at the end, and writes all samples as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import psutil

from infra.settings import get_settings


def _label(proc: psutil.Process) -> str:
    cmd = proc.cmdline()
    text = " ".join(cmd)
    for name in ("redis-server", "tansu", "granian", "rq-dashboard", "rqscheduler", "rq worker", "honcho"):
        if name in text:
            return name
    if "sentinel" in text or "infra.cli" in text:
        args = [a for a in cmd if not a.startswith("-") and "python" not in a and "/" not in a]
        return "sentinel " + " ".join(args[1:4]) if len(args) > 1 else "sentinel"
    return cmd[0] if cmd else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--interval", type=float, default=10)
    parser.add_argument("--json", type=Path, default=Path("bench-results/soak.json"))
    args = parser.parse_args()
    state = get_settings().local.state_dir
    subprocess.run([sys.executable, "-m", "infra.cli", "up", "--detach"], check=True)
    root = psutil.Process(int((state / "stack.pid").read_text()))
    samples: list[dict[str, object]] = []
    try:
        end = time.monotonic() + args.minutes * 60
        while time.monotonic() < end:
            row: dict[str, float] = {}
            for proc in [root, *root.children(recursive=True)]:
                try:
                    label = f"{_label(proc)} [{proc.pid}]"
                    row[label] = proc.memory_info().rss / 2**20
                except psutil.NoSuchProcess:
                    continue
            samples.append({"t": time.time(), "rss_mb": row})
            time.sleep(args.interval)
    finally:
        subprocess.run([sys.executable, "-m", "infra.cli", "down"], check=False)
    warm = samples[min(6, len(samples) - 1)]["rss_mb"]
    last = samples[-1]["rss_mb"]
    assert isinstance(warm, dict) and isinstance(last, dict)
    print(f"{'process':50} {'rss after warm-up MB':>22} {'rss at end MB':>15} {'growth MB':>10}")
    for label in sorted(last):
        if label in warm:
            print(f"{label:50} {warm[label]:22.1f} {last[label]:15.1f} {last[label] - warm[label]:10.1f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"minutes": args.minutes, "samples": samples}))


if __name__ == "__main__":
    main()
