"""How many live ``stream`` sessions one Bokeh process keeps at 1 Hz: update lag and memory.

Starts Bokeh through the launcher (``python -m bkapps``, one process), opens N sessions the way
BokehJS does (signed token, websocket, ACK, PULL-DOC) with ``rate=1000``, and, once all are open,
listens for a while. An update's lag is how much later than one period after the session's
previous update it arrived (Bokeh's periodic callbacks never catch up, so a pause shows up once,
in full). Then it closes the sessions, waits until the server has discarded them, and reads the
server's memory. Once with ``BOKEH_GC_TUNING=off``, once with it on, printed side by side.
Usage: ``python bench/stream_capacity.py [--sessions 250] [--seconds 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aperture.session_token import mint_session, token_payload
from tests.support.servers import TEST_BOKEH_SECRET, free_port, procfile_commands, running, stack_env

PERIOD_MS = 1000
OPENING_AT_ONCE = 8
SETTLE_SECONDS = 3.0
OPEN_SECONDS = 300.0
DISCARD_SECONDS = 120.0
MEBIBYTE = 2**20


def frame(opcode: int, payload: bytes) -> bytes:
    """One masked client frame (RFC 6455: a client masks everything it sends)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = bytes([0x80 | opcode, 0x80 | size])
    elif size < 2**16:
        head = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + size.to_bytes(8, "big")
    repeated = (mask * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(size, "big")
    return head + mask + masked


def bokeh_message(msgtype: str, msgid: str) -> bytes:
    parts = (json.dumps({"msgid": msgid, "msgtype": msgtype}), "{}", "{}")
    return b"".join(frame(0x1, part.encode()) for part in parts)


@dataclass
class Tally:
    """What every session of one run saw."""

    measuring: bool = False
    lags_ms: list[float] = field(default_factory=list)
    updates: int = 0
    failures: list[str] = field(default_factory=list)


class LiveSession(asyncio.Protocol):
    """A websocket speaking just enough of Bokeh's protocol to pull the document and time updates."""

    def __init__(self, host: str, port: int, token: str, tally: Tally) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        self.request = (
            f"GET /stream/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{host}:{port}\r\n"
            f"Sec-WebSocket-Protocol: bokeh, {token}\r\n\r\n"
        ).encode()
        self.tally = tally
        self.pulled = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._upgraded = False
        self._parts_left = 0  # frames left of the current Bokeh message
        self._msgtype = ""
        self._part = 0
        self._last_update: float | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        if not self.pulled.done():
            self.pulled.set_exception(ConnectionError(f"closed before the document arrived: {exc}"))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame(0x8, (1000).to_bytes(2, "big")))
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self._buffer += data
        if not self._upgraded:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self._buffer[: self._buffer.find(b"\r\n")])
            if b" 101 " not in status:
                self.pulled.set_exception(ConnectionError(status.decode(errors="replace")))
                self.transport.close()
                return
            del self._buffer[: end + 4]
            self._upgraded = True
        while (parsed := self._next_frame()) is not None:
            self._on_frame(*parsed, now)

    def _next_frame(self) -> tuple[int, bytes] | None:
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        size, offset = buffer[1] & 0x7F, 2
        if size == 126:
            if len(buffer) < 4:
                return None
            size, offset = int.from_bytes(buffer[2:4], "big"), 4
        elif size == 127:
            if len(buffer) < 10:
                return None
            size, offset = int.from_bytes(buffer[2:10], "big"), 10
        if len(buffer) < offset + size:
            return None
        opcode, payload = buffer[0] & 0x0F, bytes(buffer[offset : offset + size])
        del buffer[: offset + size]
        return opcode, payload

    def _on_frame(self, opcode: int, payload: bytes, now: float) -> None:
        if opcode == 0x9:  # ping
            self.transport.write(frame(0xA, payload))
            return
        if opcode == 0x8:
            self.transport.close()
            return
        if self._parts_left == 0:  # a header starts a message
            header = json.loads(payload)
            self._msgtype, self._part = header["msgtype"], 0
            self._parts_left = 3 + 2 * header.get("num_buffers", 0)
        self._parts_left -= 1
        self._part += 1
        if self._part == 3:
            self._on_content(payload, now)

    def _on_content(self, content: bytes, now: float) -> None:
        if self._msgtype == "ACK":
            self.transport.write(bokeh_message("PULL-DOC-REQ", "1"))
        elif self._msgtype == "PULL-DOC-REPLY" and not self.pulled.done():
            self.pulled.set_result(None)
        elif self._msgtype == "PATCH-DOC" and b'"ColumnsStreamed"' in content:
            # The app's only stream() is the periodic callback's row.
            if self.tally.measuring:
                self.tally.updates += 1
                if self._last_update is not None:
                    self.tally.lags_ms.append(max(0.0, (now - self._last_update) * 1000 - PERIOD_MS))
            self._last_update = now


@dataclass
class Run:
    name: str
    sessions: int
    opened: int = 0
    open_seconds: float = 0.0
    measured_seconds: float = 0.0
    tally: Tally = field(default_factory=Tally)
    rss_before: int = 0
    rss_open: int = 0
    rss_peak: int = 0
    rss_after: int = 0
    client_lag_ms: list[float] = field(default_factory=list)
    server_gc: dict = field(default_factory=dict)
    server_cpu_percent: float = 0.0
    # This machine's 1-minute load average during the run: other work competes for the cores.
    load_average: float = 0.0

    def percentile(self, values: list[float], fraction: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")

    @property
    def expected(self) -> int:
        return round(self.opened * self.measured_seconds * 1000 / PERIOD_MS)


def healthz(url: str) -> dict:
    return requests.get(url + "/healthz", timeout=30).json()


async def watch(process: psutil.Process, run: Run, stop: asyncio.Event) -> None:
    """Follow the server's peak memory and this client's own loop lag (it must keep up)."""
    tick = 0.05
    while not stop.is_set():
        started = time.monotonic()
        await asyncio.sleep(tick)
        run.client_lag_ms.append((time.monotonic() - started - tick) * 1000)
        if len(run.client_lag_ms) % 10 == 0:
            run.rss_peak = max(run.rss_peak, process.memory_info().rss)


async def open_sessions(run: Run, host: str, port: int) -> list[LiveSession]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(OPENING_AT_ONCE)
    payload = token_payload({"rate": PERIOD_MS})

    async def open_one() -> LiveSession | None:
        async with gate:
            token = mint_session(TEST_BOKEH_SECRET, int(OPEN_SECONDS), payload).token
            try:
                _, session = await loop.create_connection(lambda: LiveSession(host, port, token, run.tally), host, port)
                await asyncio.wait_for(session.pulled, OPEN_SECONDS)
            except (TimeoutError, OSError) as error:
                run.tally.failures.append(f"{type(error).__name__}: {error}")
                return None
            return session

    started = time.monotonic()
    sessions = [session for session in await asyncio.gather(*(open_one() for _ in range(run.sessions))) if session]
    run.open_seconds = time.monotonic() - started
    run.opened = len(sessions)
    return sessions


async def drive(run: Run, url: str, port: int, seconds: float) -> None:
    process = psutil.Process(healthz(url)["pid"])
    run.rss_before = run.rss_peak = process.memory_info().rss
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(process, run, stop))
    sessions = await open_sessions(run, "127.0.0.1", port)
    await asyncio.sleep(SETTLE_SECONDS)
    run.rss_open = process.memory_info().rss
    run.client_lag_ms.clear()
    cpu_before = sum(process.cpu_times()[:2])
    run.tally.measuring = True
    started = time.monotonic()
    await asyncio.sleep(seconds)
    run.tally.measuring = False
    run.measured_seconds = time.monotonic() - started
    run.server_cpu_percent = 100 * (sum(process.cpu_times()[:2]) - cpu_before) / run.measured_seconds
    run.load_average = os.getloadavg()[0]
    run.server_gc = healthz(url).get("gc", {})
    stop.set()
    await watcher
    collected = healthz(url)["gc"]["heap_collections"]
    for session in sessions:
        session.close()
    # The server discards the sessions, then collects what they left (tuned: a while later).
    await server_state(url, lambda health: health["sessions"].get("stream", 0) == 0, "discarded the sessions")
    await server_state(url, lambda health: health["gc"]["heap_collections"] > collected, "collected the heap")
    run.rss_after = process.memory_info().rss


async def server_state(url: str, reached, what: str) -> None:
    deadline = time.monotonic() + DISCARD_SECONDS
    while not reached(healthz(url)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server has not {what} after {DISCARD_SECONDS:g} s")
        await asyncio.sleep(0.5)


def measure(name: str, sessions: int, seconds: float, **env: str) -> Run:
    bokeh_port = free_port()
    environment = stack_env(
        bokeh_port,
        free_port(),
        1,
        BOKEH_UNUSED_SESSION_LIFETIME_MS="1000",
        BOKEH_CHECK_UNUSED_SESSIONS_MS="500",
        BOKEH_SERVER_LOG_LEVEL="warning",
        **env,
    )
    process_url = f"http://127.0.0.1:{environment['BOKEH_PROCESS_PORT_BASE']}"
    run = Run(name, sessions)
    with running("bokeh", procfile_commands()["bokeh"], environment, process_url + "/healthz"):
        # This client must not pause itself: its allocations are freed by reference counting.
        gc.collect()
        gc.disable()
        try:
            asyncio.run(drive(run, process_url, bokeh_port, seconds))
        finally:
            gc.enable()
    return run


def rows(run: Run) -> dict[str, float]:
    lags = run.tally.lags_ms
    opened = max(1, run.opened)
    return {
        "sessions open": run.opened,
        "opening took (s)": run.open_seconds,
        "update lag p50 (ms)": run.percentile(lags, 0.50),
        "update lag p99 (ms)": run.percentile(lags, 0.99),
        "update lag max (ms)": max(lags, default=float("nan")),
        "updates received (%)": 100 * run.tally.updates / max(1, run.expected),
        "server CPU while measured (%)": run.server_cpu_percent,
        "server full collections": run.server_gc.get("full_collections", float("nan")),
        "longest full collection (ms)": run.server_gc.get("longest_full_ms", float("nan")),
        "longest young collection (ms)": run.server_gc.get("longest_young_ms", float("nan")),
        "RSS before (MiB)": run.rss_before / MEBIBYTE,
        "RSS all open (MiB)": run.rss_open / MEBIBYTE,
        "RSS peak (MiB)": run.rss_peak / MEBIBYTE,
        "RSS after the end (MiB)": run.rss_after / MEBIBYTE,
        "memory per session (KiB)": (run.rss_open - run.rss_before) / opened / 1024,
        "client loop lag p99 (ms)": run.percentile(run.client_lag_ms, 0.99),
        "machine load average": run.load_average,
    }


def report(runs: list[Run]) -> None:
    tables = [rows(run) for run in runs]
    names = [run.name for run in runs]
    print(f"{'':32}" + "".join(f"{name:>16}" for name in names) + (f"{'ratio':>10}" if len(runs) == 2 else ""))
    for label in tables[0]:
        values = [table[label] for table in tables]
        line = f"{label:32}" + "".join(f"{value:16.1f}" for value in values)
        if len(values) == 2 and values[0]:
            line += f"{values[1] / values[0]:9.2f}x"
        print(line)
    for run in runs:
        if run.tally.failures:
            print(f"{run.name}: {len(run.tally.failures)} sessions failed to open, e.g. {run.tally.failures[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # The target is 1,000; one process here streams to about 250 at 1 Hz (see docs/benchmarks.md).
    parser.add_argument("--sessions", type=int, default=250)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--only", choices=("off", "on"), help="measure one setting only")
    options = parser.parse_args()
    print(
        f"{options.sessions} live stream sessions at {1000 / PERIOD_MS:g} Hz on one Bokeh process, "
        f"{options.seconds:g} s measured after all are open"
    )
    runs = [
        measure(f"gc tuning {setting}", options.sessions, options.seconds, BOKEH_GC_TUNING=setting)
        for setting in ("off", "on")
        if options.only in (None, setting)
    ]
    print(f"(p50 / p99 of {statistics.fmean(len(run.tally.lags_ms) for run in runs):.0f} update gaps per run)")
    report(runs)


if __name__ == "__main__":
    main()
