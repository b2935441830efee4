"""Crash recovery for `dap run`: what a killed run left behind is cleared before the next run starts.

A run killed with SIGKILL (an out-of-memory kill, a power cut, ``kill -9``) cannot tidy up: its Dagster
run stays "started", a dbt it had started may still be writing the run's build, and, on an instance whose
pools are enforced per step, a pool slot it held stays claimed. ``dap run`` holds the warehouse's run lock
for as long as it runs, and the kernel releases that lock when the process dies, however it dies. So once
the next ``dap run`` holds the lock, every run recorded as in progress on the same warehouse is dead.
Before it starts, ``dap run`` therefore (``recover``):

- marks those runs failed, so that ``dap run --resume`` can re-execute them and the UI shows the truth;
- stops the processes they left behind, recognised by the run token every child process inherits
  (``DA_RUN_TOKEN``, read from ``/proc``: on Linux only);
- frees pool slots still held by runs that are no longer in progress.

It says what it did, one line each. While a run executes, ``Watchdog`` makes it give up with a clear error
when it waits longer than allowed for a pool slot, and end promptly after SIGTERM or Ctrl-C, with the
Dagster run marked failed so that it can be resumed.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

TAG_WAREHOUSE = "dap/warehouse"
TAG_TOKEN = "dap/token"
TAG_PID = "dap/pid"
TAG_HOST = "dap/host"
TAG_PROCESS_START = "dap/process_start"
TOKEN_VARIABLE = "DA_RUN_TOKEN"
STOP_GRACE_VARIABLE = "DA_STOP_GRACE_SECONDS"
DEFAULT_STOP_GRACE_SECONDS = 30.0
LEFTOVER_STOP_SECONDS = 10.0


def run_tags(warehouse: Path) -> dict[str, str]:
    """Tags that let a later run recognise this one if it dies; the token (new for every run: never the one
    this process may have inherited) is also given to every child process through the environment."""
    token = os.environ[TOKEN_VARIABLE] = uuid.uuid4().hex
    return {
        TAG_WAREHOUSE: str(warehouse),
        TAG_TOKEN: token,
        TAG_PID: str(os.getpid()),
        TAG_HOST: socket.gethostname(),
        TAG_PROCESS_START: _process_start(os.getpid()) or "",
    }


def _process_start(pid: int) -> str | None:
    """When the process started (clock ticks since boot; Linux), which tells a reused pid from the original."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def in_progress_statuses():
    from dagster import DagsterRunStatus

    return [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


def _process_alive(pid: int, started: str) -> bool:
    """Whether ``pid`` is still the process that started at ``started`` (a reused pid is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    now = _process_start(pid)
    return now is None or not started or now == started  # without /proc: assume it is


def is_dead(run, warehouse: Path) -> bool:
    """A run `dap run` started, recorded as in progress, whose process is gone. Call with the run lock of
    ``warehouse`` held: every run on that warehouse is then known to be dead."""
    tags = run.tags
    if TAG_TOKEN not in tags:
        return False
    if tags.get(TAG_WAREHOUSE) == str(warehouse):
        return True
    if tags.get(TAG_HOST) != socket.gethostname():
        return False  # another machine's run: cannot tell
    try:
        return not _process_alive(int(tags.get(TAG_PID, "")), tags.get(TAG_PROCESS_START, ""))
    except ValueError:
        return False


def leftover_processes(token: str) -> list[tuple[int, str]]:
    """(pid, command line) of the live processes started by the run with ``token`` (Linux: /proc)."""
    found = []
    needle = f"{TOKEN_VARIABLE}={token}".encode()
    for entry in Path("/proc").glob("[0-9]*") if Path("/proc").is_dir() else []:
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append((pid, command.strip()))
    return found


def _stop(pids: list[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + LEFTOVER_STOP_SECONDS
        while time.monotonic() < deadline and any(_exists(pid) for pid in pids):
            time.sleep(0.2)
        pids = [pid for pid in pids if _exists(pid)]
        if not pids:
            return


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (ended, not yet reaped by its parent) has ended
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _short(command: str, width: int = 90) -> str:
    return command if len(command) <= width else command[: width - 1] + "…"


def recover(instance, warehouse: Path, say: Callable[[str], None]) -> list[str]:
    """Mark dead runs of this warehouse failed, stop what they left running, free stale pool slots.
    Returns the ids of the runs marked failed."""
    from dagster import RunsFilter

    marked = []
    for run in instance.get_runs(filters=RunsFilter(statuses=in_progress_statuses())):
        if not is_dead(run, warehouse):
            continue
        pid = run.tags.get(TAG_PID, "?")
        instance.report_run_failed(
            run,
            f"the process of this run (pid {pid}) ended without finishing (killed or crashed); "
            "marked failed by a later dap run",
        )
        marked.append(run.run_id)
        say(
            f"run {run.run_id} was left in progress by a process that is gone (pid {pid}): marked failed "
            f"(resume it with: dap run --resume {run.run_id})"
        )
        leftovers = leftover_processes(run.tags[TAG_TOKEN])
        if leftovers:
            for pid, command in leftovers:
                say(f"  stopping process {pid} it left running: {_short(command)}")
            _stop([pid for pid, _ in leftovers])
    free_stale_slots(instance, say)
    return marked


def free_stale_slots(instance, say: Callable[[str], None]) -> int:
    """Free pool slots (claimed or pending) held by runs that are not in progress. Returns how many runs."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return 0
    holders: dict[str, set[str]] = {}
    for pool in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(pool)
        for slot in [*info.claimed_slots, *info.pending_steps]:
            holders.setdefault(slot.run_id, set()).add(pool)
    in_progress = set(in_progress_statuses())
    freed = 0
    for run_id, pools in sorted(holders.items()):
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status in in_progress:
            continue
        storage.free_concurrency_slots_for_run(run_id)
        freed += 1
        status = run.status.value if run is not None else "deleted"
        say(f"freed the slot(s) in pool {', '.join(sorted(pools))} still held by run {run_id} ({status})")
    return freed


def pool_holders(instance, pool: str, except_run: str) -> list[str]:
    """Runs holding a slot of ``pool``, other than ``except_run``."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    info = storage.get_concurrency_info(pool)
    return sorted({slot.run_id for slot in info.claimed_slots if slot.run_id != except_run})


class Watchdog:
    """A thread that ends the run when it must: ``grace`` seconds after SIGTERM/SIGINT if Dagster has not
    ended it by then, or once it has waited ``wait_timeout`` seconds for a pool slot. It marks the Dagster
    run failed with the reason, prints it, and exits (SIGTERM 143, SIGINT 130, waiting 3).

    Signals reach it through ``signal.set_wakeup_fd``: the interpreter writes every signal that has a
    Python handler (Dagster installs one for SIGTERM and SIGINT while it executes) to a pipe, even while
    the main thread is busy in native code.
    """

    def __init__(self, instance, progress, wait_timeout: float, grace: float | None = None):
        self.instance = instance
        self.progress = progress
        self.wait_timeout = wait_timeout
        self.grace = grace if grace is not None else _stop_grace_seconds()
        self.signal_received: int | None = None
        self._signal_at = 0.0
        self._stop = threading.Event()
        self._read = self._write = -1
        self._previous_wakeup = -1
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Watchdog:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        try:
            self._previous_wakeup = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        except ValueError:  # not the main thread: signals are not ours to watch
            self._previous_wakeup = None
        self._thread = threading.Thread(target=self._watch, name="dap-run-watchdog", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._previous_wakeup is not None:
            signal.set_wakeup_fd(self._previous_wakeup)
        if self._thread is not None:
            self._thread.join(timeout=5)
        os.close(self._read)
        os.close(self._write)

    def _watch(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._read], [], [], 1.0)
            if ready:
                for byte in os.read(self._read, 64):
                    if byte in (signal.SIGTERM, signal.SIGINT) and self.signal_received is None:
                        self.signal_received = byte
                        self._signal_at = time.monotonic()
                        self.progress.say(
                            f"{signal.Signals(byte).name} received: stopping the run "
                            f"(it is marked failed; resume it with dap run --resume)"
                        )
            if self._stop.is_set():
                return
            if self.signal_received is not None and time.monotonic() - self._signal_at > self.grace:
                name = signal.Signals(self.signal_received).name
                self._give_up(
                    f"stopped by {name}: the step did not end within {self.grace:g} s of the signal",
                    128 + self.signal_received,
                )
            blocked = self.progress.blocked()
            if blocked is not None and time.monotonic() - blocked[1] > self.wait_timeout:
                pool = blocked[0]
                holders = pool_holders(self.instance, pool, self.progress.run_id or "")
                self._give_up(
                    f"gave up after {self.wait_timeout:g} s waiting for a slot in pool {pool!r}, held by "
                    f"run(s) {', '.join(holders) or 'unknown'} (see `dagster instance concurrency` or the "
                    f"UI's Concurrency page; DA_WAIT_TIMEOUT sets the wait)",
                    3,
                )

    def _give_up(self, reason: str, code: int) -> None:
        run_id = self.progress.run_id
        try:
            run = self.instance.get_run_by_id(run_id) if run_id else None
            if run is not None and run.status in in_progress_statuses():
                self.instance.report_run_failed(run, reason)
                if self.instance.event_log_storage.supports_global_concurrency_limits:
                    self.instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        finally:
            self.progress.failed_outside_dagster(reason)
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            os._exit(code)


def _stop_grace_seconds() -> float:
    value = os.environ.get(STOP_GRACE_VARIABLE, "").strip()
    try:
        return float(value) if value else DEFAULT_STOP_GRACE_SECONDS
    except ValueError:
        raise ValueError(f"{STOP_GRACE_VARIABLE}={value!r} is not a number of seconds") from None
