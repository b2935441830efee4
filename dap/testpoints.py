"""Pause points for the crash-recovery tests. Inert unless ``DA_TEST_PAUSE_AT`` is set.

A test that must kill ``dap run`` in the middle of a step cannot rely on timing: it sets

    DA_TEST_PAUSE_AT      the name (or the start of the name) of the point to stop at
    DA_TEST_PAUSE_MARKER  a file the process writes its pid to when it stops there
    DA_TEST_PAUSE_SECONDS how long it then sleeps (default 600) before carrying on

waits for the marker file and sends SIGKILL. The points are every message a step logs during ``dap run``,
named ``<step key>: <message>`` (e.g. ``raw_extract: loading victims``, ``analytics__k_sweep: K=3``), and
``<step key>: warehouse opened for writing`` (``PlatformResource.connect``), and ``publish: build moved
into place`` (``dap.publication.publish``, after the build folder became a version and before the
published links are switched). Only the first matching point of a process pauses.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_AT = "DA_TEST_PAUSE_AT"
PAUSE_MARKER = "DA_TEST_PAUSE_MARKER"
PAUSE_SECONDS = "DA_TEST_PAUSE_SECONDS"

_paused = False


def reached(point: str) -> None:
    """Stop here if DA_TEST_PAUSE_AT names this point (see the module docstring); otherwise do nothing."""
    global _paused
    wanted = os.environ.get(PAUSE_AT)
    if not wanted or _paused or not point.startswith(wanted):
        return
    _paused = True
    marker = os.environ.get(PAUSE_MARKER)
    if marker:
        Path(marker).write_text(f"{os.getpid()}\n{point}\n")
    time.sleep(float(os.environ.get(PAUSE_SECONDS, "600")))
