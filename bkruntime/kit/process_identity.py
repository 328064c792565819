"""Which of the launcher's Bokeh processes this is: set by the supervisor, read by apps and routes.

The supervisor starts process ``i`` with ``APERTURE_PROCESS_INDEX=i``. A server run some other
way (a test building documents, a plain ``bokeh serve``) has no index.
"""

from __future__ import annotations

import os

INDEX_ENV = "APERTURE_PROCESS_INDEX"
COUNT_ENV = "APERTURE_PROCESS_COUNT"


def process_index() -> int | None:
    text = os.environ.get(INDEX_ENV, "")
    return int(text) if text.isdigit() else None


def process_count() -> int | None:
    text = os.environ.get(COUNT_ENV, "")
    return int(text) if text.isdigit() else None


def describe_process() -> str:
    """``"process 2 of 2 (pid 1234)"``, or ``"pid 1234"`` outside the launcher."""
    index, count = process_index(), process_count()
    if index is None:
        return f"pid {os.getpid()}"
    return f"process {index + 1} of {count or '?'} (pid {os.getpid()})"
