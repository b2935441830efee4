"""Shared fixtures: a generated `tiny` extract and marts built from it, made once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


def _generator_available() -> bool:
    try:
        import synth

        return hasattr(synth, "generate")
    except ImportError:
        return False


@pytest.fixture(scope="session")
def tiny_extract(tmp_path_factory) -> Path:
    """A `tiny` synthetic extract (seed 1), Parquet."""
    if not _generator_available():
        pytest.skip("the synthetic generator (synth.generate) is not available")
    from tests.helpers import generate_extract

    return generate_extract("tiny", 1, tmp_path_factory.mktemp("tiny_extract"))


@pytest.fixture(scope="session")
def tiny_warehouse(tiny_extract, tmp_path_factory) -> Path:
    """A DuckDB warehouse with raw, staging, quarantine, intermediate and marts built from `tiny_extract`."""
    from tests.helpers import build_marts

    path = tmp_path_factory.mktemp("tiny_warehouse") / "warehouse.duckdb"
    build_marts(tiny_extract, path)
    return path
