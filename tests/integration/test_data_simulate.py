"""Simulator against the real broker: counts, keys, JSON, headers, pacing, labels, stopping."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from core.settings import Settings
from data import cli as data_cli
from data.loader import DataFiles, iter_json
from data.schema import decode_label, decode_transaction
from data.simulator import PUBLISHED_HEADER, simulate
from data.synthetic import generate

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[1] / "unit" / "data_fixtures"


def _consume(settings: Settings, topic: str, expected: int, timeout: float = 30.0) -> list[Message]:
    """Read ``topic`` from the beginning until ``expected`` messages arrived (or the deadline)."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka.bootstrap,
            "group.id": "test-reader",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(settings.kafka.partitions)])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            for message in consumer.consume(500, timeout=0.2):
                assert message.error() is None, message.error()
                messages.append(message)
    finally:
        consumer.close()
    return messages


def _value(message: Message) -> bytes:
    value = message.value()
    assert isinstance(value, bytes)
    return value


def _published_ns(message: Message) -> int:
    headers = dict(message.headers() or [])
    value = headers[PUBLISHED_HEADER]
    assert isinstance(value, bytes) and value.isdigit()
    return int(value)


def _synthetic_rows(tmp_path: Path, n: int) -> list[bytes]:
    summary = generate(n, 3, tmp_path)
    files = DataFiles(summary.transaction_file, summary.identity_file)
    return list(itertools.chain.from_iterable(iter_json(files, 1_000)))


def test_rows_become_messages_and_labels_at_the_requested_rate(
    broker_settings: Settings, tmp_path: Path
) -> None:
    rows = _synthetic_rows(tmp_path, 400)
    rate, label_delay_s, speedup = 200.0, 2.0, 4.0  # labels 0.5 s of wall time after each transaction
    summary = simulate(broker_settings, rows, rate, label_delay_s=label_delay_s, speedup=speedup)
    assert (summary.sent, summary.labels_sent, summary.errors, summary.labels_pending) == (400, 400, 0, 0)

    kafka = broker_settings.kafka
    txs = _consume(broker_settings, kafka.topic_transactions, 400)
    labels = _consume(broker_settings, kafka.topic_labels, 400)
    assert len(txs) == 400 and len(labels) == 400
    assert sorted(_value(m) for m in txs) == sorted(rows)  # the JSON rows exactly, original column names
    sent_at = {}
    for message in txs:
        tx = decode_transaction(_value(message))
        assert message.key() == str(tx.card1).encode()
        sent_at[tx.TransactionID] = _published_ns(message)
    # Pacing, measured from the stamped publish times rather than from our own sleeps.
    stamps = sorted(sent_at.values())
    # The schedule starts once the first row is acknowledged (the producer id takes ~500 ms).
    achieved = (len(stamps) - 2) / ((stamps[-1] - stamps[1]) / 1e9)
    assert abs(achieved - rate) / rate < 0.05, achieved
    truth = {msgspec.json.decode(r)["TransactionID"]: msgspec.json.decode(r)["isFraud"] for r in rows}
    for message in labels:
        label = decode_label(_value(message))
        assert truth[label.TransactionID] == label.isFraud
        delay_s = (_published_ns(message) - sent_at[label.TransactionID]) / 1e9
        assert delay_s >= label_delay_s / speedup - 0.01


def test_pacing_holds_when_rows_stream_from_the_files(broker_settings: Settings, tmp_path: Path) -> None:
    """The sender must not stall (then burst) while the loader reads the next chunk."""
    summary_files = generate(1_500, 4, tmp_path)
    files = DataFiles(summary_files.transaction_file, summary_files.identity_file)
    rows = itertools.chain.from_iterable(iter_json(files, 300))
    rate = 500.0
    summary = simulate(broker_settings, rows, rate)
    assert summary.sent == 1_500 and summary.errors == 0
    print(f"max lag behind schedule: {summary.max_lag_s * 1000:.1f} ms")
    assert summary.max_lag_s < 0.5
    txs = _consume(broker_settings, broker_settings.kafka.topic_transactions, 1_500)
    stamps = sorted(_published_ns(m) for m in txs)
    # The schedule starts once the first row is acknowledged (the producer id takes ~500 ms).
    achieved = (len(stamps) - 2) / ((stamps[-1] - stamps[1]) / 1e9)
    assert abs(achieved - rate) / rate < 0.05, achieved


def test_stop_flushes_what_was_sent(broker_settings: Settings, tmp_path: Path) -> None:
    rows = _synthetic_rows(tmp_path, 300)
    stop = threading.Event()
    sent = itertools.count(1)

    def progress(_: int) -> None:
        if next(sent) >= 50:
            stop.set()

    summary = simulate(broker_settings, rows, 1_000.0, label_delay_s=3_600.0, progress=progress, stop=stop)
    assert summary.interrupted and summary.sent == 50
    assert summary.labels_sent + summary.labels_pending == 50
    assert len(_consume(broker_settings, broker_settings.kafka.topic_transactions, 50)) == 50


def test_ctrl_c_flushes_what_was_sent(broker_settings: Settings, tmp_path: Path) -> None:
    rows = _synthetic_rows(tmp_path, 100)
    sent = itertools.count(1)

    def progress(_: int) -> None:
        if next(sent) == 30:
            raise KeyboardInterrupt  # what SIGINT raises in the main thread

    summary = simulate(broker_settings, rows, 1_000.0, label_delay_s=0.0, progress=progress)
    assert summary.interrupted and summary.sent == 30 and summary.errors == 0
    assert len(_consume(broker_settings, broker_settings.kafka.topic_transactions, 30)) == 30


def test_invalid_rows_are_counted_not_published(broker_settings: Settings, tmp_path: Path) -> None:
    rows = _synthetic_rows(tmp_path, 20)
    rows.insert(5, b'{"TransactionID": 1, "TransactionDT": -1}')
    summary = simulate(broker_settings, rows, 500.0, limit=15)
    assert (summary.sent, summary.invalid) == (15, 1)
    assert "TransactionDT" in summary.examples[0]
    assert len(_consume(broker_settings, broker_settings.kafka.topic_transactions, 15)) == 15


def test_transactions_given_as_structs_are_published_as_json(
    broker_settings: Settings, tmp_path: Path
) -> None:
    rows = _synthetic_rows(tmp_path, 10)
    summary = simulate(broker_settings, [decode_transaction(r) for r in rows], 500.0)
    assert (summary.sent, summary.labels_sent) == (10, 10)
    txs = _consume(broker_settings, broker_settings.kafka.topic_transactions, 10)
    published = {tx.TransactionID: tx for tx in (decode_transaction(_value(m)) for m in txs)}
    assert published == {tx.TransactionID: tx for tx in (decode_transaction(r) for r in rows)}


def test_cli_replays_a_kaggle_file_pair(broker_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data_cli, "get_settings", lambda: broker_settings)
    args = [
        "--transactions",
        str(FIXTURES / "train_transaction.csv"),
        "--identity",
        str(FIXTURES / "train_identity.csv"),
    ]
    result = CliRunner().invoke(
        data_cli.simulate, [*args, "--rate", "100", "--label-delay", "0"], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "transactions sent" in result.output and "labels sent" in result.output
    txs = _consume(broker_settings, broker_settings.kafka.topic_transactions, 5)
    ids = sorted(decode_transaction(_value(m)).TransactionID for m in txs)
    assert ids == [2987000, 2987001, 2987002, 2987003, 2987004]
    assert len(_consume(broker_settings, broker_settings.kafka.topic_labels, 5)) == 5
