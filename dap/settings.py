"""Where things are: the whole run-time configuration surface that is not Dagster run config.

Environment variables (spec: architecture.md):
  DA_EXTRACT_DIR  the raw extract folder (default: the generated demo extract, data/extracts/demo)
  DA_WAREHOUSE    the published DuckDB warehouse (default: data/warehouse.duckdb)
  DA_OUTPUT_DIR   reports, plots, audit manifests (default: reports/)
  DA_DUCKDB_MEMORY_LIMIT  DuckDB's memory limit in dbt builds (default 6GB; DuckDB's own default is 80% of
                  the machine's memory). Past it DuckDB spills to a temporary folder beside the database file
                  (``<file>.tmp``) instead of growing, so the marts of a national extract build in bounded memory.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
REFERENCE_DIR = PROJECT_ROOT / "reference"
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_EXTRACT_DIR = DATA_DIR / "extracts" / "demo"
#: The default of DA_DUCKDB_MEMORY_LIMIT; dbt_project/profiles.yml carries the same value (a test checks it).
DEFAULT_DUCKDB_MEMORY_LIMIT = "6GB"


def absolute(value: str | Path) -> Path:
    """An absolute path that does *not* follow symbolic links: the published warehouse and reports are
    links to the current version, and must be addressed by the link, never by what it points to."""
    return Path(os.path.abspath(os.path.expanduser(str(value))))


def _path_from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name, "").strip()
    return absolute(value) if value else default


def extract_dir() -> Path:
    return _path_from_env("DA_EXTRACT_DIR", DEFAULT_EXTRACT_DIR)


def warehouse_path() -> Path:
    return _path_from_env("DA_WAREHOUSE", DATA_DIR / "warehouse.duckdb")


def output_dir() -> Path:
    return _path_from_env("DA_OUTPUT_DIR", PROJECT_ROOT / "reports")


def duckdb_memory_limit() -> str:
    """DuckDB's memory limit for dbt builds (DA_DUCKDB_MEMORY_LIMIT, e.g. ``6GB``; read by the dbt profile)."""
    return os.environ.get("DA_DUCKDB_MEMORY_LIMIT", "").strip() or DEFAULT_DUCKDB_MEMORY_LIMIT
