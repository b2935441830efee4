"""Shared fixtures: a generated `tiny` extract and marts built from it, made once per test session.

The tests never touch what `make demo` (or any real run) keeps in ``data/`` and ``reports/``: the session
points DAGSTER_HOME, DA_WAREHOUSE, DA_OUTPUT_DIR and DA_EXTRACT_DIR at a temporary folder of its own
(tests that run the platform give their own paths anyway).

Under CI (``CI`` set to anything but ``false``/``0``), a skipped test is a failed test: CI is green only
when every test ran (the browser and PostgreSQL tests need `.ci/install-system-deps`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

_SESSION_ROOT = Path(tempfile.mkdtemp(prefix="dap-tests-"))
os.environ["DAGSTER_HOME"] = str(_SESSION_ROOT / "dagster_home")
os.environ["DA_WAREHOUSE"] = str(_SESSION_ROOT / "data" / "warehouse.duckdb")
os.environ["DA_OUTPUT_DIR"] = str(_SESSION_ROOT / "reports")
os.environ["DA_EXTRACT_DIR"] = str(_SESSION_ROOT / "no-extract")
(_SESSION_ROOT / "dagster_home").mkdir()


def pytest_sessionstart(session):
    # The definitions read dbt's manifest and never parse on import: build it once, before any test.
    from orchestration.lib.dbt_cli import prepare_manifest

    prepare_manifest()


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SESSION_ROOT, ignore_errors=True)


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and running_in_ci():
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, and under CI every test must run: {reason}"


@pytest.fixture(scope="session")
def tiny_extract(tmp_path_factory) -> Path:
    """A `tiny` synthetic extract (seed 1), Parquet."""
    from tests.helpers import generate_extract

    return generate_extract("tiny", 1, tmp_path_factory.mktemp("tiny_extract"))


@pytest.fixture(scope="session")
def tiny_warehouse(tiny_extract, tmp_path_factory) -> Path:
    """A DuckDB warehouse with raw, staging, quarantine, intermediate and marts built from `tiny_extract`."""
    from tests.helpers import build_marts

    path = tmp_path_factory.mktemp("tiny_warehouse") / "warehouse.duckdb"
    build_marts(tiny_extract, path)
    return path
