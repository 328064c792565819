"""Live 1 Hz viewers on ONE Bokeh process: one shared view for all, or a session per viewer.

Starts one Bokeh process of the product's runtime serving a minimal app (``bench/apps/ticker.py``:
one point a second, rollover 100), then opens N websockets the way BokehJS does (the token as
subprotocol, ACK, PULL-DOC) from client processes of their own, and listens for a while. Every
point carries the server's clock, so an update's lag is its arrival time less the time the
server's callback made it. Reports per run: p50/p99 lag, the share of the updates due that arrived,
the server's CPU, its resident memory and memory per viewer, CPU per viewer per update, and the
clients' own CPU (they must not be the bottleneck).

Usage: ``python bench/shared_views.py [--runs shared:1000,shared:3000,per_visitor:1000] [--seconds 30]``;
the modes ``bokeh_shared`` and ``bokeh_per_visitor`` are the same with Bokeh's own update path
(a message made and serialised per connection) instead of the product's.

The floor: ``bare_raw`` is the same viewers on bare Tornado websockets with no Bokeh
(``bench/apps/bare_websockets_server.py``), sent an update of the same shape and size with one
``socket.send`` each; a shared view's cost above it (CPU per viewer per update, memory per viewer)
is the fan-out's own, the rest being what any Tornado websocket and the kernel's socket write
cost. ``bare_tornado`` is the same with ``write_message`` per viewer, as a plain Tornado server
would send.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import re
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aperture.session_token import mint_session, mint_token, shared_session_id, token_payload
from tests.support.servers import TEST_BOKEH_SECRET, free_port, running, stack_env

SERVER = Path(__file__).resolve().parent / "apps" / "ticker_server.py"
BARE_SERVER = Path(__file__).resolve().parent / "apps" / "bare_websockets_server.py"
CLIENT_PROCESSES = 4
OPENING_AT_ONCE = 32
SETTLE_SECONDS = 5.0
OPEN_SECONDS = 600.0
MEBIBYTE = 2**20
_POINT_TIME = re.compile(rb'\["t",\[([0-9.e+]+)\]')
_MSGTYPE = re.compile(rb'"msgtype":\s*"([A-Z-]+)"')
_NUM_BUFFERS = re.compile(rb'"num_buffers":\s*(\d+)')


def frame(opcode: int, payload: bytes) -> bytes:
    """One masked client frame (a client masks everything it sends)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = bytes([0x80 | opcode, 0x80 | size])
    else:
        head = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return head + mask + masked


PULL_DOC_REQ = b"".join(frame(0x1, part) for part in (b'{"msgid":"1","msgtype":"PULL-DOC-REQ"}', b"{}", b"{}"))


class Viewer(asyncio.Protocol):
    """A websocket that pulls the document like BokehJS and notes when each streamed point arrives."""

    def __init__(self, host: str, port: int, token: str, tally: dict) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        self.request = (
            f"GET /ticker/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{host}:{port}\r\n"
            f"Sec-WebSocket-Protocol: bokeh, {token}\r\n\r\n"
        ).encode()
        self.tally = tally
        self.pulled = asyncio.get_running_loop().create_future()
        self.transport = None
        self._pending = b""
        self._upgraded = False
        self._parts_left = 0
        self._part = 0
        self._msgtype = ""

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        if not self.pulled.done():
            self.pulled.set_exception(ConnectionError(f"closed before the document arrived: {exc}"))
        else:
            self.tally["closed"] += 1

    def data_received(self, data: bytes) -> None:
        # Frames are read in place, by offsets into what arrived: the clients share the machine's
        # cores with the servers they measure, so each message should cost them little.
        now = time.time()
        if self._pending:
            data, self._pending = self._pending + data, b""
        start, total = 0, len(data)
        if not self._upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self._pending = data
                return
            if b" 101 " not in data[:20]:
                self.pulled.set_exception(ConnectionError(data[:80].decode(errors="replace")))
                self.transport.close()
                return
            start, self._upgraded = end + 4, True
        while total - start >= 2:
            size, offset = data[start + 1] & 0x7F, start + 2
            if size == 126:
                if total - start < 4:
                    break
                size, offset = int.from_bytes(data[start + 2 : start + 4], "big"), start + 4
            elif size == 127:
                if total - start < 10:
                    break
                size, offset = int.from_bytes(data[start + 2 : start + 10], "big"), start + 10
            if total < offset + size:
                break
            self._on_frame(data[start] & 0x0F, data, offset, offset + size, now)
            start = offset + size
        if start < total:
            self._pending = data[start:]

    def _on_frame(self, opcode: int, data: bytes, begin: int, end: int, now: float) -> None:
        if opcode == 0x9:
            self.transport.write(frame(0xA, data[begin:end]))
            return
        if opcode == 0x8:
            self.transport.close()
            return
        if self._parts_left == 0:  # a header starts a message
            msgtype, buffers = _MSGTYPE.search(data, begin, end), _NUM_BUFFERS.search(data, begin, end)
            self._msgtype = msgtype.group(1).decode() if msgtype else ""
            self._parts_left, self._part = 3 + 2 * (int(buffers.group(1)) if buffers else 0), 0
        self._parts_left -= 1
        self._part += 1
        if self._part != 3:
            return
        if self._msgtype == "ACK":
            self.transport.write(PULL_DOC_REQ)
        elif self._msgtype == "PULL-DOC-REPLY" and not self.pulled.done():
            self.pulled.set_result(None)
        elif self._msgtype == "PATCH-DOC":
            point = _POINT_TIME.search(data, begin, end)
            if point is not None:
                made = float(point.group(1)) / 1000
                if self.tally["from"] <= made < self.tally["until"]:
                    self.tally["received"] += 1
                    self.tally["ticks"].add(made)
                    self.tally["lags_ms"].append((now - made) * 1000)


def client_process(host: str, port: int, tokens: list[str], opened, go, results) -> None:
    """One client process: open ``tokens``' websockets, say so, listen in the window ``go`` gives."""
    # Every websocket is a file descriptor.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tally = {"received": 0, "lags_ms": [], "closed": 0, "failures": [], "from": float("inf"), "until": 0.0}
    tally["ticks"] = set()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(OPENING_AT_ONCE)

        async def open_one(token: str):
            async with gate:
                try:
                    _, viewer = await loop.create_connection(lambda: Viewer(host, port, token, tally), host, port)
                    await asyncio.wait_for(viewer.pulled, OPEN_SECONDS)
                    return viewer
                except (OSError, TimeoutError, ConnectionError) as error:
                    tally["failures"].append(f"{type(error).__name__}: {error}")
                    return None

        viewers = [viewer for viewer in await asyncio.gather(*(open_one(token) for token in tokens)) if viewer]
        opened.put(len(viewers))
        window = await loop.run_in_executor(None, go.get)
        tally["from"], tally["until"] = window
        cpu_before = sum(psutil.Process().cpu_times()[:2])
        await asyncio.sleep(max(0.0, window[1] - time.time()) + 2.0)  # updates of the window's end in flight
        cpu = sum(psutil.Process().cpu_times()[:2]) - cpu_before
        for viewer in viewers:
            viewer.transport.close()
        results.put({**tally, "cpu_seconds": cpu, "from": window[0], "until": window[1]})

    uvloop_run(run())


def uvloop_run(main) -> None:
    """``asyncio.run`` on uvloop's event loop where it is installed (``.[bench]``): the clients share
    the machine's cores with the servers they measure, and asyncio's own loop costs them 1.5-2x
    as much per message."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


@dataclass
class Run:
    mode: str
    viewers: int
    opened: int = 0
    open_seconds: float = 0.0
    seconds: float = 0.0
    lags_ms: list[float] = field(default_factory=list)
    received: int = 0
    ticks: set[float] = field(default_factory=set)
    closed: int = 0
    failures: list[str] = field(default_factory=list)
    server_cpu_seconds: float = 0.0
    client_cpu_seconds: float = 0.0
    rss_before: int = 0
    rss_open: int = 0
    sessions: int = 0
    load_average: float = 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.lags_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")

    @property
    def expected(self) -> int:
        return expected_updates(self)


def expected_updates(run) -> int:
    """Updates due in ``run``'s window: each viewer should get every point the app made in it
    (the points any viewer received; one a second when none arrived)."""
    return run.opened * (len(run.ticks) or round(run.seconds))


def tokens_for(mode: str, viewers: int) -> list[str]:
    if mode in ("per_visitor", "bokeh_per_visitor"):
        payload = token_payload({}, app="ticker")
        return [mint_session(TEST_BOKEH_SECRET, int(OPEN_SECONDS), payload).token for _ in range(viewers)]
    session_id = shared_session_id(TEST_BOKEH_SECRET, "ticker", {}, {})
    payload = token_payload({}, app="ticker", shared=True)
    return [mint_token(session_id, TEST_BOKEH_SECRET, int(OPEN_SECONDS), payload) for _ in range(viewers)]


def measure(mode: str, viewers: int, seconds: float) -> Run:
    port = free_port()
    env = stack_env(
        port,
        free_port(),
        1,
        BOKEH_SERVER_LOG_LEVEL="warning",
        # The startup self-check's session is gone before the measurement.
        BOKEH_UNUSED_SESSION_LIFETIME_MS="1000",
        BOKEH_CHECK_UNUSED_SESSIONS_MS="500",
        APERTURE_PROCESS_INDEX="0",
        APERTURE_PROCESS_COUNT="1",
        TICKER_BOKEH_SEND_PATH="true" if mode.startswith("bokeh_") else "false",
    )
    own_url = f"http://127.0.0.1:{env['BOKEH_PROCESS_PORT_BASE']}"
    argv = [sys.executable, str(SERVER)]
    if mode.startswith("bare_"):
        own_url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, str(BARE_SERVER), str(port), mode.removeprefix("bare_")]
    run = Run(mode, viewers)
    with running(mode, argv, env, own_url + "/healthz"):
        server = psutil.Process(requests.get(own_url + "/healthz", timeout=30).json()["pid"])
        run.rss_before = server.memory_info().rss
        tokens = tokens_for(mode, viewers)
        context = multiprocessing.get_context("spawn")
        opened, go, results = context.Queue(), context.Queue(), context.Queue()
        shares = [tokens[index::CLIENT_PROCESSES] for index in range(CLIENT_PROCESSES)]
        clients = [
            context.Process(target=client_process, args=("127.0.0.1", port, share, opened, go, results))
            for share in shares
        ]
        started = time.monotonic()
        for client in clients:
            client.start()
        run.opened = sum(opened.get(timeout=OPEN_SECONDS) for _ in clients)
        run.open_seconds = time.monotonic() - started
        time.sleep(SETTLE_SECONDS)
        run.rss_open = server.memory_info().rss
        health = requests.get(own_url + "/healthz", timeout=30).json()
        run.sessions = health["sessions"].get("ticker", 0) if "sessions" in health else 0
        window_start = time.time() + 1.0
        window = (window_start, window_start + seconds)
        for _ in clients:
            go.put(window)
        time.sleep(max(0.0, window_start - time.time()))
        cpu_before = sum(server.cpu_times()[:2])
        time.sleep(seconds)
        run.server_cpu_seconds = sum(server.cpu_times()[:2]) - cpu_before
        run.load_average = os.getloadavg()[0]
        run.seconds = seconds
        collect_outcomes(run, clients, results)
    return run


def collect_outcomes(run, clients, results) -> None:
    """Add each client process's outcome (lags, updates received, failures, CPU) to ``run``."""
    for _ in clients:
        outcome = results.get(timeout=OPEN_SECONDS)
        run.lags_ms += outcome["lags_ms"]
        run.received += outcome["received"]
        run.ticks |= outcome["ticks"]
        run.closed += outcome["closed"]
        run.failures += outcome["failures"]
        run.client_cpu_seconds += outcome["cpu_seconds"]
    for client in clients:
        client.join(timeout=60)


def rows(run: Run) -> dict[str, float]:
    viewers = max(1, run.opened)
    delivered = max(1, run.received)
    return {
        "viewers open": run.opened,
        "documents on the server": run.sessions,
        "opening took (s)": run.open_seconds,
        "update lag p50 (ms)": run.percentile(0.50),
        "update lag p99 (ms)": run.percentile(0.99),
        "updates delivered (%)": 100 * run.received / max(1, run.expected),
        "server CPU (% of a core)": 100 * run.server_cpu_seconds / run.seconds,
        "server RSS before (MiB)": run.rss_before / MEBIBYTE,
        "server RSS all open (MiB)": run.rss_open / MEBIBYTE,
        "memory per viewer (KiB)": (run.rss_open - run.rss_before) / viewers / 1024,
        "CPU per viewer per update (us)": 1e6 * run.server_cpu_seconds / delivered,
        "clients' CPU (% of a core)": 100 * run.client_cpu_seconds / run.seconds,
        "connections closed meanwhile": run.closed,
        "machine load average": run.load_average,
    }


def report(runs: list[Run]) -> None:
    tables = [rows(run) for run in runs]
    names = [f"{run.mode} {run.viewers}" for run in runs]
    width = max(20, *(len(name) + 2 for name in names))
    print(f"{'':34}" + "".join(f"{name:>{width}}" for name in names))
    for label in tables[0]:
        print(f"{label:34}" + "".join(f"{table[label]:{width}.1f}" for table in tables))
    for run in runs:
        if run.failures:
            print(f"{run.mode} {run.viewers}: {len(run.failures)} viewers failed to open, e.g. {run.failures[0]}")
    by_size: dict[int, dict[str, Run]] = {}
    for run in runs:
        by_size.setdefault(run.viewers, {})[run.mode] = run
    for size, modes in sorted(by_size.items()):
        if "shared" in modes and "per_visitor" in modes:
            shared, own = rows(modes["shared"]), rows(modes["per_visitor"])
            print(
                f"{size} viewers, per visitor / shared: memory per viewer "
                f"{own['memory per viewer (KiB)'] / max(0.1, shared['memory per viewer (KiB)']):.1f}x, "
                f"CPU per viewer per update "
                f"{own['CPU per viewer per update (us)'] / shared['CPU per viewer per update (us)']:.1f}x"
            )
        if "shared" in modes and "bare_raw" in modes:
            shared, bare = rows(modes["shared"]), rows(modes["bare_raw"])
            cpu = "CPU per viewer per update (us)"
            memory = "memory per viewer (KiB)"
            print(
                f"{size} viewers, the fan-out's own cost (shared view less bare websockets): "
                f"CPU {shared[cpu] - bare[cpu]:.1f} us per viewer per update ({shared[cpu]:.1f} - {bare[cpu]:.1f}), "
                f"memory {shared[memory] - bare[memory]:.1f} KiB per viewer ({shared[memory]:.1f} - {bare[memory]:.1f})"
            )
        if "bare_raw" in modes and "bare_tornado" in modes:
            raw, plain = rows(modes["bare_raw"]), rows(modes["bare_tornado"])
            print(
                f"{size} viewers, bare websockets, write_message per viewer / one send per viewer: CPU per viewer "
                f"per update {plain['CPU per viewer per update (us)'] / raw['CPU per viewer per update (us)']:.1f}x"
            )
        for ours, bokehs in (("shared", "bokeh_shared"), ("per_visitor", "bokeh_per_visitor")):
            if ours in modes and bokehs in modes:
                fast, slow = rows(modes[ours]), rows(modes[bokehs])
                print(
                    f"{size} viewers, {ours}: Bokeh's update path / ours, CPU per viewer per update "
                    f"{slow['CPU per viewer per update (us)'] / fast['CPU per viewer per update (us)']:.1f}x, "
                    f"delivered {slow['updates delivered (%)']:.1f} % vs {fast['updates delivered (%)']:.1f} %"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", default="shared:1000,per_visitor:1000,bare_raw:1000,bare_tornado:1000,shared:3000,bare_raw:3000"
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    options = parser.parse_args()
    plan = [(mode, int(count)) for mode, count in (entry.split(":") for entry in options.runs.split(","))]
    print(f"live viewers of a 1 Hz app on one Bokeh process, {options.seconds:g} s measured after all are open")
    runs = []
    for mode, count in plan:
        runs.append(measure(mode, count, options.seconds))
        print(f"... {mode} {count}: p99 {runs[-1].percentile(0.99):.0f} ms", flush=True)
    report(runs)
    print(f"(lags: {statistics.fmean(len(run.lags_ms) for run in runs):.0f} updates per run on average)")


if __name__ == "__main__":
    main()
