"""The local stack's retention: per-transaction records for local.retention_s, entity state for
the longest feature window in the replay's event time."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from infra.stack import LONGEST_WINDOW_S, periods, retention


def test_records_are_kept_for_the_retention_and_state_for_the_longest_window() -> None:
    settings = Settings().replace(local={"retention_s": 600}, features={"result_ttl_s": 300})
    fast = retention(settings, event_speed=10_000.0)  # a week of event time passes in ~60 wall s
    assert fast["SENTINEL_FEATURES_RESULT_TTL_S"] == "300"  # a shorter configured value stays
    assert fast["SENTINEL_FEATURES_LABEL_TTL_S"] == "600"
    assert fast["SENTINEL_FEATURES_VECTOR_TTL_S"] == "600"
    assert fast["SENTINEL_STREAMS_HISTORY_MAX_AGE_S"] == "600"
    assert fast["SENTINEL_FEATURES_STATE_TTL_S"] == "600"  # at least the retention
    slow = retention(settings, event_speed=1.0)  # event time at wall speed, as in production
    assert slow["SENTINEL_FEATURES_STATE_TTL_S"] == str(LONGEST_WINDOW_S)


def test_the_stack_streams_the_later_period_at_its_own_event_speed(tmp_path: Path) -> None:
    data = tmp_path / "train_transaction.csv"
    rows = [(1, 1000), (2, 5000), (3, 3000), (4, 9000), (5, 21000), (6, 41000)]  # not in time order
    data.write_text("TransactionID,TransactionDT\n" + "".join(f"{i},{dt}\n" for i, dt in rows))
    split = periods(data, stream_fraction=0.5, rate=2.0)
    assert (split.train_rows, split.stream_rows) == (3, 3)  # 1000, 3000, 5000 | 9000, 21000, 41000
    assert split.event_speed == pytest.approx(32_000 / 1.5)  # the streamed span over 3 rows at 2/s


def test_the_notifier_runs_only_with_a_webhook() -> None:
    from infra.stack import concurrency

    plain = Settings()
    assert concurrency(plain) == "mirror=1,enrich=1,score=1,label=1,notify=0"
    hooked = plain.replace(notify={"webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": "s"})
    assert concurrency(hooked).endswith(",notify=1")
    asked = hooked.replace(local={"concurrency": "enrich=2,notify=3"})
    assert concurrency(asked) == "enrich=2,notify=3"  # what the operator asked for wins
