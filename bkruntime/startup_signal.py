"""How a Bokeh process tells its supervisor that it came up: one byte on a pipe.

The supervisor gives up on a process that exits five times within seconds of starting: one that
cannot come up (its port taken, an app that kills it while it builds) would otherwise restart
forever. A process killed from outside after it came up and served (an operator's kill -9, the
kernel's OOM killer) is not such a process, however soon after its start it died. So each process
writes a byte to a pipe the supervisor handed it (``READY_FD_ENV``) once its startup self-check
has built an app, and the supervisor reads the pipe when the process exits: a byte there means
the process had come up, and its exit is not counted as a failure to start.
"""

from __future__ import annotations

import os

READY_FD_ENV = "APERTURE_READY_FD"


def open_pipe() -> tuple[int, int]:
    """A pipe for one process: the supervisor's end (non-blocking, to read) and the process's."""
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    return read_end, write_end


def announce_up() -> None:
    """In the Bokeh process: tell the supervisor it came up (at most once; nothing without one)."""
    fd = os.environ.pop(READY_FD_ENV, "")
    if not fd.isdigit():
        return
    try:
        os.write(int(fd), b"1")
        os.close(int(fd))
    except OSError:
        pass  # the supervisor has gone, or this process was not started by one


def came_up(read_end: int | None) -> bool:
    """In the supervisor, once the process exited: whether it announced it came up (closes the end)."""
    if read_end is None:
        return False
    try:
        return os.read(read_end, 1) == b"1"
    except OSError:
        return False
    finally:
        os.close(read_end)
