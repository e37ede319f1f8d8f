"""Redis clients: the one place a client is built from a configured URL.

``redis://``, ``rediss://`` and ``unix://`` name one server: the client is ``redis.Redis.from_url``,
exactly as before. ``redis+cluster://[user:password@]host:port[,host:port...]`` (``rediss+cluster``
for TLS) names a Redis Cluster by one or more of its nodes: the client is redis-py's
``RedisCluster``, which finds the others and routes every command by its key's slot.

A cluster client is typed as ``redis.Redis``: it has the same commands (a multi-key command or a
script whose keys span slots fails with CROSSSLOT instead, which is why streams are sharded under
hash tags: ``streams.keys.Shards``).

redis-py routes a command whose keys Redis flags as "movable" by asking the server first
(``COMMAND GETKEYS``, redis/redis-py#2229): one more round trip for every XREADGROUP, which halved a
worker's reads. :class:`_Cluster` finds XREAD / XREADGROUP keys itself (:func:`stream_read_keys`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import urlsplit

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import ClusterNode, RedisCluster

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
_READ_OPTIONS = {"COUNT": 1, "BLOCK": 1, "CLAIM": 1, "NOACK": 0}  # XREAD[GROUP] option -> its arguments


def stream_read_keys(args: Sequence[Any]) -> list[Any] | None:
    """The stream keys of an XREAD / XREADGROUP command (``args[0]`` its name); None for another
    command, or one this does not parse (redis-py then asks the server)."""
    name = str(args[0]).upper()
    if name not in ("XREAD", "XREADGROUP"):
        return None
    i = 4 if name == "XREADGROUP" else 1  # XREADGROUP GROUP <group> <consumer>
    while i < len(args):
        word = (args[i].decode() if isinstance(args[i], bytes) else str(args[i])).upper()
        if word == "STREAMS":
            rest = args[i + 1 :]
            return list(rest[: len(rest) // 2])  # keys, then as many ids
        if word not in _READ_OPTIONS:
            return None
        i += 1 + _READ_OPTIONS[word]
    return None


class _Cluster(RedisCluster):
    """RedisCluster that routes stream reads without a COMMAND GETKEYS round trip."""

    def _get_command_keys(self, *args: Any) -> Any:
        keys = stream_read_keys(args)
        return super()._get_command_keys(*args) if keys is None else keys  # type: ignore[no-untyped-call]


def is_cluster(url: str) -> bool:
    """True when ``url`` names a Redis Cluster (``redis+cluster://`` or ``rediss+cluster://``)."""
    return url.startswith(CLUSTER_SCHEMES)


def cluster_nodes(url: str) -> tuple[str, list[tuple[str, int]]]:
    """A cluster URL as (a plain URL of its first node, credentials and query kept; the other nodes)."""
    scheme, rest = url.split("://", 1)
    auth, at, hosts = rest.rpartition("@")
    hosts, _, tail = hosts.partition("/")
    names = [name for name in hosts.split(",") if name]
    if not names:
        raise ValueError(f"{url!r} names no cluster node (redis+cluster://host:port[,host:port...])")
    others = []
    for name in names[1:]:
        node = urlsplit(f"//{name}")
        if not node.hostname:
            raise ValueError(f"{url!r}: {name!r} is not host:port")
        others.append((node.hostname, node.port or 6379))
    first = f"{scheme.removesuffix('+cluster')}://{auth}{at}{names[0]}"
    return (f"{first}/{tail}" if tail else first), others


def redis_client(url: str, **options: Any) -> redis.Redis:
    """A client of the server or cluster ``url`` names; ``options`` go to every connection."""
    if not is_cluster(url):
        return redis.Redis.from_url(url, **options)
    first, others = cluster_nodes(url)
    nodes = [ClusterNode(host, port) for host, port in others]  # type: ignore[no-untyped-call]
    return cast(redis.Redis, _Cluster.from_url(first, startup_nodes=nodes, **options))


def async_redis_client(url: str, **options: Any) -> aioredis.Redis:
    """The asyncio twin of :func:`redis_client`."""
    if not is_cluster(url):
        return aioredis.Redis.from_url(url, **options)
    first, others = cluster_nodes(url)
    nodes = [AsyncClusterNode(host, port) for host, port in others]
    return cast(aioredis.Redis, AsyncRedisCluster.from_url(first, startup_nodes=nodes, **options))
