"""Hostile bytes on a real Redis: whatever the decoder raises, one dead letter, never a dead consumer."""

from __future__ import annotations

import pytest
import redis

from core.settings import Settings
from streams.keys import Keys
from tests.integration.streams.conftest import make_worker, pending_count, read
from tests.poison import POISON

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("backend", ["redis", "cluster"])]


@pytest.mark.parametrize("case", list(POISON))
def test_a_poison_message_costs_one_dead_letter_not_its_neighbours(
    case: str, rt_settings: Settings, redis_client: redis.Redis, keys: Keys
) -> None:
    settings = rt_settings.replace(streams={"max_event_bytes": 100_000})
    stream = keys.stream("any.in")
    for n in range(10):
        redis_client.xadd(stream, {"d": b'{"n": %d}' % n})
    poison = redis_client.xadd(stream, {"d": POISON[case]})
    for n in range(10, 20):
        redis_client.xadd(stream, {"d": b'{"n": %d}' % n})

    report = make_worker(settings, redis_client, "echo").run(burst=True)  # one batch: all 21 entries

    assert [p for _, p, _ in read(redis_client, keys.stream("any.out"))] == [
        b'{"n": %d}' % n for n in range(20)
    ]
    letters = read(redis_client, keys.dead_letters)
    assert [m["entry_id"] for _, _, m in letters] == [poison.decode()]  # type: ignore[union-attr]
    assert letters[0][2]["reason"].startswith(("not JSON", "invalid json:object", "undecodable json:object"))
    assert (report.processed, report.dead_lettered, report.failed, report.batches) == (20, 1, 0, 1)
    assert pending_count(redis_client, stream, "echo") == 0
