"""Helpers for tests that need real marts: load a generated extract and run dbt on a temp warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

from dap import settings
from dap.extract import LoadSummary, load_raw

DBT = Path(sys.executable).with_name("dbt")


def run_dbt(warehouse_path: Path | str, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    """Run a dbt command against ``warehouse_path`` with its own target folder (safe in parallel)."""
    env = {**os.environ, "DA_DBT_WAREHOUSE": str(warehouse_path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    with tempfile.TemporaryDirectory(prefix="dbt-target-") as target:
        result = subprocess.run(
            [
                str(DBT),
                *args,
                "--project-dir",
                str(settings.DBT_PROJECT_DIR),
                "--profiles-dir",
                str(settings.DBT_PROJECT_DIR),
                "--target-path",
                target,
                "--log-path",
                target,
            ],
            env=env,
            capture_output=True,
            text=True,
        )
    if check and result.returncode != 0:
        raise AssertionError(
            f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
        )
    return result


def build_marts(
    extract_dir: Path | str, warehouse_path: Path | str, dbt_args: list[str] | None = None
) -> LoadSummary:
    """Load ``extract_dir`` into ``raw`` of a DuckDB file and build every dbt model (with tests)."""
    con = duckdb.connect(str(warehouse_path))
    try:
        summary = load_raw(con, extract_dir)
    finally:
        con.close()
    run_dbt(warehouse_path, dbt_args or ["build", "--exclude", "test_type:unit"])
    return summary


def generate_extract(scale: str, seed: int, out_dir: Path | str, **options) -> Path:
    """Generate a synthetic extract with the project's generator (imported lazily)."""
    import synth

    synth.generate(scale, seed, Path(out_dir), **options)
    return Path(out_dir)
