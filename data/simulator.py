"""Traffic source: joined rows -> broker topics ``transactions`` (now) and ``labels`` (later).

``simulate`` replays rows in the order given (the loader yields TransactionDT order) at a fixed
rate against a monotonic schedule: message *i* is due at ``start + i / rate`` (``start``: once the
first row is acknowledged), so a late wake-up never shifts the messages after it (open loop, no drift). Rows are read
ahead on a background thread so that loading the next chunk of a file does not stall the sender. Each message is the row's JSON with its
original column names, keyed by ``card1`` and stamped with the header ``published_ns``
(``time.time_ns()`` as ASCII digits) just before it is handed to the producer, so downstream
stages can measure end-to-end latency. The producer batches as real clients do: a message waits
up to ``kafka.linger_ms`` (20 ms) for others of its partition, which at 1,000/s cuts the embedded
broker's CPU per event about threefold (its fetches cost more the more record batches it holds).

Each row's label (``{"TransactionID", "isFraud"}``, same key) follows on the labels topic once
``label_delay_s`` seconds of event time have passed, i.e. ``label_delay_s / speedup`` wall seconds
after the transaction, as chargebacks arrive after the purchase. Rows without ``isFraud`` (the
Kaggle test files) get no label. Rows that fail validation are not published; they are counted
and logged with the reason. Stopping (Ctrl-C or the ``stop`` event) flushes what was produced.

``hold`` (optional) is asked at most every ``HOLD_POLL_S`` before a message is sent; while it
answers True the simulator flushes, publishes nothing and shifts its schedule by the time held,
then continues with a new producer. The mirror sets that hold while it empties a broker
without retention (``streams.mirror``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from confluent_kafka import KafkaError, Message, Producer

from core.errors import ConfigError
from core.settings import Settings
from data.schema import InvalidRow, Label, Transaction, decode_transaction, encode_label, encode_transaction
from data.shift import Shift

log = logging.getLogger(__name__)

T = TypeVar("T")
PUBLISHED_HEADER = "published_ns"  # contract with the broker -> Redis mirror
MAX_EXAMPLES = 5
HOLD_POLL_S = 0.1  # the mirror waits 10x this with the topics quiet before it recycles them


@dataclass
class SimulationSummary:
    sent: int = 0  # transactions handed to the producer and acknowledged by the broker
    labels_sent: int = 0
    labels_pending: int = 0  # labels not yet due when the run stopped
    invalid: int = 0  # rows that failed validation (not published)
    thinned: int = 0  # rows a what-if thinning dropped (``data.shift``; not published)
    delivery_errors: int = 0
    unflushed: int = 0  # still in the producer's queue when the run ended (fate unknown)
    elapsed_s: float = 0.0  # first to last transaction handed to the producer
    requested_rate: float = 0.0
    max_lag_s: float = 0.0  # most the sender fell behind its schedule
    held_s: float = 0.0  # time spent holding for the mirror (the schedule moves on by as much)
    interrupted: bool = False
    examples: list[str] = field(default_factory=list)

    @property
    def achieved_rate(self) -> float:
        return (self.sent - 1) / self.elapsed_s if self.elapsed_s > 0 and self.sent > 1 else 0.0

    @property
    def errors(self) -> int:
        return self.invalid + self.delivery_errors + self.unflushed


def producer_config(settings: Settings) -> dict[str, Any]:
    if not settings.kafka.bootstrap:
        raise ConfigError(
            "no broker configured: set SENTINEL_KAFKA_BOOTSTRAP (or run `sentinel services` and use its address)"
        )
    return {
        "bootstrap.servers": settings.kafka.bootstrap,
        # the key's CRC-32 picks the partition: what streams.keys.partition_of computes (the gateway's
        # sync scoring finds a card's shard by it); librdkafka's default, said so it stays so
        "partitioner": "consistent_random",
        "linger.ms": settings.kafka.linger_ms,
        "compression.type": "lz4",
        "enable.idempotence": True,
        "queue.buffering.max.messages": 500_000,
    }


class _Sender:
    """Wraps the producer: delivery accounting, back-pressure on a full local queue, the hold."""

    def __init__(
        self,
        config: dict[str, Any],
        summary: SimulationSummary,
        hold: Callable[[], bool] | None,
        stop: threading.Event,
    ) -> None:
        self.config = config
        self.producer = Producer(config)
        self.summary = summary
        self.hold, self.stop = hold, stop
        self.next_hold_check = 0.0
        self.acked = {"tx": 0, "label": 0}
        # The callbacks hold the counters, not the sender: no reference cycle keeps the producer alive.
        self.callbacks = {kind: _on_delivery(kind, self.acked, summary) for kind in self.acked}

    def wait_while_held(self) -> None:
        now = time.monotonic()
        if self.hold is None or now < self.next_hold_check:
            return
        self.next_hold_check = now + HOLD_POLL_S
        if not self.hold():
            return
        # Everything sent so far reaches the broker (and the mirror) before the topics are recycled.
        self.summary.unflushed += self.producer.flush(30.0)
        log.info("holding: the mirror is emptying the broker topics")
        while self.hold() and not self.stop.is_set():
            time.sleep(HOLD_POLL_S)
        self.producer = Producer(self.config)  # the topics are new: so is the idempotent producer
        self.summary.held_s += time.monotonic() - now
        log.info("hold released after %.1f s", time.monotonic() - now)

    def send(self, topic: str, key: bytes, value: bytes, kind: str) -> None:
        self.wait_while_held()
        headers: list[tuple[str, str | bytes | None]] = [(PUBLISHED_HEADER, str(time.time_ns()).encode())]
        while True:
            try:
                self.producer.produce(
                    topic, value=value, key=key, headers=headers, on_delivery=self.callbacks[kind]
                )
                break
            except BufferError:  # local queue full: let the broker catch up
                self.producer.poll(0.05)
        self.producer.poll(0)


def _on_delivery(
    kind: str, acked: dict[str, int], summary: SimulationSummary
) -> Callable[[KafkaError | None, Message], None]:
    def callback(err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            acked[kind] += 1
            return
        summary.delivery_errors += 1
        if len(summary.examples) < MAX_EXAMPLES:
            summary.examples.append(f"delivery failed: {err}")
        log.warning("delivery failed kind=%s error=%s", kind, err)

    return callback


_END = object()


def _prefetch(rows: Iterable[T], done: threading.Event, size: int = 50_000) -> Iterator[T]:
    """Read ``rows`` on a background thread, so loading a chunk never stalls the paced sender.

    The thread ends when ``rows`` is exhausted or ``done`` is set.
    """
    buffer: queue.Queue[object] = queue.Queue(maxsize=size)

    def fill() -> None:
        try:
            for row in rows:
                while not done.is_set():
                    try:
                        buffer.put(row, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if done.is_set():
                    return
            buffer.put(_END)
        except BaseException as error:  # noqa: BLE001 - handed to the consuming thread and re-raised there
            buffer.put(error)

    threading.Thread(target=fill, name="simulator-prefetch", daemon=True).start()
    while True:
        item = buffer.get()
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item
        yield cast(T, item)


def simulate(
    settings: Settings,
    rows: Iterable[bytes | Transaction],
    rate: float,
    *,
    limit: int | None = None,
    speedup: float = 1.0,
    label_delay_s: float = 0.0,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    hold: Callable[[], bool] | None = None,
    shift: Shift | None = None,
) -> SimulationSummary:
    """Publish ``rows`` at ``rate`` per second, then their labels; see the module docstring.

    ``shift`` (``data.shift``) injects a covariate shift or a new fraud pattern from its start.

    A row is either JSON bytes (as ``loader.iter_json`` yields them; validated here) or an
    already validated ``Transaction`` (encoded here).
    """
    if rate <= 0 or speedup <= 0 or label_delay_s < 0:
        raise ValueError("rate and speedup must be > 0 and label_delay_s >= 0")
    summary = SimulationSummary(requested_rate=rate)
    stop = stop or threading.Event()
    sender = _Sender(producer_config(settings), summary, hold, stop)
    tx_topic, label_topic = settings.kafka.topic_transactions, settings.kafka.topic_labels
    label_wall_delay = label_delay_s / speedup
    labels: deque[tuple[float, bytes, bytes]] = deque()  # (due, key, value): due times only grow
    done = threading.Event()  # tells the prefetch thread to let go
    start = first = last = 0.0
    index = 0

    def send_due_labels(now: float) -> None:
        while labels and labels[0][0] <= now:
            _, key, value = labels.popleft()
            sender.send(label_topic, key, value, "label")

    try:
        for raw in _prefetch(rows, done):
            if stop.is_set() or (limit is not None and index >= limit):
                break
            try:
                tx = decode_transaction(raw) if isinstance(raw, bytes) else raw
                if shift is not None:
                    if not shift.keeps(tx):
                        summary.thinned += 1
                        continue
                    tx = shift.apply(tx)
            except InvalidRow as error:
                summary.invalid += 1
                if len(summary.examples) < MAX_EXAMPLES:
                    summary.examples.append(str(error))
                log.warning("invalid row skipped reason=%s", error)
                continue
            start = start or time.monotonic()  # the schedule starts with the first row, not the file load
            sender.wait_while_held()
            due = start + summary.held_s + index / rate
            now = time.monotonic()
            if due > now:
                send_due_labels(now)
                time.sleep(due - now)
            else:
                summary.max_lag_s = max(summary.max_lag_s, now - due)
            key = str(tx.card1).encode()
            sender.send(tx_topic, key, raw if isinstance(raw, bytes) else encode_transaction(tx), "tx")
            last = time.monotonic()
            if index == 0:
                # An idempotent producer delivers nothing before it has a producer id (librdkafka
                # checks every 500 ms): the schedule starts once the first row is acknowledged.
                sender.producer.flush(30.0)
                start = first = time.monotonic() - 1 / rate
            index += 1
            if tx.isFraud is not None:
                label = encode_label(Label(TransactionID=tx.TransactionID, isFraud=tx.isFraud))
                labels.append((last + label_wall_delay, key, label))
            send_due_labels(last)
            if progress is not None:
                progress(1)
        while labels and not stop.is_set():  # the last labels come due after the last transaction
            time.sleep(max(0.0, min(labels[0][0] - time.monotonic(), 0.2)))
            send_due_labels(time.monotonic())
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        done.set()
    summary.interrupted = summary.interrupted or stop.is_set()
    summary.labels_pending = len(labels)
    # Stopped: the broker may be going away too, so wait less for the last acknowledgements.
    flush_s = 5.0 if summary.interrupted else 30.0
    summary.unflushed += sender.producer.flush(flush_s)
    if summary.unflushed:
        log.warning("messages unacknowledged after flush count=%d timeout_s=%.0f", summary.unflushed, flush_s)
    summary.sent, summary.labels_sent = sender.acked["tx"], sender.acked["label"]
    summary.elapsed_s = last - first
    log.info(
        "simulation done sent=%d labels=%d invalid=%d delivery_errors=%d rate=%.1f",
        summary.sent, summary.labels_sent, summary.invalid, summary.delivery_errors, summary.achieved_rate,
    )  # fmt: skip
    return summary
