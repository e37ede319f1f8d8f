"""Alert webhooks (issue 16, item 18): alerts raised by real scoring, delivered by the ``notify``
stage (a consumer group on ``alerts``) to a real local HTTP server that checks the signature.

Three receivers: one that answers 200, one that fails twice and then succeeds (retries), and
one that is down (scoring goes on; each alert is dead-lettered with the reason once its tries
are spent).
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

from core.settings import Settings
from functions.events import decode_alert
from infra.pipeline.table import PIPELINE
from infra.services import wait_until
from streams.dlq import list_dead_letters
from streams.keys import Keys
from streams.worker import Worker
from tests.integration.gateway.conftest import Client, Trained, auth

pytestmark = pytest.mark.integration
SECRET = "webhook-test-secret"


@dataclass
class Receiver:
    """A local webhook receiver: answers ``statuses`` in turn (then 200), records what it got."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes, bool]] = field(default_factory=list)  # headers, body, valid

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp, signature = self.headers["X-Sentinel-Timestamp"], self.headers["X-Sentinel-Signature"]
                expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
                valid = hmac.compare_digest(signature, f"sha256={expected}")
                receiver.received.append((dict(self.headers), body, valid))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status if valid else 401)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # no access log on stderr
                pass

        return Handler


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    found = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), found.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found, f"http://127.0.0.1:{server.server_address[1]}/hooks/sentinel"
    finally:
        server.shutdown()
        server.server_close()


def _notify_settings(settings: Settings, url: str) -> Settings:
    return settings.replace(
        notify={
            "webhook_url": url,
            "webhook_secret": SECRET,
            "attempts": 3,
            "backoff_s": 0.05,
            "timeout_s": 2,
        }
    )


def _raise_alerts(client: Client, trained: Trained, want: int) -> list[int]:
    """Score rows through the API until ``want`` of them raise an alert; their TransactionIDs."""
    alerted = []
    for row in trained.raw:
        answer = client.post("/v1/score", content=row, headers=auth("scorer"))
        assert answer.status_code == 200, answer.text
        if answer.json()["decision"] != "approve":
            alerted.append(int(answer.json()["transaction_id"]))
            if len(alerted) == want:
                return alerted
    raise AssertionError(f"only {len(alerted)} alerts among {len(trained.raw)} rows")


def _notify(settings: Settings, redis_client: redis.Redis) -> None:
    Worker(PIPELINE.chain(["notify"]), redis_client, settings).run(burst=True)


def test_each_alert_is_posted_once_signed(
    scoring_client: Client,
    scoring_settings: Settings,
    trained: Trained,
    redis_client: redis.Redis,
    receiver: tuple[Receiver, str],
) -> None:
    found, url = receiver
    alerted = _raise_alerts(scoring_client, trained, 3)
    _notify(_notify_settings(scoring_settings, url), redis_client)
    assert [valid for _, _, valid in found.received] == [True, True, True]
    delivered = [decode_alert(body) for _, body, _ in found.received]
    assert [alert.TransactionID for alert in delivered] == alerted  # in order, each once
    assert all(alert.decision in ("review", "decline") and alert.reasons for alert in delivered)
    headers = [h for h, _, _ in found.received]
    assert [h["X-Sentinel-Delivery"] for h in headers] == [str(t) for t in alerted]
    assert all(h["Content-Type"] == "application/json" for h in headers)
    assert list_dead_letters(redis_client, Keys(scoring_settings.redis.key_prefix)) == []


def test_a_failing_receiver_is_retried_until_it_takes_the_alert(
    scoring_client: Client,
    scoring_settings: Settings,
    trained: Trained,
    redis_client: redis.Redis,
    receiver: tuple[Receiver, str],
) -> None:
    found, url = receiver
    found.statuses = [503, 500]  # fails twice, then answers 200
    (alerted,) = _raise_alerts(scoring_client, trained, 1)
    _notify(_notify_settings(scoring_settings, url), redis_client)
    assert [h["X-Sentinel-Delivery"] for h, _, _ in found.received] == [str(alerted)] * 3
    assert all(valid for _, _, valid in found.received)  # each try signed afresh
    assert list_dead_letters(redis_client, Keys(scoring_settings.redis.key_prefix)) == []


def test_a_refusing_receiver_dead_letters_at_once(
    scoring_client: Client,
    scoring_settings: Settings,
    trained: Trained,
    redis_client: redis.Redis,
    receiver: tuple[Receiver, str],
) -> None:
    found, url = receiver
    found.statuses = [410]
    _raise_alerts(scoring_client, trained, 1)
    _notify(_notify_settings(scoring_settings, url), redis_client)
    assert len(found.received) == 1  # a refusal is not retried
    (dead,) = list_dead_letters(redis_client, Keys(scoring_settings.redis.key_prefix))
    assert (
        dead.function == "notify"
        and dead.reason == "rejected by notify: webhook: the receiver refused the alert: answered 410"
    )


def test_a_receiver_that_is_down_holds_back_only_the_notifier(
    scoring_client: Client, scoring_settings: Settings, trained: Trained, redis_client: redis.Redis
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    settings = _notify_settings(scoring_settings, down).replace(
        notify={"backoff_s": 0.2, "backoff_max_s": 0.4}
    )
    keys = Keys(settings.redis.key_prefix)
    stop = threading.Event()
    notifier = Worker(PIPELINE.chain(["notify"]), redis_client, settings, stop=stop)
    thread = threading.Thread(target=notifier.run, daemon=True)
    thread.start()
    try:
        alerted = _raise_alerts(scoring_client, trained, 3)  # scoring answers while the notifier retries
        wait_until(lambda: len(list_dead_letters(redis_client, keys)) == 3, 60, "the alerts dead-lettered")
    finally:
        stop.set()
        thread.join(30)
    dead = list_dead_letters(redis_client, keys, newest_first=False)
    assert {d.function for d in dead} == {"notify"}
    assert all(
        d.reason.startswith("rejected by notify: webhook: 3 tries failed, the last: no answer") for d in dead
    ), dead
    assert [decode_alert(d.payload).TransactionID for d in dead] == alerted  # `dlq replay` can resend them
