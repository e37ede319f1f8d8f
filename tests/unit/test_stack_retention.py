"""The local stack's retention: per-transaction records for local.retention_s, entity state for
the longest feature window in the replay's event time."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from infra.stack import LONGEST_WINDOW_S, event_speed, retention


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


def test_event_speed_is_the_data_span_over_its_send_time(tmp_path: Path) -> None:
    data = tmp_path / "train_transaction.csv"
    data.write_text("TransactionID,TransactionDT\n1,1000\n2,5000\n3,9000\n4,21000\n")
    assert event_speed(data, rate=2.0) == pytest.approx(20_000 / 2)  # 4 rows at 2/s: 2 wall s
