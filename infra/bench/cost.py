"""Benchmark tool: the cost table, CPU µs per event per process and per Redis command.

A wall-clock figure moves with the host and with whatever else runs on it; the CPU a
process spends per event moves only with the code. ``Meter`` takes two snapshots around a
measured run and turns their difference into:

- ``cpu_us_per_event``: user + system CPU of each named process (``/proc/<pid>/stat``, all its
  threads; the children it spawned and waited for are not counted), Redis's own CPU (``INFO
  cpu``: every thread of the server, wherever it runs), their total;
- ``redis_commands``: per command (``INFO commandstats``), calls and µs inside Redis per event,
  largest first. A command a Lua script calls is counted under its own name *and* inside
  ``evalsha``'s time, so the rows do not add up: read ``evalsha`` as the scripts' total and
  the others as where that time goes;
- ``load_average`` at the start and the end (the box's 1/5/15-minute load: other work on it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (0.0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(b")") + 2 :].split()  # after "pid (comm) ": field 3 (state) is index 0
    return (int(fields[11]) + int(fields[12])) * _TICK_S  # fields 14 and 15: utime, stime


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return 0
    return int(stat[stat.rindex(b")") + 2 :].split()[1])


def descendants(root: int) -> dict[int, str]:
    """pid -> command line of every process below ``root``."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            tree.setdefault(_parent(int(entry.name)), []).append(int(entry.name))
    found, todo = {}, list(tree.get(root, []))
    while todo:
        pid = todo.pop()
        try:
            found[pid] = (
                Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
        except OSError:
            continue
        todo += tree.get(pid, [])
    return found


def broker_pids() -> list[int]:
    """The embedded broker this benchmark started (none when an external one is configured)."""
    return [pid for pid, cmd in descendants(os.getpid()).items() if "tansu" in cmd or "redpanda" in cmd]


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _infos(client: redis.Redis, section: str) -> list[Any]:
    """``INFO section`` of the server, or of every master of a Redis Cluster."""
    cluster: Any = client
    if not hasattr(cluster, "get_primaries"):
        return [client.info(section)]
    return [cluster.get_redis_connection(node).info(section) for node in cluster.get_primaries()]


def redis_cpu_s(client: redis.Redis) -> float:
    """CPU seconds of the Redis server (every master of a cluster, summed)."""
    return sum(float(info["used_cpu_user"]) + float(info["used_cpu_sys"]) for info in _infos(client, "cpu"))


def commandstats(client: redis.Redis) -> dict[str, tuple[int, int]]:
    """Command -> (calls, µs) of the server (every master of a cluster, summed)."""
    totals: dict[str, tuple[int, int]] = {}
    for info in _infos(client, "commandstats"):
        for name, v in info.items():
            if isinstance(v, Mapping):
                calls, usec = totals.get(name.removeprefix("cmdstat_"), (0, 0))
                totals[name.removeprefix("cmdstat_")] = (calls + int(v["calls"]), usec + int(v["usec"]))
    return totals


@dataclass
class _Snapshot:
    processes: dict[str, float]
    redis_cpu_s: float
    commands: dict[str, tuple[int, int]]
    load: list[float] = field(default_factory=load_average)


class Meter:
    """CPU of named processes and of Redis between ``start()`` and ``stop(events)``."""

    def __init__(self, client: redis.Redis, processes: Mapping[str, list[int]] | None = None) -> None:
        self.client = client
        self.processes: dict[str, list[int]] = dict(processes or {})
        self._start: _Snapshot | None = None

    def watch(self, name: str, pids: list[int]) -> None:
        """Count ``pids`` under ``name`` (call before ``start``)."""
        self.processes.setdefault(name, []).extend(pids)

    def _snapshot(self) -> _Snapshot:
        cpu = {name: sum(process_cpu_s(p) for p in pids) for name, pids in self.processes.items()}
        return _Snapshot(cpu, redis_cpu_s(self.client), commandstats(self.client))

    def start(self) -> None:
        self._start = self._snapshot()

    def stop(self, events: int, top: int = 12) -> dict[str, Any]:
        """The cost table of what ran since ``start()``, per event of ``events``."""
        if self._start is None:
            raise RuntimeError("Meter.stop() before start()")
        end, begin, per = self._snapshot(), self._start, max(1, events)
        cpu = {
            name: round((end.processes[name] - begin.processes[name]) / per * 1e6, 1)
            for name in end.processes
        }
        cpu["redis"] = round((end.redis_cpu_s - begin.redis_cpu_s) / per * 1e6, 1)
        cpu["total"] = round(sum(cpu.values()), 1)
        rows: list[dict[str, Any]] = []
        for name, (calls, usec) in end.commands.items():
            calls0, usec0 = begin.commands.get(name, (0, 0))
            if calls > calls0:
                rows.append({
                    "command": name,
                    "calls_per_event": round((calls - calls0) / per, 3),
                    "redis_us_per_event": round((usec - usec0) / per, 2),
                })  # fmt: skip
        rows.sort(key=lambda r: -r["redis_us_per_event"])
        return {
            "events": events,
            "cpu_us_per_event": cpu,
            "redis_commands": rows[:top],
            "load_average": {"start": begin.load, "end": end.load},
        }
