"""The runtime on a real three-master Redis Cluster, with three stream shards.

Each shard's streams, dead letters, counters and the records its functions write share one hash
tag, so a commit (one script) never spans slots; the mirror sends partition p to shard p mod 3.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import redis

from core.settings import Settings
from infra.pipeline.streams import RAW
from streams import dlq
from streams.keys import Shards
from streams.metrics import read_function_stats
from streams.mirror import run_mirror
from tests.integration.streams.conftest import make_worker, pending_count, read, sentinel_env
from tests.integration.streams.fns import item
from tests.integration.streams.test_mirror import _by_partition, _produce

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("backend", ["cluster"])]

SHARDS = 3


@pytest.fixture
def sharded(rt_settings: Settings) -> Settings:
    return rt_settings.replace(streams={"shards": SHARDS})


@pytest.fixture
def cluster(redis_client: redis.Redis) -> redis.Redis:
    return redis_client


def _fill(client: redis.Redis, shards: Shards) -> dict[int, list[int]]:
    """Ten items per shard (and one undecodable entry); shard -> the items' numbers."""
    numbers = {}
    for shard, keys in enumerate(shards):
        numbers[shard] = list(range(shard * 100, shard * 100 + 10))
        for n in numbers[shard]:
            client.xadd(keys.stream("items"), {"d": item(n)})
        client.xadd(keys.stream("items"), {"d": b"{not json"})
    return numbers


def test_a_chain_commits_outputs_records_counters_and_dead_letters_within_its_shard(
    sharded: Settings, cluster: redis.Redis
) -> None:
    shards = Shards.of(sharded)
    nodes: Any = cluster
    assert len({nodes.get_node_from_key(keys.stream("items")).name for keys in shards}) == 3  # one per master
    numbers = _fill(cluster, shards)
    for shard in range(SHARDS):
        for name in ("double", "tag"):
            make_worker(sharded, cluster, name, consumer="c", shard=shard).run(burst=True)
    for shard, keys in enumerate(shards):
        doubled = [2 * n for n in numbers[shard]]
        tagged = [msgspec.json.decode(p or b"")["n"] for _, p, _ in read(cluster, keys.stream("tagged"))]
        assert tagged == doubled  # in order, once
        records: Any = [cluster.hget(keys.key("result", str(n)), "n") for n in doubled]
        assert records == [b"%d" % n for n in doubled]
        count: Any = cluster.hget(keys.key("kpi"), "count")
        assert count == b"10"
        stats: Any = cluster.hgetall(keys.function_stats("double"))
        assert (stats[b"processed"], stats[b"dead_lettered"]) == (b"10", b"1")
        assert [payload for _, payload, _ in read(cluster, keys.dead_letters)] == [b"{not json"]
        assert pending_count(cluster, keys.stream("items"), "double") == 0
        assert pending_count(cluster, keys.stream("doubled"), "tag") == 0


def test_stats_and_dead_letters_are_read_over_every_shard(sharded: Settings, cluster: redis.Redis) -> None:
    shards = Shards.of(sharded)
    _fill(cluster, shards)
    for shard in range(SHARDS):
        make_worker(sharded, cluster, "double", consumer="c", shard=shard).run(burst=True)
    stats = read_function_stats(cluster, shards, "double", "items", "double")
    assert (stats.processed, stats.dead_lettered, stats.lag, stats.pending) == (30, 3, 0, 0)
    letters = dlq.list_dead_letters(cluster, shards)
    assert [d.payload for d in letters] == [b"{not json"] * 3
    assert dlq.count_dead_letters(cluster, shards) == 3
    last = dlq.list_dead_letters(cluster, shards.keys(2))[0]  # replayed into its own shard's input
    dlq.replay(cluster, shards, [last.id])
    assert dlq.count_dead_letters(cluster, shards) == 2
    assert read(cluster, shards.keys(2).stream("items"))[-1][1] == b"{not json"


def test_the_mirror_copies_partition_p_into_shard_p_mod_n_exactly_once(
    sharded: Settings,
    cluster: redis.Redis,
    kafka_bootstrap: str,
    broker_settings: Settings,
    topic_suffix: str,
) -> None:
    live = sharded.replace(
        kafka=broker_settings.kafka.model_dump(),
        streams={"pipeline": broker_settings.streams.pipeline, "mirror_group": f"m-{topic_suffix}"},
    )
    topic = live.kafka.topic_transactions
    sent = _produce(live, topic, 200)
    assert len(sent) == live.kafka.partitions == 4
    assert run_mirror(live, burst=True, client=cluster).copied[topic] == 200
    assert run_mirror(live, burst=True, client=cluster).copied[topic] == 0  # offsets went with the copies
    more = _produce(live, topic, 40, start=200)
    assert run_mirror(live, burst=True, client=cluster).copied[topic] == 40
    for shard, keys in enumerate(Shards.of(live)):
        expected = {p: sent[p] + more.get(p, []) for p in sent if p % SHARDS == shard}
        assert _by_partition(cluster, keys.stream(RAW)) == expected  # every partition in order, once


def test_fn_run_puts_consumer_i_on_shard_i_mod_n(sharded: Settings, cluster: redis.Redis, spawn: Any) -> None:
    shards = Shards.of(sharded)
    numbers = _fill(cluster, shards)
    env = sentinel_env(sharded, SENTINEL_STREAMS_SHARDS=str(SHARDS))
    refused = spawn(["fn", "run", "double", "--concurrency", "2", "--burst"], env)
    assert refused.wait(60) == 2  # fewer consumers than shards would leave a shard unread
    assert spawn(["fn", "run", "double", "--concurrency", "3", "--burst"], env).wait(120) == 0
    for shard, keys in enumerate(shards):
        doubled = [msgspec.json.decode(p or b"")["n"] for _, p, _ in read(cluster, keys.stream("doubled"))]
        assert doubled == [2 * n for n in numbers[shard]]
        assert pending_count(cluster, keys.stream("items"), "double") == 0
