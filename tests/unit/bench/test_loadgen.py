"""Benchmark tool, pure parts: request framing, percentiles, unique request bodies."""

from __future__ import annotations

import json

import numpy as np
import pytest

from data.schema import decode_transaction
from infra.bench.loadgen import RunResult, http_request
from infra.bench.payloads import PER_RUN, Bodies


def test_request_has_length_and_headers() -> None:
    raw = http_request("POST", "h:1", "/v1/score", b'{"a":1}', {"X-API-Key": "k"})
    head, body = raw.split(b"\r\n\r\n")
    assert head.splitlines()[0] == b"POST /v1/score HTTP/1.1"
    assert b"Content-Length: 7" in head and b"X-API-Key: k" in head
    assert body == b'{"a":1}'


def test_summary_counts_and_percentiles() -> None:
    result = RunResult(
        mode="open",
        target_rate=100.0,
        duration_s=2.0,
        sent=1001,
        ok=1000,
        errors=1,
        statuses={200: 1000, 503: 1},
        latencies_ms=np.arange(1, 1001, dtype=np.float64),
        dispatch_lag_ms_p99=0.5,
    )
    summary = result.summary()
    assert summary["achieved_rate"] == 500.0
    latency = summary["latency_ms"]
    assert isinstance(latency, dict)
    assert latency["p50"] == pytest.approx(500.5) and latency["p99"] == pytest.approx(990.01)
    assert latency["max"] == 1000.0


def test_bodies_give_every_request_a_new_transaction_id() -> None:
    row = decode_transaction(
        json.dumps(
            {
                "TransactionID": 1,
                "TransactionDT": 86_400,
                "TransactionAmt": 5.0,
                "ProductCD": "W",
                "card1": 2000,
            }
        ).encode()
    )
    bodies = Bodies([row])
    ids = {json.loads(bodies(i))["TransactionID"] for i in range(100)}
    assert len(ids) == 100 and min(ids) > 10**15
    assert json.loads(bodies(5))["card1"] == 2000
    with pytest.raises(ValueError):
        bodies(PER_RUN)
