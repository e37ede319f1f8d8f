"""The local Redis Cluster of the fixtures, and the client every component builds for a cluster URL."""

from __future__ import annotations

from typing import Any

import pytest
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException

from core.connect import redis_client
from core.settings import Settings

pytestmark = pytest.mark.integration

_TWO_KEYS = "return redis.call('SET', KEYS[1], 'a') and redis.call('SET', KEYS[2], 'b')"


def test_the_fixture_runs_three_masters_that_serve_every_slot(redis_cluster_url: str) -> None:
    client: Any = redis_client(redis_cluster_url)
    try:
        assert RedisCluster in type(client).__mro__  # redis-py's cluster client, typed as Redis
        masters = client.get_primaries()
        assert len(masters) == 3
        slots: Any = client.cluster_slots(target_nodes=RedisCluster.RANDOM)
        covered = sum(end - start + 1 for start, end in slots)
        assert covered == 16384
        states = client.cluster_info(target_nodes=RedisCluster.ALL_NODES)
        assert {info["cluster_state"] for info in states.values()} == {"ok"}
    finally:
        client.close()


def test_keys_spread_over_the_masters_and_a_script_stays_in_one_slot(cluster_settings: Settings) -> None:
    prefix = cluster_settings.redis.key_prefix
    client: Any = redis_client(cluster_settings.redis.url or "")
    try:
        names = [f"{prefix}k{i}" for i in range(30)]
        for name in names:
            client.set(name, name)
        owners = {client.get_node_from_key(name).name for name in names}
        assert len(owners) == 3  # plain keys land on every master
        assert [client.get(name) for name in names] == [name.encode() for name in names]
        tagged = [f"{prefix}{{s0}}:a", f"{prefix}{{s0}}:b"]
        client.eval(_TWO_KEYS, 2, *tagged)  # one hash tag: one slot, the script runs
        assert client.mget(tagged) == [b"a", b"b"]
        spread = next((n, m) for n in names for m in names if client.keyslot(n) != client.keyslot(m))
        with pytest.raises(RedisClusterException, match="same key slot"):
            client.eval(_TWO_KEYS, 2, *spread)  # refused before it reaches Redis: why streams are sharded
    finally:
        client.close()
