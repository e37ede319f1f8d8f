"""Stream shards: one untagged shard keeps today's key names; tagged shards keep a commit in one slot."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from core.settings import Settings
from streams.keys import Keys, Shards, shard_tag


def test_one_shard_on_one_redis_keeps_the_plain_names() -> None:
    shards = Shards.of(Settings())
    assert not shards.tagged
    assert shards.keys(0) == Keys("sentinel:") == shards.home
    assert shards.keys(0).stream("tx.raw") == "sentinel:stream:tx.raw"
    assert [shards.of_partition(p) for p in range(4)] == [0, 0, 0, 0]


def test_a_cluster_tags_even_one_shard() -> None:
    shards = Shards.of(Settings().replace(redis={"url": "redis+cluster://127.0.0.1:7000"}))
    assert shards.tagged
    assert shards.keys(0).stream("tx.raw") == "sentinel:{s0}:stream:tx.raw"


def test_a_shard_s_runtime_keys_and_records_share_one_slot() -> None:
    shards = Shards.of(Settings().replace(streams={"shards": 3}))
    keys = shards.keys(2)
    names = [
        keys.stream("tx.raw"),
        keys.stream("tx.enriched"),
        keys.dead_letters,
        keys.function_stats("enrich"),
        keys.mirror_offsets("transactions"),
        keys.mirror_stats,
        keys.key("result", "42"),  # a function's record under ctx.keys
    ]
    assert names[0] == "sentinel:{s2-4}:stream:tx.raw"
    assert len({key_slot(name.encode()) for name in names}) == 1
    assert len({key_slot(k.stream("tx.raw").encode()) for k in shards}) == 3


@pytest.mark.parametrize("count", [1, 2, 3, 4, 6, 12])
def test_shard_k_of_n_hashes_into_the_k_th_nth_of_the_slots(count: int) -> None:
    slots = [key_slot(shard_tag(k, count).encode()) for k in range(count)]
    assert [slot * count // 16384 for slot in slots] == list(range(count))  # even spread over masters


def test_partitions_go_to_shards_round_robin() -> None:
    shards = Shards("p:", 3, tagged=True)
    assert [shards.of_partition(p) for p in range(7)] == [0, 1, 2, 0, 1, 2, 0]


def test_a_shard_out_of_range_or_a_braced_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        Shards("p:", 2).keys(2)
    with pytest.raises(ValueError, match="hash tags"):
        Shards("p:{x}:", 2, tagged=True)
