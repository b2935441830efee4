"""Facts about a run's files, code and packages: SHA-256 of inputs and outputs, git, package versions."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from dap.extract import sha256_file  # the loader's hash, so a re-hash is computed the same way

# The packages whose versions decide what a run computes.
PINNED_PACKAGES = (
    *("da-perpetrator-platform", "dagster", "dagster-dbt", "dagster-webserver", "dbt-core", "dbt-duckdb"),
    *("duckdb", "great-expectations", "openlineage-python", "openlineage-dbt", "dagster-openlineage"),
    *("pandas", "numpy", "scipy", "scikit-learn", "statsmodels", "kmedoids", "pyarrow"),
)


def git_info(root: Path | str) -> dict[str, Any]:
    """The commit of the code that ran and whether tracked files had uncommitted changes ('unknown' when
    git or the repository is absent, e.g. in an installed copy)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.rstrip() if done.returncode == 0 else None  # porcelain lines may start with " "

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {"commit": "unknown", "dirty": "unknown", "branch": "unknown", "changed_files": []}
    status = git("status", "--porcelain", "--untracked-files=no")
    changed = [line[3:] for line in (status or "").splitlines() if line.strip()]
    return {
        "commit": commit,
        "dirty": bool(changed) if status is not None else "unknown",
        "branch": git("rev-parse", "--abbrev-ref", "HEAD") or "unknown",
        "changed_files": changed,
    }


def package_versions(names: Iterable[str] = PINNED_PACKAGES) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def code_facts(root: Path | str) -> dict[str, Any]:
    return {
        "git": git_info(root),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "packages": package_versions(),
    }


def hash_outputs(folder: Path, exclude: Iterable[Path] = ()) -> list[dict[str, Any]]:
    """Every file under ``folder`` (paths relative to it) with SHA-256 and size, sorted by path."""
    excluded = {Path(p).resolve() for p in exclude}
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []
    return [
        {"path": p.relative_to(folder).as_posix(), "sha256": sha256_file(p), "bytes": p.stat().st_size}
        for p in files
        if p.resolve() not in excluded
    ]


def text(value: Any) -> str:
    """A load-log or manifest field as text (NULL is the empty string)."""
    return "" if value is None else str(value)


def check_inputs(load_log: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The input files of a run from the raw load log (``raw._load_log``), each re-hashed now
    (``unchanged_during_run``). An optional table the extract does not have (source ``absent``) is listed
    with no file, no hash and 0 rows, so the manifest says it was looked for and not found."""
    inputs = []
    for row in load_log:
        file, recorded, rows = text(row.get("file")), text(row.get("sha256")), text(row.get("rows_read"))
        now = sha256_file(file) if file and Path(file).is_file() else ""
        inputs.append(
            {
                "table": text(row.get("table_name")),
                "source": text(row.get("source")),
                "file": file,
                "file_name": Path(file).name if file else "",
                "format": text(row.get("format")),
                "sha256": recorded,
                "rows": int(row["rows_read"]) if rows else None,
                "sha256_at_end_of_run": now,
                "unchanged_during_run": bool(now) and now == recorded if file else None,
            }
        )
    return sorted(inputs, key=lambda e: e["table"])
