"""What `dap run` shows while it runs, and where its full log goes.

The terminal gets one line per step as it starts (elapsed time, assets materialised of the run's total,
the step), and, as they happen, warnings, failed checks, quarantined rows and anything the run waits for.
Everything else the process writes (Dagster's event log, dbt's output, library messages) goes to a file,
``<warehouse>.builds/<root run id>/logs/<run id>.log``, named in the output; the build folder becomes the
published version, so a version keeps the logs of the runs that built it. ``--verbose`` streams that full
log to the terminal as well.

The lines come from ``progress_logger``, a Dagster logger that ``dap run`` adds to the job: Dagster hands
it every event of the run, in the process that executes it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import dagster as dg

from dap import testpoints

LOGGER_NAME = "dap_progress"

# The display of the `dap run` executing in this process (None elsewhere: the logger does nothing).
ACTIVE: Progress | None = None


def root_cause(data) -> str:
    """Why a step failed: the description it gave, else the innermost error's first line (Dagster wraps
    user errors in execution errors)."""
    if data is not None and data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description.strip()
    error = data.error if data else None
    while error is not None and error.cause is not None:
        error = error.cause
    if error is not None and error.cls_name == "DagsterExecutionInterruptedError":
        return "interrupted (SIGTERM or Ctrl-C)"
    return error.message.strip().splitlines()[0] if error and error.message.strip() else "unknown error"


def _first_line(text: str, width: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


class Progress:
    """The progress display of one `dap run`: counts, the step running now, and what it waits for."""

    def __init__(self, instance, builds_dir: Path, started: float, wait_timeout: float, root_run_id=None):
        self.instance = instance
        self.builds_dir = builds_dir
        self.started = started
        self.wait_timeout = wait_timeout
        self.root_run_id = root_run_id
        self.terminal: TextIO = sys.stdout
        self.capture: LogCapture | None = None
        self.run_id: str | None = None
        self.total = 0
        self.done = 0
        self.warnings = 0
        self.quarantined = 0
        self.step: str | None = None
        self._blocked: tuple[str, float] | None = None
        self._lock = threading.Lock()

    # ── output ──
    def say(self, text: str) -> None:
        with self._lock:
            try:
                self.terminal.write(text + "\n")
                self.terminal.flush()
            except (OSError, ValueError):
                pass

    def elapsed(self) -> str:
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60:d}:{seconds % 60:02d}"

    def blocked(self) -> tuple[str, float] | None:
        """(pool, since when: time.monotonic()) while the run waits for a pool slot."""
        return self._blocked

    def failed_outside_dagster(self, reason: str) -> None:
        self.say(f"\nrun {self.run_id or '(not started)'} FAILED: {reason}")
        self.say("the published warehouse is unchanged.")
        if self.run_id:
            self.say(f"re-execute from the failure with: dap run --resume {self.run_id}")
        if self.capture is not None:
            self.say(f"full log: {self.capture.path}")

    # ── events ──
    def handle(self, meta: dict, levelno: int) -> None:
        event = meta.get("dagster_event")
        step = meta.get("step_key")
        message = meta.get("orig_message") or ""
        if self.run_id is None and meta.get("run_id"):
            self._started(meta["run_id"])
        if step:
            testpoints.reached(f"{step}: {message}")
        if event is None:
            if levelno >= logging.WARNING:
                self.warnings += 1
                self.say(f"        ! {step or 'run'}: {_first_line(message)}")
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self._blocked = None
            self.step = step
            self.say(f"{self.elapsed():>7}  {self.done:>3}/{self.total} assets  {step}")
        elif kind == "ASSET_MATERIALIZATION":
            self.done += 1
            self._quarantine(event)
        elif kind == "STEP_FAILURE":
            self.say(f"        ✗ {step} failed: {_first_line(root_cause(event.step_failure_data))}")
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                if evaluation.severity.value == "WARN":
                    self.warnings += 1
                    self.say(f"        ! check {name} failed (WARN)")
                else:
                    self.say(
                        f"        ✗ check {name} failed ({evaluation.severity.value}: blocks publication)"
                    )
        elif kind == "ENGINE_EVENT" and "blocked by limit for pool" in message:
            pool = message.rsplit("pool ", 1)[-1].strip()
            if self._blocked is None:
                self._blocked = (pool, time.monotonic())
                self.say(
                    f"        waiting for a slot in pool {pool!r}, held by another run "
                    f"(gives up after {self.wait_timeout:g} s)"
                )

    def _started(self, run_id: str) -> None:
        self.run_id = run_id
        root = self.root_run_id or run_id
        try:
            from dagster import DagsterEventType

            self.total = len(
                self.instance.get_records_for_run(
                    run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=100_000
                ).records
            )
        except Exception:  # the count is a nicety; never let it stop the run
            self.total = 0
        if self.capture is not None:
            self.capture.move(self.builds_dir / root / "logs" / f"{run_id}.log")
            self.say(f"run {run_id} started; full log: {self.capture.path}")
        else:
            self.say(f"run {run_id} started")

    def _quarantine(self, event) -> None:
        materialization = event.event_specific_data.materialization
        key = materialization.asset_key
        if not key.path or key.path[0] != "quarantine":
            return
        rows = materialization.metadata.get("dagster/row_count")
        count = int(rows.value) if rows is not None and rows.value else 0
        if count > 0:
            self.quarantined += count
            self.say(f"        quarantined {count:,} row(s) in {'.'.join(key.path)}")


class _ProgressHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        progress = ACTIVE
        meta = getattr(record, "dagster_meta", None)
        if progress is None or not isinstance(meta, dict):
            return
        try:
            progress.handle(meta, record.levelno)
        except Exception:  # the display must never stop a run: note it in the full log
            self.handleError(record)


@dg.logger(description="The progress lines of `dap run` (does nothing outside it).")
def progress_logger(init_context) -> logging.Logger:
    logger = logging.Logger(LOGGER_NAME, level=logging.DEBUG)
    logger.addHandler(_ProgressHandler())
    return logger


class LogCapture:
    """While active, everything written to this process's stdout and stderr (file descriptors 1 and 2, so
    child processes such as dbt included) goes to ``path``, and with ``verbose`` to the terminal too.
    ``terminal`` is a stream to the real stdout, for the progress lines."""

    def __init__(self, path: Path, verbose: bool, header: str = ""):
        self.path = path
        self.verbose = verbose
        self.header = header
        self.terminal: TextIO = sys.stdout

    def move(self, path: Path) -> None:
        """Rename the log file (it stays open: writing continues into the renamed file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, path)
        self.path = path

    def current_path(self, fallbacks: list[Path]) -> Path:
        """Where the log file is now (a published build has moved to its version folder)."""
        for candidate in [self.path, *fallbacks]:
            if candidate.exists():
                return candidate
        return self.path

    @contextmanager
    def active(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        log_fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if self.header:
            os.write(log_fd, self.header.encode())
        saved = os.dup(1), os.dup(2)
        terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1, encoding="utf-8", errors="replace")
        reader = None
        pipe = None
        try:
            if self.verbose:
                pipe = os.pipe()
                target = pipe[1]
                reader = threading.Thread(
                    target=_tee, args=(pipe[0], log_fd, terminal.fileno()), name="dap-run-log", daemon=True
                )
                reader.start()
            else:
                target = log_fd
            os.dup2(target, 1)
            os.dup2(target, 2)
            self.terminal = terminal
            yield self
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            if pipe is not None:
                os.close(pipe[1])
                reader.join(timeout=5)
                os.close(pipe[0])
            for fd in (*saved, log_fd):
                os.close(fd)
            self.terminal = sys.stdout
            terminal.close()


def _tee(source: int, *targets: int) -> None:
    while True:
        try:
            data = os.read(source, 65536)
        except OSError:
            return
        if not data:
            return
        for target in targets:
            try:
                os.write(target, data)
            except OSError:
                pass
