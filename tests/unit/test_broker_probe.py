"""Waiting for the local broker prints nothing while its port is still closed (issue 16, item 13)."""

from __future__ import annotations

import pytest

from infra.services import broker_answers, free_port


def test_a_closed_port_is_not_a_broker_and_librdkafka_stays_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    assert not broker_answers(f"127.0.0.1:{free_port()}")
    assert "Connection refused" not in capfd.readouterr().err
