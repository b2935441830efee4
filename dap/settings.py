"""Where things are: the whole run-time configuration surface that is not Dagster run config.

Environment variables (spec: architecture.md):
  DA_EXTRACT_DIR  the raw extract folder (default: the generated demo extract, data/extracts/demo)
  DA_WAREHOUSE    the published DuckDB warehouse (default: data/warehouse.duckdb)
  DA_OUTPUT_DIR   reports, plots, audit manifests (default: reports/)
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
REFERENCE_DIR = PROJECT_ROOT / "reference"
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_EXTRACT_DIR = DATA_DIR / "extracts" / "demo"


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
