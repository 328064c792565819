"""How long the Bokeh server freezes while it discards expired sessions: Bokeh's way vs ours.

Runs a Bokeh server with the ``sliders`` app in this process, creates N sessions (as pull-path
page views that no browser follows do: ``web.embedding.bokeh_pull.pull_and_change``), lets them expire,
and times the server's cleanup pass, during which it answers nothing. First with Bokeh as it
ships, then after ``bkruntime.session_cleanup.install()`` (what each Bokeh process does).
Usage: ``python bench/session_cleanup.py [sessions]`` (default 30; the freeze grows faster than N).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bokeh.application import Application
from bokeh.application.handlers import DirectoryHandler
from bokeh.server.server import Server

from aperture.catalog import CATALOG
from aperture.session_token import mint_session, token_payload
from bkruntime import session_cleanup
from tests.support.servers import TEST_BOKEH_SECRET, free_port
from web.embedding.bokeh_pull import pull_and_change


def create_sessions(url: str, count: int) -> None:
    """Open ``count`` sessions as the site's pull path does (token minted here), and leave them."""
    for _ in range(count):
        grant = mint_session(TEST_BOKEH_SECRET, 300, token_payload({}))
        pull_and_change(url, grant, lambda doc: None, timeout=30, app_title="Sliders")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    port = free_port()
    app = Application(DirectoryHandler(filename=str(CATALOG["sliders"].path)))
    server = Server(
        {"/sliders": app},
        port=port,
        address="127.0.0.1",
        secret_key=TEST_BOKEH_SECRET.encode(),
        sign_sessions=True,
        unused_session_lifetime_milliseconds=1,
        check_unused_sessions_milliseconds=3_600_000,  # cleanup runs only when this bench says
    )
    server.start()
    loop = server.io_loop
    results: dict[str, float] = {}

    def timed_cleanup() -> float:
        done = threading.Event()
        elapsed: list[float] = []

        async def cleanup() -> None:
            started = time.perf_counter()
            await server._tornado._cleanup_sessions()
            elapsed.append(time.perf_counter() - started)
            done.set()

        loop.add_callback(cleanup)
        done.wait()
        return elapsed[0]

    def drive() -> None:
        url = f"http://127.0.0.1:{port}/sliders"
        for name in ("bokeh as shipped", "session_cleanup"):
            if name == "session_cleanup":
                session_cleanup.install()
            create_sessions(url, count)
            time.sleep(0.1)  # let every session pass its 1 ms unused lifetime
            results[name] = timed_cleanup()
            loop.add_callback(gc.collect)
        loop.add_callback(loop.stop)

    threading.Thread(target=drive, daemon=True).start()
    asyncio.set_event_loop(loop.asyncio_loop)
    loop.start()

    print(f"discarding {count} expired sessions of the sliders app in one cleanup pass")
    for name, seconds in results.items():
        print(f"{name:<18} server frozen {seconds * 1000:8.0f} ms  ({seconds / count * 1000:.2f} ms per session)")
    shipped, ours = results["bokeh as shipped"], results["session_cleanup"]
    print(f"ratio shipped/ours: {shipped / ours:.0f}x")


if __name__ == "__main__":
    main()
