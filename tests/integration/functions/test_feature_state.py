"""Feature state in a real Redis: event-time windows, idempotency, expiry, order independence."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import redis

from core.connect import redis_client as connect
from data.schema import Transaction
from functions.features import DAY, FEATURE_INDEX, STATE_FEATURES
from functions.keys import FeatureKeys
from functions.velocity import FeatureTtl, RedisFeatureState
from streams.keys import Shards
from tests.keyspace import delete_prefix

pytestmark = pytest.mark.integration

T0 = 100 * DAY  # aligned on every window's buckets
S = {name: i for i, name in enumerate(STATE_FEATURES)}


def tx(i: int, dt: int, amt: float = 10.0, card1: int = 1111, **kw: Any) -> Transaction:
    return Transaction(
        TransactionID=i, TransactionDT=dt, TransactionAmt=amt, ProductCD="W", card1=card1, **kw
    )


@pytest.fixture
def state(redis_client: redis.Redis, key_prefix: str) -> RedisFeatureState:
    return RedisFeatureState(redis_client, FeatureKeys(key_prefix), FeatureTtl(state_s=3600, vector_s=600))


def col(rows: np.ndarray, name: str) -> list[float]:
    return [float(x) for x in rows[:, S[name]]]


def test_windows_count_and_sum_in_event_time(state: RedisFeatureState) -> None:
    rows = state.apply(
        [tx(1, T0 + 60, 10), tx(2, T0 + 120, 30), tx(3, T0 + 2 * 3600, 5), tx(4, T0 + 9 * DAY, 1)]
    )
    assert col(rows, "card_cnt_1h") == [1, 2, 1, 1]
    assert col(rows, "card_cnt_24h") == [1, 2, 3, 1]
    assert col(rows, "card_cnt_7d") == [1, 2, 3, 1]  # 9 days later the week is empty again
    assert col(rows, "card_sum_24h") == [10, 40, 45, 1]
    assert col(rows, "card_mean_1h") == [10, 20, 5, 1]
    assert col(rows, "card_std_1h") == [0, 10, 0, 0]
    assert col(rows, "card_cnt_all") == [1, 2, 3, 4]
    assert col(rows, "card_sum_all") == [10, 40, 45, 46]
    assert col(rows, "card_amt_to_mean") == pytest.approx([1, 30 / 20, 5 / 15, 1 / 11.5])
    secs = col(rows, "card_secs_since_prev")
    assert np.isnan(secs[0]) and secs[1:] == [60, 2 * 3600 - 120, 9 * DAY - 2 * 3600]


def test_reprocessing_a_transaction_changes_nothing_and_returns_the_same_features(
    state: RedisFeatureState,
) -> None:
    first = state.apply([tx(1, T0, 10), tx(2, T0 + 5, 20)])
    again = state.apply([tx(2, T0 + 5, 20), tx(1, T0, 10), tx(1, T0, 10)])
    assert np.array_equal(again, first[[1, 0, 0]], equal_nan=True)
    later = state.apply([tx(3, T0 + 10, 30)])
    assert col(later, "card_cnt_1h") == [3]  # 1 and 2 counted once each
    assert col(later, "card_sum_all") == [60]


def test_missing_entities_give_nan_not_zero(state: RedisFeatureState) -> None:
    rows = state.apply([tx(1, T0)])  # no email, no device, no addr1
    for name in ("email_cnt_1h", "device_cnt_all", "addr_sum_7d", "uid_new_device"):
        assert np.isnan(rows[0, S[name]]), name
    assert rows[0, S["card_cnt_all"]] == 1


def test_card_testing_distinct_cards_per_device_over_24h(state: RedisFeatureState) -> None:
    batch = [tx(i, T0 + 60 * i, card1=2000 + i % 3, DeviceInfo="SM-G892A") for i in range(6)]
    batch.append(tx(99, T0 + DAY + 3600, card1=2000, DeviceInfo="SM-G892A"))
    rows = state.apply(batch)
    assert col(rows, "device_distinct_card_24h") == [1, 2, 3, 3, 3, 3, 1]
    assert col(rows, "device_cnt_24h") == [1, 2, 3, 4, 5, 6, 1]


def test_uid_first_seen_device_and_email(state: RedisFeatureState) -> None:
    common: dict[str, Any] = {"addr1": 300.0, "D1": 10.0}
    rows = state.apply(
        [
            tx(1, T0, DeviceInfo="iOS Device", P_emaildomain="gmail.com", **common),
            tx(2, T0 + 60, DeviceInfo="iOS Device", P_emaildomain="gmail.com", **common),
            tx(3, T0 + 120, DeviceInfo="Windows", P_emaildomain="gmail.com", **common),
            tx(4, T0 + 180, DeviceInfo="Windows", P_emaildomain="yahoo.com", card1=5555, **common),
        ]
    )
    assert col(rows, "uid_new_device") == [1, 0, 1, 1]  # tx 4 is another uid (card1)
    assert col(rows, "uid_new_email") == [1, 0, 0, 1]


def test_state_keys_expire_and_their_size_is_bounded(
    state: RedisFeatureState, redis_client: redis.Redis, key_prefix: str
) -> None:
    state.apply([tx(1, T0, addr1=200.0, DeviceInfo="Windows")])
    keys = FeatureKeys(key_prefix)
    card_key = keys.entity("card", "1111")
    size = redis_client.strlen(card_key)
    state.apply([tx(i, T0 + 37 * i, addr1=200.0, DeviceInfo="Windows") for i in range(2, 400)])
    assert redis_client.strlen(card_key) == size  # O(1) per entity, whatever its activity
    for key in redis_client.scan_iter(match=f"{keys.root}*"):
        ttl = int(redis_client.ttl(key))  # type: ignore[arg-type]
        limit = 600 if key.decode().startswith(keys.vector(0)[:-1]) else 3600
        assert 0 < ttl <= limit, key


def test_window_features_do_not_depend_on_arrival_order(redis_client: redis.Redis, key_prefix: str) -> None:
    rng = random.Random(7)
    history = [
        tx(
            i,
            T0 + rng.randrange(0, 2 * DAY),
            float(rng.randrange(1, 400)),
            P_emaildomain="mail.com",
            card1=1000 + i,
        )
        for i in range(40)
    ]
    probe = tx(999, T0 + 2 * DAY + 30, 50.0, P_emaildomain="mail.com", card1=1999)
    windowed = [
        f"email_{s}_{w}" for s, w in itertools.product(("cnt", "sum", "mean", "std"), ("1h", "24h", "7d"))
    ]
    windowed.append("email_distinct_card_24h")
    seen = []
    for attempt in range(4):
        order = (
            sorted(history, key=lambda t: t.TransactionDT)
            if attempt == 0
            else rng.sample(history, len(history))
        )
        state = RedisFeatureState(redis_client, FeatureKeys(f"{key_prefix}{attempt}:"))
        for start in range(0, len(order), 7):
            state.apply(order[start : start + 7])
        seen.append(state.apply([probe])[0, [S[n] for n in windowed]])
    for other in seen[1:]:
        np.testing.assert_allclose(other, seen[0], rtol=1e-12)
    assert seen[0][windowed.index("email_cnt_24h")] > 1


def test_a_late_event_lands_in_its_own_window_not_the_current_one(state: RedisFeatureState) -> None:
    state.apply([tx(1, T0 + 5 * 3600, 10)])
    state.apply([tx(2, T0 + 3600, 20)])  # arrives late: four hours older
    rows = state.apply([tx(3, T0 + 5 * 3600 + 60, 30)])
    assert col(rows, "card_cnt_1h") == [2]  # 1 and 3, not the late 2
    assert col(rows, "card_cnt_24h") == [3]
    assert FEATURE_INDEX["card_cnt_1h"] == S["card_cnt_1h"]


# On a Redis Cluster: one script call per slot a chunk touches (functions.velocity.RedisFeatureState).

SHARDS = 3


@pytest.fixture
def cluster(redis_cluster_url: str, key_prefix: str) -> Iterator[redis.Redis]:
    client = connect(redis_cluster_url)
    yield client
    client.close()
    delete_prefix(redis_cluster_url, key_prefix)


def spread_keys(prefix: str, home: int = 0) -> FeatureKeys:
    """Feature keys as an enrich consumer of shard ``home`` of three builds them on a cluster."""
    shards = Shards(prefix, SHARDS, tagged=True)
    return FeatureKeys(shards.keys(home).prefix, tuple(keys.prefix for keys in shards))


def varied(n: int, start: int = 0) -> list[Transaction]:
    """Transactions of a few cards sharing e-mail domains, devices, addresses and browsers."""
    rng = random.Random(start)
    return [
        tx(
            5_000 + i,
            T0 + 97 * i,
            float(rng.randrange(1, 500)),
            card1=rng.randrange(1000, 1012),
            addr1=rng.choice([None, 204.0, 299.0, 330.0, 441.0]),
            D1=rng.choice([None, 0.0, 14.0]),
            P_emaildomain=rng.choice([None, "gmail.com", "yahoo.com", "mail.com", "aol.com"]),
            DeviceInfo=rng.choice([None, "Windows", "iOS Device", "MacOS", "Trident/7.0"]),
            id_31=rng.choice([None, "chrome 62.0", "safari", "edge 16.0"]),
            card2=rng.choice([None, 111.0, 222.0, 321.0]),
        )
        for i in range(start, start + n)
    ]


class KilledAfter:
    """A real client whose feature script stops after ``calls`` runs: the worker dies between two
    slot calls of a chunk (what ran is in Redis, the rest never ran)."""

    def __init__(self, client: redis.Redis, calls: int) -> None:
        self._client, self.left = client, calls

    def register_script(self, script: str) -> Any:
        inner = self._client.register_script(script)

        def run(keys: list[str], args: list[Any]) -> Any:
            if self.left == 0:
                raise ConnectionError("killed between two slot calls")
            self.left -= 1
            return inner(keys=keys, args=args)

        return run


def test_on_a_cluster_every_feature_equals_one_redis(
    cluster: redis.Redis, redis_client: redis.Redis, key_prefix: str
) -> None:
    one = RedisFeatureState(redis_client, FeatureKeys(key_prefix))
    spread = RedisFeatureState(cluster, spread_keys(key_prefix))
    history = varied(420)
    for start in range(0, len(history), 150):  # chunks of 100 and 50
        batch = history[start : start + 150]
        np.testing.assert_array_equal(spread.apply(batch), one.apply(batch))
    keys = spread_keys(key_prefix)
    shared = [
        keys.shared("email", mail).entity("email", mail) for mail in ("gmail.com", "yahoo.com", "mail.com")
    ]
    nodes: Any = cluster
    assert all(cluster.exists(key) for key in shared)
    assert len({nodes.keyslot(keys.entity("card", "1000")), *map(nodes.keyslot, shared)}) > 1


@pytest.mark.parametrize("calls", [1, 2])
def test_on_a_cluster_a_retry_after_a_crash_between_slot_calls_counts_each_transaction_once(
    cluster: redis.Redis, key_prefix: str, calls: int
) -> None:
    first, then = varied(60), varied(40, start=60)
    clean = RedisFeatureState(cluster, spread_keys(f"{key_prefix}clean:"))
    expected = [clean.apply(first), clean.apply(then)]
    keys = spread_keys(f"{key_prefix}crash:")
    killed = KilledAfter(cluster, calls)
    with pytest.raises(ConnectionError):
        RedisFeatureState(killed, keys).apply(first)
    assert killed.left == 0  # it did die between two calls of the chunk, not before the first
    assert cluster.exists(keys.vector(first[0].TransactionID))  # the home call's part is stored
    retry = RedisFeatureState(cluster, keys)
    np.testing.assert_array_equal(retry.apply(first), expected[0])
    np.testing.assert_array_equal(retry.apply(then), expected[1])  # the state holds each tx once
