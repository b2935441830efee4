"""Helpers for tests that need real marts: load a generated extract and run dbt on a temp warehouse."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import duckdb

from dap import settings
from dap.extract import LoadSummary, load_raw
from orchestration.lib.dbt_cli import dbt_env, dbt_executable


def run_dbt(warehouse_path: Path | str, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    """Run a dbt command against ``warehouse_path`` with its own target folder (safe in parallel)."""
    with tempfile.TemporaryDirectory(prefix="dbt-target-") as target:
        result = subprocess.run(
            [
                dbt_executable(),
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
            env=dbt_env(warehouse_path),
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
