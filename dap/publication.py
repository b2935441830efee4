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
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_KEEP_VERSIONS = 5
RUN_ID_PLACEHOLDER = "{run_id}"


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


@contextmanager
def exclusive_lock(lock_file: Path, wait: bool = True):
    """One writer at a time: an advisory lock on a file beside the warehouse."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as handle:
        flags = fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB)
        fcntl.flock(handle, flags)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
    with exclusive_lock(layout.lock_file):
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
        os.replace(build_dir, version)
        _switch_link(layout.published_warehouse, version / "warehouse.duckdb")
        _switch_link(layout.reports_link, version / "reports")
        _prune(layout, keep)
        return version


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
    with exclusive_lock(layout.lock_file):
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
