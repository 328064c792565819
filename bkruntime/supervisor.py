"""Run ``BOKEH_PROCESSES`` Bokeh server processes on one port, and keep them running.

Every process it starts (``python -m bkruntime.server_process``) listens on ``BOKEH_PORT`` with
``SO_REUSEPORT``, so the kernel spreads connections evenly over them: token sessions may land on
any process, which builds them from the token. (One socket shared by all processes spread them
badly: in a burst of websockets the first process to wake accepted nearly all of them.) Each
process also listens on a port of its own (``BOKEH_PROCESS_PORT_BASE + i``), which is how a
browser reaches the very process that built a pulled session.

It restarts a process that exits (the others keep serving the port meanwhile); one that keeps
failing right after its start is retried less and less often while another process serves, and
stops everything when none does (a port taken, an app that cannot import). It replaces processes
one at a time after ``BOKEH_RECYCLE_AFTER_SESSIONS`` sessions or above ``BOKEH_RECYCLE_ABOVE_MB``
(``bkruntime.recycling``), and on SIGTERM or SIGINT stops them all: SIGTERM to each (they drain),
then SIGKILL to whatever is left after ``STOP_SECONDS``. It first raises its soft limit of open
files to the hard one (``raise_open_file_limit``), which the processes inherit: every viewer's
websocket is a file descriptor, and the usual soft limit of 1,024 stops a process well before
the viewers a shared view can serve. Bokeh's own
``--num-procs`` forks inside the server instead, which leaves nothing to address one process by,
and orphans the children when its parent is killed.
"""

from __future__ import annotations

import logging
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from aperture.log_format import log_formatter
from aperture.signing import signing_environment
from bkruntime.kit.process_identity import COUNT_ENV, INDEX_ENV
from bkruntime.recycling import RecyclePolicy, process_health, resident_bytes
from bkruntime.settings import BokehServerSettings
from bkruntime.startup_signal import READY_FD_ENV, came_up, open_pipe

log = logging.getLogger("bkruntime.supervisor")

# Bokeh adds this variable's origins to --allow-websocket-origin on its own; it must not
# widen what BOKEH_ALLOW_WEBSOCKET_ORIGIN allows behind the settings' back.
BOKEH_OWN_ORIGIN_ENV = "BOKEH_ALLOW_WS_ORIGIN"
STOP_SECONDS = 10.0
# A process that exits this soon after its start, this many times in a row, is not coming up
# (a port taken, an app that cannot import): stop everything and say so, unless another process
# is serving, which is worth more than a clean exit; then retry it at most this often.
FAST_FAILURE_SECONDS = 10.0
FAST_FAILURES_TO_GIVE_UP = 5
LONGEST_RETRY_SECONDS = 30.0
# How often the supervisor looks at each process when recycling is on.
RECYCLE_CHECK_SECONDS = 5.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# Where the hard limit is "unlimited", the kernel still caps open files (fs.nr_open, 1,048,576 by
# default); asking for more fails.
UNLIMITED_OPEN_FILES = 1_048_576


def raise_open_file_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit; returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_OPEN_FILES if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as error:
            log.warning("cannot raise the open files limit from %d to %d: %s", soft, target, error)
    return soft


@dataclass
class ServerSlot:
    """One of the N processes: its index, the running process, and how it has been failing."""

    index: int
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    fast_failures: int = 0
    # The supervisor's end of the pipe on which the process says it came up (bkruntime.startup_signal).
    ready_pipe: int | None = None
    # When an exited process that keeps failing is to be started again (None: at once).
    retry_at: float | None = None
    # Recycling: told to drain (SIGTERM) and not yet exited; then replaced and not yet answering.
    draining: bool = False
    replacement_pending: bool = False


class Supervisor:
    """Starts, restarts and stops the Bokeh server processes of ``settings``."""

    def __init__(self, settings: BokehServerSettings) -> None:
        self.settings = settings
        self.slots = [ServerSlot(index) for index in range(settings.processes)]
        self.policy = RecyclePolicy(settings.recycle_after_sessions, settings.recycle_above_mb)

    def run(self) -> int:
        """Serve until a stop signal (exit status 0) or a process that cannot start (1)."""
        _configure_logging(self.settings.log_format)
        log.info("open files limit %d (every viewer's websocket is one)", raise_open_file_limit())
        from tornado.netutil import bind_sockets

        # Fail with one line, before starting anything, when another program holds the port.
        try:
            for probe in bind_sockets(self.settings.port, self.settings.address, reuse_port=True):
                probe.close()
        except OSError as error:
            log.error("cannot listen on %s:%s: %s", self.settings.address, self.settings.port, error.strerror)
            return 1
        selector, wakeup = self._install_signal_handlers()
        try:
            self._start_all()
            status = self._supervise(selector, wakeup)
        finally:
            self._stop_all(selector, wakeup)
        return status

    def _install_signal_handlers(self) -> tuple[selectors.BaseSelector, socket.socket]:
        # Handlers only wake the loop below through the wakeup socket; the work happens there.
        reader, writer = socket.socketpair()
        for end in (reader, writer):
            end.setblocking(False)
        signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        for signum in (*STOP_SIGNALS, signal.SIGCHLD):
            signal.signal(signum, lambda *_: None)
        selector = selectors.DefaultSelector()
        selector.register(reader, selectors.EVENT_READ)
        self._wakeup_writer = writer
        return selector, reader

    def _start(self, slot: ServerSlot) -> None:
        env = {key: value for key, value in os.environ.items() if key != BOKEH_OWN_ORIGIN_ENV}
        env.update(signing_environment(self.settings.secret_key))
        env.update({INDEX_ENV: str(slot.index), COUNT_ENV: str(len(self.slots))})
        if slot.ready_pipe is not None:
            os.close(slot.ready_pipe)
        slot.ready_pipe, write_end = open_pipe()
        env[READY_FD_ENV] = str(write_end)
        try:
            slot.process = subprocess.Popen(
                [sys.executable, "-m", "bkruntime.server_process"], env=env, pass_fds=(write_end,)
            )
        finally:
            os.close(write_end)
        slot.started_at = time.monotonic()
        log.info("started Bokeh process %d (pid %d)", slot.index, slot.process.pid)

    def _start_all(self) -> None:
        for slot in self.slots:
            self._start(slot)

    def _wakeup_seconds(self) -> float | None:
        """How long the loop may sleep when no signal comes (None: until one does)."""
        waits = [RECYCLE_CHECK_SECONDS] if self.policy.enabled else []
        waits += [max(0.0, slot.retry_at - time.monotonic()) for slot in self.slots if slot.retry_at is not None]
        return min(waits, default=None)

    def _on_wakeup(self) -> None:
        """Work done each time the loop wakes up, after exited processes were restarted."""
        if self.policy.enabled:
            self._recycle_one_if_due()

    def _supervise(self, selector: selectors.BaseSelector, wakeup: socket.socket) -> int:
        while True:
            for _key, _events in selector.select(self._wakeup_seconds()):
                signals = _drain(wakeup)
                if any(signum in STOP_SIGNALS for signum in signals):
                    log.info("stopping %d Bokeh process(es)", len(self.slots))
                    return 0
            for slot in self.slots:
                if slot.process is None or slot.process.poll() is None:
                    continue
                if slot.retry_at is not None:
                    if time.monotonic() >= slot.retry_at:
                        slot.retry_at = None
                        self._start(slot)
                    continue
                if not self._restart_after_exit(slot):
                    return 1
            self._on_wakeup()

    def _process_url(self, slot: ServerSlot) -> str:
        host = "127.0.0.1" if self.settings.address in ("", "0.0.0.0", "::") else self.settings.address  # noqa: S104
        return f"http://{host}:{self.settings.process_port(slot.index)}{self.settings.prefix}"

    def _recycle_one_if_due(self) -> None:
        """Tell at most one process to drain for replacement, and only while every process answers."""
        healths = {slot.index: process_health(self._process_url(slot)) for slot in self.slots}
        for slot in self.slots:
            if slot.replacement_pending and healths[slot.index] is not None:
                slot.replacement_pending = False
        busy = any(slot.draining or slot.replacement_pending for slot in self.slots)
        if busy or any(health is None for health in healths.values()):
            return
        # Oldest first: a replacement that passes the limit again soon (it takes its share of new
        # sessions at once) must not keep going before a process that passed it long ago.
        for slot in sorted(self.slots, key=lambda slot: slot.started_at):
            health = healths[slot.index]
            reason = self.policy.reason(int(health.get("sessions_created", 0)), resident_bytes(slot.process.pid))
            if reason:
                log.info("recycling Bokeh process %d (pid %d): %s", slot.index, slot.process.pid, reason)
                slot.draining = True
                slot.process.send_signal(signal.SIGTERM)
                return

    def _restart_after_exit(self, slot: ServerSlot) -> bool:
        """Restart ``slot``'s exited process; False when it keeps failing at startup."""
        code = slot.process.returncode if slot.process is not None else 0
        lived = time.monotonic() - slot.started_at
        if slot.draining:
            log.info("Bokeh process %d drained and exited (after %.1f s); starting its replacement", slot.index, lived)
            slot.draining, slot.replacement_pending = False, True
            self._start(slot)
            return True
        # A process that came up and was then killed (kill -9, the OOM killer) did not fail to start.
        started_and_failed = lived < FAST_FAILURE_SECONDS and not came_up(slot.ready_pipe)
        slot.ready_pipe = None
        slot.fast_failures = slot.fast_failures + 1 if started_and_failed else 0
        if slot.fast_failures >= FAST_FAILURES_TO_GIVE_UP:
            if not self._another_serves(slot):
                log.error(
                    "Bokeh process %d exited %d times within %g s of starting (last status %s); giving up",
                    slot.index,
                    slot.fast_failures,
                    FAST_FAILURE_SECONDS,
                    code,
                )
                return False
            delay = min(LONGEST_RETRY_SECONDS, 2.0 ** (slot.fast_failures - FAST_FAILURES_TO_GIVE_UP + 1))
            log.error(
                "Bokeh process %d exited %d times within %g s of starting (last status %s); the others keep"
                " serving, trying it again in %g s",
                slot.index,
                slot.fast_failures,
                FAST_FAILURE_SECONDS,
                code,
                delay,
            )
            slot.retry_at = time.monotonic() + delay
            return True
        log.warning("Bokeh process %d exited with status %s after %.1f s; restarting it", slot.index, code, lived)
        if slot.fast_failures:
            # Do not spin on a process that fails at once; the others keep serving meanwhile.
            time.sleep(min(2.0, 0.25 * slot.fast_failures))
        self._start(slot)
        return True

    def _another_serves(self, failing: ServerSlot) -> bool:
        """Whether a process other than ``failing``'s runs and has outlived its start."""
        now = time.monotonic()
        return any(
            slot is not failing
            and slot.process is not None
            and slot.process.poll() is None
            and now - slot.started_at >= FAST_FAILURE_SECONDS
            for slot in self.slots
        )

    def _stop_all(self, selector: selectors.BaseSelector, wakeup: socket.socket) -> None:
        running = [slot.process for slot in self.slots if slot.process is not None and slot.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while any(process.poll() is None for process in running) and time.monotonic() < deadline:
            # SIGCHLD wakes this as soon as a process exits.
            selector.select(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
            _drain(wakeup)
        for process in running:
            if process.poll() is None:
                log.warning("Bokeh process pid %d did not stop within %g s; killing it", process.pid, STOP_SECONDS)
                process.kill()
                process.wait()
        signal.set_wakeup_fd(-1)
        selector.close()
        wakeup.close()
        self._wakeup_writer.close()


def _drain(wakeup: socket.socket) -> list[int]:
    received = []
    while True:
        try:
            data = wakeup.recv(512)
        except BlockingIOError:
            return received
        if not data:
            return received
        received.extend(data)


def _configure_logging(log_format: str) -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(log_formatter(log_format))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
