"""Atomic publication of a run's warehouse and reports.

A run builds into its own folder, ``<warehouse>.builds/<root run id>/`` (``warehouse.duckdb`` and
``reports/``), never into the published files. When every blocking check has passed, the build folder
becomes a version under ``<warehouse>.versions/<version id>/`` and two symbolic links are switched with
an atomic rename:

    DA_WAREHOUSE               -> <warehouse>.versions/<version>/warehouse.duckdb
    DA_OUTPUT_DIR/current      -> <warehouse>.versions/<version>/reports

Readers therefore always see a complete version. The last ``keep`` versions stay for ``dap rollback``.
A failed run leaves its build folder (for re-execution from failure) and the published links untouched.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dap import testpoints

DEFAULT_KEEP_VERSIONS = 5
RUN_ID_PLACEHOLDER = "{run_id}"
WAIT_TIMEOUT_VARIABLE = "DA_WAIT_TIMEOUT"
DEFAULT_WAIT_TIMEOUT_SECONDS = 3600.0
# In a version folder: the publication that moved it there was interrupted before the links were switched.
PUBLISHING_MARKER = "PUBLISHING"


class LockTimeout(TimeoutError):
    """Waited longer than allowed for another process to release a lock."""


def wait_timeout_seconds() -> float:
    """How long anything waits for another run before giving up: $DA_WAIT_TIMEOUT seconds (default 1 h)."""
    value = os.environ.get(WAIT_TIMEOUT_VARIABLE, "").strip()
    try:
        return float(value) if value else DEFAULT_WAIT_TIMEOUT_SECONDS
    except ValueError:
        raise ValueError(f"{WAIT_TIMEOUT_VARIABLE}={value!r} is not a number of seconds") from None


@dataclass(frozen=True)
class Layout:
    """Where a published warehouse keeps its builds and versions."""

    published_warehouse: Path
    published_output_dir: Path

    @property
    def builds_dir(self) -> Path:
        return self.published_warehouse.with_name(self.published_warehouse.name + ".builds")

    @property
    def versions_dir(self) -> Path:
        return self.published_warehouse.with_name(self.published_warehouse.name + ".versions")

    @property
    def reports_link(self) -> Path:
        return self.published_output_dir / "current"

    @property
    def lock_file(self) -> Path:
        return self.published_warehouse.with_name(self.published_warehouse.name + ".lock")

    def build_dir(self, run_id: str) -> Path:
        return self.builds_dir / run_id


def lock_holder(lock_file: Path) -> str:
    """What the process holding ``lock_file`` wrote about itself ("" if nothing)."""
    try:
        return lock_file.read_text().strip()
    except OSError:
        return ""


@contextmanager
def exclusive_lock(
    lock_file: Path,
    wait: bool = True,
    timeout: float | None = None,
    holder: str = "",
    on_wait: Callable[[str], None] | None = None,
):
    """One writer at a time: an advisory lock on a file beside the warehouse.

    The kernel releases the lock when its process ends, however it ends (kill -9 included), so a crashed
    run never leaves it behind. ``wait=False`` raises BlockingIOError at once if another process holds it;
    otherwise ``on_wait`` is told who holds it (what that process wrote as ``holder``) and LockTimeout is
    raised after ``timeout`` seconds (None: the $DA_WAIT_TIMEOUT default).
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise
            limit = wait_timeout_seconds() if timeout is None else timeout
            if on_wait:
                on_wait(lock_holder(lock_file))
            deadline = time.monotonic() + limit
            while True:
                time.sleep(0.5)
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeout(
                            f"gave up after {limit:g} s waiting for {lock_file}, held by: "
                            f"{lock_holder(lock_file) or 'another process'}"
                        ) from None
        try:
            if holder:
                handle.seek(0)
                handle.truncate()
                handle.write(holder + "\n")
                handle.flush()
            yield
        finally:
            if holder:
                handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _publication_lock(layout: Layout, what: str):
    """The short lock around switching the published links (held for file renames only)."""

    def waiting(holder: str) -> None:
        print(
            f"waiting for the publication lock {layout.lock_file} ({holder or 'holder unknown'})",
            file=sys.stderr,
        )

    return exclusive_lock(layout.lock_file, holder=f"{what} (pid {os.getpid()})", on_wait=waiting)


def _switch_link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.switch-{os.getpid()}")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(target, link.parent), tmp)
    os.replace(tmp, link)  # atomic on POSIX


def prepare_build(layout: Layout, run_id: str) -> Path:
    """The run's build folder; a new one starts from a copy of the published warehouse (if any), so that
    a partial materialisation (one asset from the UI) still sees everything upstream of it."""
    build = layout.build_dir(run_id)
    warehouse = build / "warehouse.duckdb"
    interrupted = None if warehouse.exists() else _interrupted_publication(layout, run_id)
    if interrupted is not None:
        # The run was killed while publishing: its build had become a version, but the links were not
        # switched. Take the build back, so that re-executing the publication publishes this run's data.
        with _publication_lock(layout, f"taking back the interrupted publication of run {run_id}"):
            if build.exists():  # only what this re-execution wrote so far (its log): keep it
                for path in sorted(build.rglob("*"), reverse=True):
                    target = interrupted / path.relative_to(build)
                    if path.is_file():
                        target.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(path, target)
                shutil.rmtree(build)
            os.replace(interrupted, build)
            (build / PUBLISHING_MARKER).unlink(missing_ok=True)
    if not warehouse.exists():
        build.mkdir(parents=True, exist_ok=True)
        (build / "reports").mkdir(exist_ok=True)
        published = layout.published_warehouse
        if published.exists():
            shutil.copyfile(published.resolve(), warehouse)
    return build


def publish(
    layout: Layout, build_dir: Path, run_id: str, keep: int = DEFAULT_KEEP_VERSIONS, info: dict | None = None
) -> Path:
    """Make ``build_dir`` the published version (atomically) and prune old versions. Returns the version folder."""
    with _publication_lock(layout, f"publishing run {run_id}"):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        version = layout.versions_dir / f"{stamp}_{run_id[:8]}"
        layout.versions_dir.mkdir(parents=True, exist_ok=True)
        wal = build_dir / "warehouse.duckdb.wal"
        if wal.exists():
            raise RuntimeError(f"{wal} exists: the warehouse was not closed cleanly; not publishing")
        (build_dir / "version.json").write_text(
            json.dumps(
                {"version": version.name, "run_id": run_id, "published_at": stamp, **(info or {})}, indent=2
            )
        )
        (build_dir / PUBLISHING_MARKER).write_text(run_id)
        os.replace(build_dir, version)
        testpoints.reached("publish: build moved into place")
        _switch_link(layout.published_warehouse, version / "warehouse.duckdb")
        _switch_link(layout.reports_link, version / "reports")
        (version / PUBLISHING_MARKER).unlink()
        _prune(layout, keep)
        return version


def _interrupted_publication(layout: Layout, run_id: str) -> Path | None:
    """The version folder this run moved into place before it was killed, if the links never pointed to it."""
    current = current_version(layout)
    for version in versions(layout):
        marker = version / PUBLISHING_MARKER
        if marker.exists() and marker.read_text().strip() == run_id and version.resolve() != current:
            return version
    return None


def versions(layout: Layout) -> list[Path]:
    if not layout.versions_dir.exists():
        return []
    return sorted(p for p in layout.versions_dir.iterdir() if p.is_dir())


def current_version(layout: Layout) -> Path | None:
    link = layout.published_warehouse
    if not link.is_symlink():
        return None
    return link.resolve().parent


def rollback(layout: Layout, to: str | None = None) -> Path:
    """Publish an earlier version again: the one named ``to``, or the one before the current one."""
    with _publication_lock(layout, "rolling back"):
        available = versions(layout)
        current = current_version(layout)
        if to:
            matches = [v for v in available if v.name == to or v.name.startswith(to)]
            if len(matches) != 1:
                raise LookupError(
                    f"no single version matches {to!r}; versions: {[v.name for v in available]}"
                )
            target = matches[0]
        else:
            older = [v for v in available if current is None or v.name < current.name]
            if not older:
                raise LookupError("there is no earlier version to roll back to")
            target = older[-1]
        _switch_link(layout.published_warehouse, target / "warehouse.duckdb")
        _switch_link(layout.reports_link, target / "reports")
        return target


def _prune(layout: Layout, keep: int) -> None:
    current = current_version(layout)
    for old in versions(layout)[:-keep] if keep > 0 else []:
        if current is not None and old.resolve() == current.resolve():
            continue
        shutil.rmtree(old, ignore_errors=True)
