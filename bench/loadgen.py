"""A closed-loop HTTP/1.1 load generator: asyncio, raw keep-alive sockets, one prebuilt request.

Each of ``concurrency`` connections sends the same request, waits for the full answer, and sends
the next at once. The client does little per request (one write, a header parse, one read), so it
takes a small share of the cores it shares with the server; that share is measured and reported.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REQUEST_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 30.0
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# The service reports per-request stage times; averaged per level to show where time goes.
TIMING_KEYS = ("preprocess", "queue", "inference", "total")

Counters = Callable[[], dict[str, float]]


@dataclass
class Sample:
    """One request: when it started and ended (perf_counter seconds) and how it went."""

    start: float
    end: float
    status: int  # 0 for a client-side failure (connection reset, timeout, bad response)
    error: str = ""
    timing: dict[str, float] | None = None


@dataclass
class Target:
    """Where to send the benchmark request, and the request itself."""

    host: str
    port: int
    path: str
    body: bytes
    content_type: str
    parse_timing: bool = False
    request: bytes = field(init=False)

    def __post_init__(self) -> None:
        if self.host not in LOOPBACK:
            raise ValueError(f"the load generator only targets loopback, not {self.host}")
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: {self.content_type}\r\nContent-Length: {len(self.body)}\r\n"
            "Connection: keep-alive\r\n\r\n"
        )
        self.request = head.encode() + self.body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body, and whether the connection may be reused."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, status = lines[0].split(" ", 2)[:2]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunks.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(c[:-2] for c in chunks)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    keep = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
    return int(status), body, keep


def _timing(body: bytes) -> dict[str, float] | None:
    try:
        timing = json.loads(body).get("timing_ms")
    except (ValueError, AttributeError):
        return None
    return timing if isinstance(timing, dict) else None


async def _connection(target: Target, keep_going, samples: list[Sample]) -> None:
    """One closed-loop client: send, wait for the answer, repeat while ``keep_going()``."""
    reader = writer = None
    try:
        while keep_going():
            start = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(target.host, target.port)
                writer.write(target.request)
                status, body, keep = await asyncio.wait_for(
                    _read_response(reader), REQUEST_TIMEOUT_S
                )
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
                samples.append(Sample(start, time.perf_counter(), 0, type(exc).__name__))
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            end = time.perf_counter()
            error = "" if status == 200 else f"HTTP {status}"
            timing = _timing(body) if target.parse_timing and status == 200 else None
            samples.append(Sample(start, end, status, error, timing))
            if not keep:
                writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()


async def _run(target: Target, concurrency: int, keep_going) -> list[Sample]:
    samples: list[Sample] = []
    tasks = [
        asyncio.create_task(_connection(target, keep_going, samples)) for _ in range(concurrency)
    ]
    await asyncio.wait(tasks)
    for task in tasks:
        task.result()  # surface bugs in the client itself
    return samples


def run_level(
    target: Target,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    counters: Counters | None = None,
) -> dict:
    """Closed loop at ``concurrency`` for ``warmup_s + duration_s``; stats over the window.

    ``counters`` returns cumulative CPU seconds by name (server, machine...); their rates over
    the window are reported in cores as ``cpu_cores``, with the client's own as ``client``.
    """

    async def main() -> tuple[list[Sample], float, float, float]:
        begin = time.perf_counter()
        window = (begin + warmup_s, begin + warmup_s + duration_s)
        marks: list[dict[str, float]] = []
        loop = asyncio.get_running_loop()
        loop.call_later(warmup_s, lambda: marks.append(_read(counters)))
        loop.call_later(warmup_s + duration_s, lambda: marks.append(_read(counters)))

        def keep_going() -> bool:
            return time.perf_counter() < window[1]

        samples = await asyncio.wait_for(
            _run(target, concurrency, keep_going), warmup_s + duration_s + DRAIN_TIMEOUT_S
        )
        while len(marks) < 2:
            marks.append(_read(counters))
        return samples, window[0], window[1], marks

    samples, t0, t1, marks = asyncio.run(main())
    # Requests that ended inside the window: their count is the throughput of a steady state.
    inside = [s for s in samples if t0 <= s.end <= t1]
    stats = summarize(inside, t1 - t0)
    stats.update(
        concurrency=concurrency,
        errors_total=sum(1 for s in samples if s.status != 200),
        cpu_cores={
            # Threads may come and go between the marks; a missing one counts from zero.
            key: round(max(0.0, marks[1].get(key, 0.0) - marks[0].get(key, 0.0)) / (t1 - t0), 3)
            for key in {**marks[0], **marks[1]}
        },
    )
    return stats


def _read(counters: Counters | None) -> dict[str, float]:
    values = dict(counters()) if counters else {}
    values["client"] = time.process_time()
    return values


def run_count(target: Target, concurrency: int, total: int) -> dict:
    """Closed loop at ``concurrency`` until ``total`` requests have been sent (the soak)."""
    sent = Counter()

    def keep_going() -> bool:
        sent["n"] += 1
        return sent["n"] <= total

    async def main() -> tuple[list[Sample], float, float]:
        begin, cpu = time.perf_counter(), time.process_time()
        samples = await _run(target, concurrency, keep_going)
        return samples, time.perf_counter() - begin, time.process_time() - cpu

    samples, elapsed, client_cpu = asyncio.run(main())
    stats = summarize(samples, elapsed)
    stats.update(concurrency=concurrency, cpu_cores={"client": round(client_cpu / elapsed, 4)})
    return stats


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(samples: list[Sample], seconds: float) -> dict[str, Any]:
    """Throughput, latency percentiles (ms, successful requests) and errors of ``samples``."""
    ok = [(s.end - s.start) * 1000.0 for s in samples if s.status == 200]
    errors = Counter(s.error for s in samples if s.status != 200)
    timings = [s.timing for s in samples if s.timing]
    stats: dict[str, Any] = {
        "duration_s": round(seconds, 3),
        "requests": len(samples),
        "ok": len(ok),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "throughput_rps": round(len(ok) / seconds, 3) if seconds > 0 else 0.0,
    }
    for q in (50, 90, 99):
        value = percentile(ok, q)
        stats[f"p{q}_ms"] = None if value is None else round(value, 2)
    stats["mean_ms"] = round(sum(ok) / len(ok), 2) if ok else None
    stats["max_ms"] = round(max(ok), 2) if ok else None
    if timings:
        stats["server_timing_ms"] = {
            key: round(sum(t.get(key, 0.0) for t in timings) / len(timings), 2)
            for key in TIMING_KEYS
        }
    return stats
