"""The cost table (``infra.bench.cost``) charges what a run did: per process, per Redis command."""

from __future__ import annotations

import os
from typing import Any

import redis

from infra.bench.cost import Meter, descendants, process_cpu_s


def test_the_cost_table_counts_redis_commands_and_process_cpu_per_event(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    meter = Meter(redis_client, {"this process": [os.getpid()]})
    meter.start()
    burn = process_cpu_s(os.getpid()) + 0.05
    while process_cpu_s(os.getpid()) < burn:  # 50 ms of CPU in this process
        sum(range(10_000))
    for i in range(100):
        redis_client.set(f"{key_prefix}cost:{i}", b"x" * 100)
        redis_client.incrby(f"{key_prefix}cost:n", 2)
    cost = meter.stop(events=100)
    commands = {row["command"]: row for row in cost["redis_commands"]}
    assert commands["set"]["calls_per_event"] == 1.0 and commands["incrby"]["calls_per_event"] == 1.0
    cpu = cost["cpu_us_per_event"]
    assert cpu["this process"] >= 400  # >= 50 ms over 100 events, minus one clock tick of rounding
    assert cpu["redis"] >= 0 and cpu["total"] >= cpu["this process"]
    assert len(cost["load_average"]["start"]) == 3


def test_descendants_lists_the_processes_below_a_pid(redis_client: redis.Redis) -> None:
    info: Any = redis_client.info("server")
    server_pid = int(info["process_id"])
    assert server_pid not in descendants(server_pid)
    assert os.getpid() not in descendants(os.getpid())
