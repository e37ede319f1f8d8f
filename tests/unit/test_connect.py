"""The Redis client of a configured URL: one server as before, a cluster URL parsed into its nodes."""

from __future__ import annotations

import pytest
import redis

from core.connect import cluster_nodes, is_cluster, redis_client, stream_read_keys
from core.settings import Settings


def test_a_plain_url_gives_the_plain_client() -> None:
    client = redis_client("redis://127.0.0.1:1/0")  # nothing connects before the first command
    assert type(client) is redis.Redis
    assert not is_cluster("redis://127.0.0.1:6379/0")


def test_a_cluster_url_names_its_nodes_and_keeps_credentials() -> None:
    url = "rediss+cluster://user:p%40ss@10.0.0.1:7000,10.0.0.2:7001,node-c/0?ssl_cert_reqs=none"
    first, others = cluster_nodes(url)
    assert is_cluster(url)
    assert first == "rediss://user:p%40ss@10.0.0.1:7000/0?ssl_cert_reqs=none"
    assert others == [("10.0.0.2", 7001), ("node-c", 6379)]
    assert cluster_nodes("redis+cluster://h:1") == ("redis://h:1", [])


def test_a_cluster_url_without_nodes_is_refused() -> None:
    with pytest.raises(ValueError, match="no cluster node"):
        cluster_nodes("redis+cluster://")


def test_settings_accept_a_cluster_url() -> None:
    settings = Settings().replace(redis={"url": "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"})
    assert is_cluster(settings.redis.url or "")


def test_stream_reads_are_routed_by_their_keys_without_asking_the_server() -> None:
    read = (
        "XREADGROUP",
        b"GROUP",
        "streams",
        "c",
        b"COUNT",
        "10",
        b"BLOCK",
        "100",
        b"STREAMS",
        "a",
        "b",
        ">",
        ">",
    )
    assert stream_read_keys(read) == ["a", "b"]  # a group named "streams" is not the STREAMS word
    assert stream_read_keys(("XREAD", b"COUNT", "1", b"STREAMS", "k", "0")) == ["k"]
    assert stream_read_keys(("XREAD", b"FUTURE", "x", b"STREAMS", "k", "0")) is None  # unknown: redis-py asks
    assert stream_read_keys(("GET", "k")) is None
