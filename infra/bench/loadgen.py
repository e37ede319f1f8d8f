"""Benchmark tool: an open-loop HTTP/1.1 load generator on raw asyncio sockets.

Open loop: request *i* is due at ``start + i / rate`` whether or not earlier ones have
answered, and its latency runs from the moment it is fired, including any wait for a free
connection, so a slow server is charged for the queue it causes (no coordinated omission).
The event loop's timers tick in about 1 ms, so how late each request was fired against its
due time is reported apart (``generator_dispatch_lag_ms_p99``). Requests go out on a pool of keep-alive
connections; a new connection is opened when all are busy (up to ``max_connections``).
A closed-loop mode (``saturate``) keeps ``concurrency`` requests in flight back to back to
find the highest rate the server sustains. The client is deliberately minimal (pre-built
request bytes, Content-Length framing) so it costs far less CPU than the server it loads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

RequestFactory = Callable[[int], bytes]  # request number -> full HTTP/1.1 request bytes


def http_request(method: str, host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """Full request bytes with a keep-alive connection and a Content-Length."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def roundtrip(self, request: bytes) -> int:
        """Send one request, read one response; returns its status code."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
                break
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


@dataclass
class RunResult:
    """Outcome of one load run."""

    mode: str  # open | closed
    target_rate: float | None
    duration_s: float
    sent: int
    ok: int
    errors: int
    statuses: dict[int, int]
    latencies_ms: np.ndarray = field(repr=False)
    dispatch_lag_ms_p99: float  # how late the generator itself sent requests (its own limit)

    @property
    def achieved_rate(self) -> float:
        return self.ok / self.duration_s if self.duration_s else 0.0

    def percentiles(self) -> dict[str, float | None]:
        if not len(self.latencies_ms):
            return {"p50": None, "p95": None, "p99": None, "p999": None, "max": None}
        qs = np.percentile(self.latencies_ms, [50, 95, 99, 99.9, 100])
        return dict(zip(("p50", "p95", "p99", "p999", "max"), (round(float(q), 3) for q in qs), strict=True))

    def summary(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "target_rate": self.target_rate,
            "achieved_rate": round(self.achieved_rate, 1),
            "duration_s": round(self.duration_s, 2),
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "latency_ms": self.percentiles(),
            "generator_dispatch_lag_ms_p99": round(self.dispatch_lag_ms_p99, 3),
        }


class LoadGenerator:
    def __init__(
        self, host: str, port: int, make_request: RequestFactory, max_connections: int = 256
    ) -> None:
        self.host = host
        self.port = port
        self.make_request = make_request
        self.max_connections = max_connections
        self._idle: list[_Connection] = []
        self._open = 0
        self._counter = 0

    async def _acquire(self) -> _Connection:
        while True:
            if self._idle:
                return self._idle.pop()
            if self._open < self.max_connections:
                self._open += 1
                reader, writer = await asyncio.open_connection(self.host, self.port)
                return _Connection(reader, writer)
            await asyncio.sleep(0)

    def _next_request(self) -> bytes:
        self._counter += 1
        return self.make_request(self._counter)

    async def _one(self, due: float, latencies: list[float], statuses: dict[int, int]) -> None:
        conn = await self._acquire()
        try:
            status = await conn.roundtrip(self._next_request())
        except (OSError, asyncio.IncompleteReadError, ValueError):
            conn.close()
            self._open -= 1
            statuses[0] = statuses.get(0, 0) + 1
            return
        self._idle.append(conn)
        statuses[status] = statuses.get(status, 0) + 1
        if 200 <= status < 300:
            latencies.append((time.perf_counter() - due) * 1000)

    async def open_loop(self, rate: float, duration_s: float) -> RunResult:
        """Send at ``rate`` requests/s for ``duration_s`` seconds (scheduled, not paced by replies)."""
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lags: list[float] = []
        total = int(rate * duration_s)
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter() + 0.05
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            fired = time.perf_counter()
            lags.append((fired - due) * 1000)
            # Latency counts from the moment the request is fired, including any wait for a free
            # connection; the timer's own lateness (event-loop timers tick in ~1 ms) is reported
            # separately as the generator's dispatch lag.
            task = asyncio.create_task(self._one(fired, latencies, statuses))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        elapsed = max(time.perf_counter() - start, total / rate)
        return self._result("open", rate, elapsed, total, latencies, statuses, lags)

    async def saturate(self, concurrency: int, duration_s: float) -> RunResult:
        """Closed loop: ``concurrency`` clients, each sending its next request as soon as one answers."""
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        stop = time.perf_counter() + duration_s
        sent = 0

        async def client() -> None:
            nonlocal sent
            while time.perf_counter() < stop:
                sent += 1
                await self._one(time.perf_counter(), latencies, statuses)

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        return self._result("closed", None, elapsed, sent, latencies, statuses, [0.0])

    def _result(
        self,
        mode: str,
        rate: float | None,
        elapsed: float,
        sent: int,
        latencies: Sequence[float],
        statuses: dict[int, int],
        lags: Sequence[float],
    ) -> RunResult:
        ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
        return RunResult(
            mode=mode,
            target_rate=rate,
            duration_s=elapsed,
            sent=sent,
            ok=ok,
            errors=sent - ok,
            statuses=statuses,
            latencies_ms=np.asarray(latencies, dtype=np.float64),
            dispatch_lag_ms_p99=float(np.percentile(lags, 99)) if lags else 0.0,
        )

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
        self._open = 0
