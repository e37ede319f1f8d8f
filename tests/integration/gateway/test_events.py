"""Live events over a real granian server: an SSE client receives scored events within a deadline."""

from __future__ import annotations

import json
import queue
import threading

import httpx
import pytest

from infra.bench.gateway_process import GatewayProcess
from tests.integration.gateway.conftest import Trained, auth

pytestmark = pytest.mark.integration

DEADLINE_S = 10.0


def _listen(
    url: str, headers: dict[str, str], out: queue.Queue[dict[str, str]], ready: threading.Event
) -> None:
    """Put the response status, then the first SSE message with data (event, id, data)."""
    with httpx.stream("GET", url, headers=headers, timeout=DEADLINE_S + 5) as response:
        out.put({"status": str(response.status_code)})
        message: dict[str, str] = {}
        for line in response.iter_lines():
            if line.startswith(":"):
                ready.set()  # the "connected" comment: the server is tailing now
            elif line == "" and message.get("data"):
                out.put(message)
                return  # closing the connection ends the server's stream too
            elif line == "":
                message = {}
            elif ":" in line:
                name, _, value = line.partition(":")
                message[name] = value.strip()


def test_sse_client_receives_the_scored_event_of_a_scored_transaction(
    gateway_server: GatewayProcess, trained: Trained
) -> None:
    received: queue.Queue[dict[str, str]] = queue.Queue()
    ready = threading.Event()
    url = f"{gateway_server.url}/v1/events?types=scored&max_seconds={DEADLINE_S}"
    listener = threading.Thread(target=_listen, args=(url, auth("analyst"), received, ready), daemon=True)
    listener.start()
    assert received.get(timeout=DEADLINE_S) == {"status": "200"}
    assert ready.wait(DEADLINE_S)

    payload = trained.raw[100]
    scored = httpx.post(
        f"{gateway_server.url}/v1/score",
        content=payload,
        headers={**auth("scorer"), "Content-Type": "application/json"},
        timeout=DEADLINE_S,
    )
    assert scored.status_code == 200, scored.text
    message = received.get(timeout=DEADLINE_S)
    assert message["event"] == "scored"
    data = json.loads(message["data"])
    assert data["transaction_id"] == json.loads(payload)["TransactionID"]
    assert (data["probability"], data["decision"]) == (
        scored.json()["probability"],
        scored.json()["decision"],
    )
    assert message["id"].startswith("scored=")


def test_sse_requires_a_key(gateway_server: GatewayProcess) -> None:
    response = httpx.get(f"{gateway_server.url}/v1/events", timeout=5)
    assert response.status_code == 401
