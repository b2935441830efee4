"""The dbt command line, found one way, with its environment given to dbt alone.

* ``dbt_executable()``: the dbt installed beside this Python (a virtualenv works without being activated),
  else the one on ``PATH``; the error names both places when there is none.
* ``dbt_env(warehouse)``: the environment of a dbt subprocess (this process's own is never changed): the
  warehouse dbt writes (``DA_DBT_WAREHOUSE``, read by ``profiles.yml``), no usage statistics, and this
  Python's folder first on ``PATH``.
* ``prepare_manifest()``: ``dbt parse`` when the manifest is missing or older than the dbt sources. It runs
  at defined steps (``dap run``, ``make dev``, the test session; ``python -m orchestration.lib.dbt_cli``
  by hand), never on import: importing the definitions reads the manifest and fails with that command when
  it is missing or stale.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from dap import settings

PROJECT_DIR = settings.DBT_PROJECT_DIR
PROFILES_DIR = settings.DBT_PROJECT_DIR
MANIFEST = PROJECT_DIR / "target" / "manifest.json"
PREPARE_COMMAND = "python -m orchestration.lib.dbt_cli"
_WATCHED_FOLDERS = ("models", "macros", "tests", "seeds")


class DbtNotFound(RuntimeError):
    pass


class StaleManifest(RuntimeError):
    pass


def dbt_executable() -> str:
    """The one way the platform finds dbt."""
    beside = Path(sys.executable).with_name("dbt")
    if beside.exists():
        return str(beside)
    found = shutil.which("dbt")
    if found:
        return found
    raise DbtNotFound(
        f"dbt not found: neither {beside} nor a dbt on PATH; install the platform with `make setup`"
    )


def dbt_env(warehouse: Path | str | None = None) -> dict[str, str]:
    """The environment of one dbt subprocess (a copy: ``os.environ`` is left as it is)."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    if warehouse is not None:
        env["DA_DBT_WAREHOUSE"] = str(warehouse)
    return env


def manifest_is_stale(manifest: Path | None = None) -> bool:
    """True when the manifest is missing or a dbt source (project file, model, macro, test, seed) is newer."""
    manifest = manifest or MANIFEST
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    watched = [PROJECT_DIR / "dbt_project.yml"]
    for folder in _WATCHED_FOLDERS:
        watched.extend((PROJECT_DIR / folder).rglob("*"))
    return any(p.is_file() and p.stat().st_mtime > built for p in watched)


def prepare_manifest(force: bool = False) -> Path:
    """``dbt parse`` into the project's target folder when the manifest is missing or stale (or ``force``)."""
    if force or manifest_is_stale():
        done = subprocess.run(
            [
                dbt_executable(),
                "parse",
                "--quiet",
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(PROFILES_DIR),
            ],
            env=dbt_env(),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"dbt parse failed:\n{(done.stdout + done.stderr)[-4000:]}")
    return MANIFEST


def require_manifest() -> Path:
    """The manifest, or an error that says how to build it (the definitions are read from it)."""
    if manifest_is_stale():
        state = "missing" if not MANIFEST.exists() else "older than the dbt sources"
        raise StaleManifest(
            f"the dbt manifest {MANIFEST.name} is {state}; build it with `{PREPARE_COMMAND}` "
            "(`dap run`, `make dev` and the test suite do so themselves)"
        )
    return MANIFEST


if __name__ == "__main__":
    print(prepare_manifest(force="--force" in sys.argv[1:]))
