"""Invariant 2, zero training/serving skew: the live stream path computes the training-set features.

The live path is the real one: simulator -> broker -> mirror -> tx.raw -> enrich worker ->
tx.enriched. The training set is ``replay_features`` over the same rows in TransactionDT order,
against a scratch prefix, in batches of another size.
"""

from __future__ import annotations

import numpy as np
import pytest
import redis

from core.settings import Settings
from functions.features import FEATURE_NAMES
from functions.replay import replay_features
from tests.integration.functions.conftest import Dataset, run_live_enrich, with_partitions

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Entities whose events all travel in one partition (the topic is keyed by card1).
PARTITION_LOCAL = ("card_", "uid_")
CROSS_PARTITION = ("email_", "device_", "addr_", "freq_")


def assert_same(live: np.ndarray, offline: np.ndarray, columns: list[int]) -> None:
    for j in columns:
        np.testing.assert_allclose(
            live[:, j], offline[:, j], rtol=0, atol=1e-9, equal_nan=True, err_msg=FEATURE_NAMES[j]
        )


def test_every_feature_of_every_transaction_equals_the_training_set(
    broker_settings: Settings, redis_client: redis.Redis, synth: Dataset
) -> None:
    """One partition: the stream delivers in publish (TransactionDT) order, as the replay reads."""
    live = run_live_enrich(with_partitions(broker_settings, 1), redis_client, synth.raw)
    offline, meta = replay_features(
        redis_client, f"{broker_settings.redis.key_prefix}train:", synth.transactions, 333
    )
    assert live.ids == meta.transaction_id.tolist()  # every transaction enriched once, in order
    assert_same(live.features, offline, list(range(len(FEATURE_NAMES))))
    assert np.isfinite(offline[:, FEATURE_NAMES.index("uid_cnt_24h")]).all()


def test_four_partitions_partition_local_features_equal_the_training_set(
    broker_on_backend: Settings, backend_client: redis.Redis, redis_client: redis.Redis, synth: Dataset
) -> None:
    """Four partitions interleave: features of card and uid state, time and raw columns are still
    exactly the training set's; e-mail/device/address state sees other partitions' events in
    arrival order, and equals a replay in that order. On the cluster (3 stream shards, partition
    p in shard p mod 3, one consumer per shard) too; the training set is replayed on one Redis."""
    live = run_live_enrich(with_partitions(broker_on_backend, 4), backend_client, synth.raw)
    prefix = broker_on_backend.redis.key_prefix
    offline, meta = replay_features(redis_client, f"{prefix}train:", synth.transactions, 500)
    order = {tx_id: i for i, tx_id in enumerate(meta.transaction_id.tolist())}
    assert sorted(live.ids) == sorted(order)  # each transaction exactly once
    offline = offline[[order[i] for i in live.ids]]
    local = [j for j, n in enumerate(FEATURE_NAMES) if not n.startswith(CROSS_PARTITION)]
    assert_same(live.features, offline, local)

    by_id = {tx.TransactionID: tx for tx in synth.transactions}
    arrival, _ = replay_features(redis_client, f"{prefix}arrival:", [by_id[i] for i in live.ids], 250)
    assert_same(live.features, arrival, list(range(len(FEATURE_NAMES))))
