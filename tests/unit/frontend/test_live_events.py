"""Hostile input for the dashboard's reader of the gateway's event stream (``dashboard.gateway.live_events``).

A real HTTP server on a local port plays a broken or hostile gateway: garbage lines, invalid
UTF-8, an endless line, a cut connection, a wrong content type, a server that never stops or
never speaks. The reader itself is the real one, over the real HTTP client; only where it
connects is pointed at the test's server.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "frontend"))

from dashboard import gateway  # the dashboard app is not an installed package: its folder is put on the path
from dashboard.gateway import MAX_LINE, GatewayError, live_events

Script = Callable[[asyncio.StreamWriter], Awaitable[None]]
SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
LIVENESS_S = 60.0  # the reader must end by itself well before this (not a performance figure)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


END = b"0\r\n\r\n"


async def _serve(script: Script) -> tuple[asyncio.Server, list[bytes]]:
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        try:
            await script(writer)
            await writer.drain()
        except ConnectionError:
            pass  # the reader hung up on us: what several tests want
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, requests


async def _wake_ups(
    script: Script, monkeypatch: pytest.MonkeyPatch, **options: float
) -> tuple[int, list[bytes]]:
    """How often live_events woke its caller before it ended, against a server playing ``script``."""
    server, requests = await _serve(script)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(gateway, "GATEWAY_URL", f"http://127.0.0.1:{port}")
    gateway._CLIENTS.clear()  # the client of this loop connects to the server above
    count = 0

    async def consume(events: AsyncIterator[None]) -> None:
        nonlocal count
        async for _ in events:
            count += 1

    try:
        await asyncio.wait_for(
            consume(live_events("secret-key", "alert", **{"seconds": 5.0, **options})), LIVENESS_S
        )
    finally:
        server.close()
        await gateway._client().aclose()
        gateway._CLIENTS.clear()
    return count, requests


def run(script: Script, monkeypatch: pytest.MonkeyPatch, **options: float) -> tuple[int, list[bytes]]:
    # a thread of its own: in the whole suite the browser tests' Playwright (sync API) leaves an
    # event loop running in the main thread, where asyncio.run refuses to start another
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _wake_ups(script, monkeypatch, min_gap_s=0.0, **options)).result()


def test_garbage_lines_and_invalid_utf8_wake_nobody(monkeypatch: pytest.MonkeyPatch) -> None:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD)
        for part in (
            b": keep-alive\r\n\r\n",
            b"\xff\xfe\xc3\x28 not utf-8 \x00\x01\r\n",
            b"event\r\nid: x\r\nretry: nope\r\n\r\n",
            b"  data: indented is not a data line\n",
            b"DATA: neither is this\n",
            b"x" * (MAX_LINE // 2) + b"\n",  # long but within the bound
        ):
            writer.write(chunk(part))
            await writer.drain()
        writer.write(END)

    wake_ups, requests = run(script, monkeypatch)
    assert wake_ups == 0
    assert b"x-api-key: secret-key" in requests[0].lower()  # the key travels in the header only
    assert b"secret-key" not in requests[0].split(b"\r\n")[0]


def test_a_data_line_cut_across_chunks_and_ended_by_a_bare_cr_wakes_the_caller_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD + chunk(b": hello\r\n\r\ndat"))
        await writer.drain()
        writer.write(chunk(b"a: {[[[[[[[[[[[[[[[[[[[[ deeply nested, never parsed\r\r") + END)

    wake_ups, _ = run(script, monkeypatch)
    assert wake_ups == 1


def test_a_line_longer_than_the_bound_ends_the_stream_with_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD + chunk(b"data: {}\n\n"))
        for _ in range(128):  # 8 MiB without a line break
            writer.write(chunk(b"data: " + b"A" * 65_530))
            await writer.drain()
        writer.write(END)

    with pytest.raises(GatewayError, match="line over 65,536 bytes"):
        run(script, monkeypatch)


def test_a_connection_cut_mid_event_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD + chunk(b"data: {}\n\n") + b'400\r\ndata: {"half')  # a chunk cut short

    with pytest.raises(GatewayError, match="event stream ended"):
        run(script, monkeypatch)


def test_a_body_shorter_than_its_content_length_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 1000\r\n\r\ndata: {}\n"
        )

    with pytest.raises(GatewayError, match="event stream ended"):
        run(script, monkeypatch)


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 21\r\n\r\n<html>data: x</html>\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\ndata: x\n\n",
    ],
    ids=["html", "no-content-type"],
)
def test_an_answer_that_is_not_an_event_stream_is_refused(
    monkeypatch: pytest.MonkeyPatch, head: bytes
) -> None:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(head)

    with pytest.raises(GatewayError, match="event stream answered"):
        run(script, monkeypatch)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"status": 503, "detail": "Too many live clients"}', "Too many live clients"),
        (b'["not", "a", "problem"]', "the gateway answered 503"),
        (b'{"detail": "bad", "errors": "not a list"}', "bad"),
        (b"\xff" * 10 + b"{" * 1000, "the gateway answered 503"),
    ],
    ids=["problem", "json-list", "odd-errors", "garbage"],
)
def test_an_error_answer_becomes_a_message_whatever_its_body(
    monkeypatch: pytest.MonkeyPatch, body: bytes, message: str
) -> None:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 503 Unavailable\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))

    with pytest.raises(GatewayError, match=message) as raised:
        run(script, monkeypatch)
    assert raised.value.status == 503


def test_a_huge_error_body_is_not_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = 0

    async def script(writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        writer.write(
            b"HTTP/1.1 500 Oops\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        for _ in range(4096):  # up to 256 MiB unless the reader hangs up first
            writer.write(chunk(b"{" * 65_536))
            await writer.drain()
            sent += 1

    with pytest.raises(GatewayError, match="the gateway answered 500"):
        run(script, monkeypatch)
    assert sent < 4096


def test_a_server_that_never_stops_sending_is_left_after_the_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD)
        while True:  # ignores max_seconds: an event every 20 ms, forever
            writer.write(chunk(b"data: {}\n\n"))
            await writer.drain()
            await asyncio.sleep(0.02)

    wake_ups, _ = run(script, monkeypatch, seconds=0.2, grace_s=0.2)
    assert wake_ups >= 1  # it read events, then left by itself (run's liveness bound not reached)


def test_a_server_that_goes_silent_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD + chunk(b"data: {}\n\n"))
        await writer.drain()
        await asyncio.sleep(LIVENESS_S)  # no heartbeat, no end

    with pytest.raises(GatewayError, match="event stream ended"):
        run(script, monkeypatch, idle_s=0.3)
