"""One shared view over TWO Bokeh processes (an owner and a relay) against its viewers on one.

Starts two Bokeh processes of the product's runtime serving ``bench/apps/ticker.py`` (one point a
second), as the supervisor would (one shared port, a port of their own each, ``APERTURE_PROCESS_COUNT=2``),
so that the view's owner runs the app and the other process relays it. Then, with the viewers of
``bench/shared_views.py`` (websockets opened as BokehJS does, from client processes of their own):

* **spread**: N viewers all on the owner, against N/2 on the owner and N/2 on the relay: update lag
  p50/p99, updates delivered, each process's CPU and CPU per viewer per update;
* **owner cost**: N/2 viewers on the owner with nobody on the relay, against the same plus N/2 on
  the relay: the owner's CPU per update should not grow with the relay's viewers (the relay is
  one more connection to it);
* **widget change**: with the N viewers spread, a viewer moves a widget (a ``PATCH-DOC``) and
  another waits for it: both on the owner, from the relay to the owner, from the owner to the relay;
  p50/p99 over ``--changes`` changes.

* **large**: ``--large`` viewers (10,000) all on one process against spread over both;
* **capacity**: the most viewers held, p99 lag under 250 ms with every update delivered, on one
  process and spread over two, stepping through ``--capacity``'s counts (each run's servers' and
  clients' CPU printed: where their sum reaches the machine's cores, the machine is the limit).

Usage: ``python bench/shared_views_across_processes.py [--viewers 1000] [--seconds 20] [--changes 60]
[--large 10000] [--capacity 2000,3000,...]``.
Both processes and the clients share this machine's cores: where the clients' CPU plus the
servers' reaches the cores, the machine is the limit, not the design (the report says the load).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import re
import statistics
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared_views import (
    CLIENT_PROCESSES,
    OPEN_SECONDS,
    SERVER,
    client_process,
    collect_outcomes,
    expected_updates,
    tokens_for,
)
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from aperture.session_token import shared_session_id
from bkruntime.view_owners import rendezvous_owner
from tests.support.servers import TEST_BOKEH_SECRET, free_port, running, stack_env

PROCESSES = 2
SETTLE_SECONDS = 3.0
# A viewer counts as held while the p99 of its update lag stays under this.
HELD_P99_MS = 250


@dataclass
class Processes:
    urls: list[str]
    pids: list[int]
    owner: int

    @property
    def relay(self) -> int:
        return 1 - self.owner

    def port(self, index: int) -> int:
        return int(self.urls[index].rsplit(":", 1)[1])

    def cpu(self) -> list[float]:
        return [sum(psutil.Process(pid).cpu_times()[:2]) for pid in self.pids]

    def patches_sent(self) -> list[float]:
        """Each process's count of update messages written to a connection (its ``/metrics``)."""
        counts = []
        for url in self.urls:
            text = requests.get(url + "/metrics", timeout=30).text
            found = re.search(r'messages_sent_total\{app="ticker",msgtype="PATCH-DOC",process="\d"\} (\S+)', text)
            counts.append(float(found.group(1)) if found else 0.0)
        return counts

    def moves(self) -> int:
        """Links lost and views handed over so far, on both processes (0 in a steady run)."""
        healths = [requests.get(url + "/healthz", timeout=30).json()["shared_views"] for url in self.urls]
        return sum(health["links_lost"] + health["views_handed_over"] for health in healths)

    def ticker_sessions(self) -> list[int]:
        return [requests.get(url + "/healthz", timeout=30).json()["sessions"].get("ticker", 0) for url in self.urls]


def start(stack: ExitStack) -> Processes:
    port = free_port()
    env = stack_env(
        port,
        free_port(),
        PROCESSES,
        BOKEH_SERVER_LOG_LEVEL="warning",
        BOKEH_UNUSED_SESSION_LIFETIME_MS="1000",
        BOKEH_CHECK_UNUSED_SESSIONS_MS="500",
        APERTURE_PROCESS_COUNT=str(PROCESSES),
    )
    base = int(env["BOKEH_PROCESS_PORT_BASE"])
    urls = [f"http://127.0.0.1:{base + index}" for index in range(PROCESSES)]
    for index, url in enumerate(urls):
        process_env = {**env, "APERTURE_PROCESS_INDEX": str(index)}
        stack.enter_context(running(f"ticker{index}", [sys.executable, str(SERVER)], process_env, url + "/healthz"))
    deadline = time.monotonic() + 120
    while not all(
        requests.get(url + "/healthz", timeout=30).json()["shared_views"]["peers_up"] == list(range(PROCESSES))
        for url in urls
    ):
        assert time.monotonic() < deadline, "the processes did not see each other"
        time.sleep(0.2)
    pids = [requests.get(url + "/healthz", timeout=30).json()["pid"] for url in urls]
    session_id = shared_session_id(TEST_BOKEH_SECRET, "ticker", {}, {})
    ports = [int(url.rsplit(":", 1)[1]) for url in urls]
    return Processes(urls, pids, ports.index(rendezvous_owner(session_id, ports)))


@dataclass
class Run:
    name: str
    layout: dict[int, int]
    seconds: float = 0.0
    opened: int = 0
    received: int = 0
    ticks: set[float] = field(default_factory=set)
    lags_ms: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    patches_sent: list[float] = field(default_factory=list)
    client_cpu_seconds: float = 0.0
    load_average: float = 0.0
    failures: list[str] = field(default_factory=list)
    closed: int = 0
    moves: int = 0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.lags_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def wait_until_discarded(processes: Processes) -> None:
    deadline = time.monotonic() + 120
    while any(processes.ticker_sessions()):
        assert time.monotonic() < deadline, "the view was not discarded"
        time.sleep(0.2)


def open_clients(processes: Processes, layout: dict[int, int]):
    """Client processes holding ``layout[i]`` viewers on process i; returns them and their queues."""
    context = multiprocessing.get_context("spawn")
    opened, go, results = context.Queue(), context.Queue(), context.Queue()
    clients = []
    total = sum(layout.values())
    for index, count in layout.items():
        if not count:
            continue
        tokens = tokens_for("shared", count)
        share = max(1, round(CLIENT_PROCESSES * count / total))
        for part in range(share):
            args = ("127.0.0.1", processes.port(index), tokens[part::share], opened, go, results)
            clients.append(context.Process(target=client_process, args=args))
    for client in clients:
        client.start()
    return clients, opened, go, results


def measure(processes: Processes, name: str, layout: dict[int, int], seconds: float, during=None) -> Run:
    wait_until_discarded(processes)
    run = Run(name, layout)
    moves_before = processes.moves()
    clients, opened, go, results = open_clients(processes, layout)
    run.opened = sum(opened.get(timeout=OPEN_SECONDS) for _ in clients)
    time.sleep(SETTLE_SECONDS)
    window_start = time.time() + 1.0
    for _ in clients:
        go.put((window_start, window_start + seconds))
    time.sleep(max(0.0, window_start - time.time()))
    before, sent_before = processes.cpu(), processes.patches_sent()
    if during is not None:
        during()
        seconds = max(seconds, time.time() - window_start)
    else:
        time.sleep(seconds)
    run.cpu_seconds = [after - was for after, was in zip(processes.cpu(), before, strict=True)]
    run.patches_sent = [after - was for after, was in zip(processes.patches_sent(), sent_before, strict=True)]
    run.load_average = os.getloadavg()[0]
    run.seconds = seconds
    collect_outcomes(run, clients, results)
    run.moves = processes.moves() - moves_before
    return run


# -- A widget moved by one viewer, seen by another ----------------------------------------------


async def _read(connection) -> tuple[dict, str]:
    """One Bokeh message: its header and its content's JSON text (buffers skipped)."""
    header = json.loads(await connection.read_message())
    await connection.read_message()  # metadata
    content = await connection.read_message()
    for _ in range(2 * header.get("num_buffers", 0)):
        await connection.read_message()
    return header, content


async def _viewer(url: str, token: str):
    """A viewer's websocket that has pulled the document; returns it and the id of its first root."""
    request = HTTPRequest(url, headers={"Origin": url.replace("ws://", "http://").rsplit("/", 2)[0]})
    connection = await websocket_connect(request, subprotocols=["bokeh", token])
    connection.protocol.set_nodelay(True)
    while True:
        header, content = await _read(connection)
        if header["msgtype"] == "ACK":
            for part in ('{"msgid":"pull","msgtype":"PULL-DOC-REQ"}', "{}", "{}"):
                await connection.write_message(part)
        elif header["msgtype"] == "PULL-DOC-REPLY":
            return connection, json.loads(content)["doc"]["roots"][0]["id"]


async def _wait_for(connection, marker: str) -> None:
    while True:
        header, content = await _read(connection)
        if header["msgtype"] == "PATCH-DOC" and marker in content:
            return


async def change_latencies(url_from: str, url_to: str, count: int) -> list[float]:
    token = tokens_for("shared", 1)[0]
    sender, model = await _viewer(url_from, token)
    receiver, _ = await _viewer(url_to, token)
    latencies = []
    for index in range(count):
        marker = f"bench-change-{time.time_ns()}-{index}"
        event = {"kind": "ModelChanged", "model": {"id": model}, "attr": "tags", "new": [marker]}
        waiting = asyncio.ensure_future(_wait_for(receiver, marker))
        started = time.perf_counter()
        for part in ({"msgid": marker, "msgtype": "PATCH-DOC"}, {}, {"events": [event]}):
            await sender.write_message(json.dumps(part))
        await asyncio.wait_for(waiting, 30)
        latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.1)
    sender.close()
    receiver.close()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


# -- Report -------------------------------------------------------------------------------------


def rows(run: Run, processes: Processes) -> dict[str, float]:
    delivered = max(1, run.received)
    updates = run.seconds  # one a second
    nan = math.nan
    owner_cpu, relay_cpu = run.cpu_seconds[processes.owner], run.cpu_seconds[processes.relay]
    on_owner, on_relay = run.layout.get(processes.owner, 0), run.layout.get(processes.relay, 0)
    return {
        "viewers on the owner": on_owner,
        "viewers on the relay": on_relay,
        "viewers open": run.opened,
        "update lag p50 (ms)": run.percentile(0.50),
        "update lag p99 (ms)": run.percentile(0.99),
        "updates delivered (%)": 100 * run.received / max(1, expected_updates(run)),
        "owner CPU (% of a core)": 100 * owner_cpu / run.seconds,
        "relay CPU (% of a core)": 100 * relay_cpu / run.seconds,
        "owner CPU per update (ms)": 1000 * owner_cpu / updates,
        "owner messages written per update": run.patches_sent[processes.owner] / updates,
        "relay messages written per update": run.patches_sent[processes.relay] / updates,
        "owner CPU per own viewer per update (us)": 1e6 * owner_cpu / (on_owner * updates) if on_owner else nan,
        "relay CPU per own viewer per update (us)": 1e6 * relay_cpu / (on_relay * updates) if on_relay else nan,
        "both CPU per viewer per update (us)": 1e6 * sum(run.cpu_seconds) / delivered,
        "clients' CPU (% of a core)": 100 * run.client_cpu_seconds / run.seconds,
        "connections closed meanwhile": run.closed,
        "views moved meanwhile": run.moves,
        "machine load average": run.load_average,
    }


def report(runs: list[Run], processes: Processes) -> None:
    tables = [rows(run, processes) for run in runs]
    width = max(22, *(len(run.name) + 2 for run in runs))
    print(f"{'':42}" + "".join(f"{run.name:>{width}}" for run in runs))
    for label in tables[0]:
        print(f"{label:42}" + "".join(f"{table[label]:{width}.1f}" for table in tables))
    for run in runs:
        if run.failures:
            print(f"{run.name}: {len(run.failures)} viewers failed to open, e.g. {run.failures[0]}")


def held(run: Run) -> bool:
    """Whether the viewers of ``run`` were held: p99 lag under the limit, every update delivered."""
    return run.percentile(0.99) < HELD_P99_MS and run.received >= expected_updates(run) and not run.failures


def large(processes: Processes, viewers: int, seconds: float) -> None:
    """``viewers`` all on one process against spread over both, side by side."""
    owner, relay, half = processes.owner, processes.relay, viewers // 2
    runs = []
    for name, layout in (
        (f"{viewers} on one", {owner: viewers, relay: 0}),
        (f"{viewers} spread", {owner: viewers - half, relay: half}),
    ):
        runs.append(measure(processes, name, layout, seconds))
        print(f"... {name}: p99 {runs[-1].percentile(0.99):.0f} ms", flush=True)
    report(runs, processes)
    one, spread = runs
    print(
        f"{viewers} viewers, spread / on one process: update lag p99 "
        f"{spread.percentile(0.99) / one.percentile(0.99):.2f}x "
        f"({spread.percentile(0.99):.0f} ms vs {one.percentile(0.99):.0f} ms)"
    )


def capacity(processes: Processes, steps: list[int], seconds: float) -> None:
    """The most viewers held (p99 < HELD_P99_MS, every update delivered) on one process and on two."""
    owner, relay = processes.owner, processes.relay
    most: dict[str, int] = {}
    for name, spread in (("one process", False), ("two processes", True)):
        most[name] = 0
        for viewers in steps:
            half = viewers // 2 if spread else 0
            run = measure(processes, f"{name} {viewers}", {owner: viewers - half, relay: half}, seconds)
            delivered = 100 * run.received / max(1, expected_updates(run))
            cpu = sum(run.cpu_seconds) + run.client_cpu_seconds
            print(
                f"... {name}, {viewers} viewers: p99 {run.percentile(0.99):.0f} ms, delivered {delivered:.2f} %, "
                f"servers {100 * sum(run.cpu_seconds) / run.seconds:.0f} % + clients "
                f"{100 * run.client_cpu_seconds / run.seconds:.0f} % of a core "
                f"({100 * cpu / run.seconds / os.cpu_count():.0f} % of the machine), load {run.load_average:.1f}",
                flush=True,
            )
            if not held(run):
                break
            most[name] = viewers
    one, two = most["one process"], most["two processes"]
    ratio = f"{two / one:.2f}x" if one else "n/a"
    print(
        f"most viewers held at p99 < {HELD_P99_MS} ms with every update delivered: one process {one}, "
        f"two processes {two} ({ratio}); steps tried: {', '.join(map(str, steps))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--changes", type=int, default=60)
    parser.add_argument("--large", type=int, default=10_000, help="one process against two at this size; 0: not run")
    parser.add_argument(
        "--capacity", default="2000,3000,4500,6000,8000,10000,13000", help="viewer counts to step through; '': none"
    )
    options = parser.parse_args()
    viewers, half = options.viewers, options.viewers // 2
    print(f"one shared view of a 1 Hz app, two Bokeh processes, {viewers} viewers, {options.seconds:g} s measured")
    with ExitStack() as stack:
        processes = start(stack)
        if options.large:
            large(processes, options.large, options.seconds)
        if options.capacity:
            capacity(processes, [int(step) for step in options.capacity.split(",")], min(options.seconds, 15.0))
        owner, relay = processes.owner, processes.relay
        plan = [
            ("all on owner", {owner: viewers, relay: 0}),
            ("spread", {owner: viewers - half, relay: half}),
            ("half, owner only", {owner: viewers - half, relay: 0}),
        ]
        runs = []
        for name, layout in plan:
            runs.append(measure(processes, name, layout, options.seconds))
            print(f"... {name}: p99 {runs[-1].percentile(0.99):.0f} ms", flush=True)
        report(runs, processes)
        one, spread, alone = (rows(run, processes) for run in runs)
        print(
            f"spread / all on owner: update lag p99 {spread['update lag p99 (ms)'] / one['update lag p99 (ms)']:.2f}x, "
            f"owner CPU {spread['owner CPU (% of a core)'] / one['owner CPU (% of a core)']:.2f}x"
        )
        print(
            "owner messages written per update with the relay's viewers / without: "
            f"{spread['owner messages written per update']:.0f} / {alone['owner messages written per update']:.0f}"
        )
        print(
            "owner CPU per update with the relay's viewers / without: "
            f"{spread['owner CPU per update (ms)'] / alone['owner CPU per update (ms)']:.2f}x "
            f"({spread['owner CPU per update (ms)']:.2f} ms vs {alone['owner CPU per update (ms)']:.2f} ms)"
        )

        own_ws = [url.replace("http://", "ws://") + "/ticker/ws" for url in processes.urls]
        latencies: dict[str, list[float]] = {}

        def probe() -> None:
            for name, source, target in (
                ("within the owner", owner, owner),
                ("relay -> owner", relay, owner),
                ("owner -> relay", owner, relay),
            ):
                latencies[name] = asyncio.run(change_latencies(own_ws[source], own_ws[target], options.changes))

        measure(processes, "changes", {owner: viewers - half, relay: half}, 1.0, during=probe)
        print(f"a widget change seen by another viewer, {viewers} viewers spread over both processes:")
        for name, values in latencies.items():
            print(f"  {name:18} p50 {percentile(values, 0.5):6.1f} ms  p99 {percentile(values, 0.99):6.1f} ms")
        base = percentile(latencies["within the owner"], 0.99)
        worst = max(percentile(latencies[name], 0.99) for name in ("relay -> owner", "owner -> relay"))
        print(f"  across processes, p99 above the same change within one process: {worst - base:+.1f} ms")
        print(f"(lag samples per run: {statistics.fmean(len(run.lags_ms) for run in runs):.0f})")


if __name__ == "__main__":
    main()
