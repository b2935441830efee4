"""`dap run` end to end on a generated extract: publication, conservation, idempotency, bad input,
concurrency (kill-and-resume: test_crash_recovery.py). Slow (real runs), offline."""

from __future__ import annotations

import shutil

import duckdb
import pyarrow.parquet as pq
import pytest

from dap import publication
from dap.digest import table_digests
from tests.e2e.conftest import make_platform

pytestmark = pytest.mark.slow


def _published_version(platform):
    return publication.current_version(publication.Layout(platform.warehouse, platform.reports))


def test_run_publishes_marts_analytics_and_reports(published):
    con = duckdb.connect(str(published.warehouse), read_only=True)
    try:
        tables = {
            f"{s}.{t}"
            for s, t in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
            ).fetchall()
        }
        for required in ("marts.fct_offences", "marts.fct_incidents", "marts.dim_offenders"):
            assert required in tables
        # nothing lost: every raw row is staged or quarantined
        mismatched = con.execute(
            "SELECT * FROM audit.audit_row_conservation WHERE rows_read <> rows_staged + rows_quarantined"
        ).fetchall()
        assert mismatched == []
    finally:
        con.close()
    assert (published.reports / "current").is_symlink()
    assert any((published.reports / "current").rglob("*.html"))


def test_corrupt_extract_fails_clearly_and_leaves_published_untouched(published, tmp_path_factory):
    broken = tmp_path_factory.mktemp("broken_extract")
    shutil.copytree(published.extract, broken, dirs_exist_ok=True)
    crimes = broken / "crimes.parquet"
    pq.write_table(pq.read_table(crimes).drop(["reported_at"]), crimes)
    before_version, before = _published_version(published), table_digests(published.warehouse)

    result = published.dap("run", "--extract", str(broken))
    assert result.returncode == 1
    assert "crimes.parquet" in result.stderr and "reported_at" in result.stderr
    assert _published_version(published) == before_version
    assert table_digests(published.warehouse) == before


def test_two_runs_started_together_finish_one_after_the_other_with_identical_tables(
    tiny_extract, tmp_path_factory
):
    platform = make_platform(tmp_path_factory, tiny_extract, "concurrent")
    logs = [platform.root / "first.log", platform.root / "second.log"]
    first, second = platform.start("run", log=logs[0]), platform.start("run", log=logs[1])
    for process in (first, second):
        process.wait(timeout=1800)
    assert first.returncode == 0 and second.returncode == 0, "\n".join(p.read_text()[-3000:] for p in logs)
    layout = publication.Layout(platform.warehouse, platform.reports)
    versions = publication.versions(layout)
    assert len(versions) == 2
    # idempotency: the same extract gives identical published tables (wall-clock columns aside)
    first_tables = table_digests(versions[0] / "warehouse.duckdb")
    assert first_tables and first_tables == table_digests(versions[1] / "warehouse.duckdb")
    import dagster as dg

    with dg.DagsterInstance.from_config(str(platform.dagster_home)) as instance:
        runs = sorted(instance.get_run_records(), key=lambda r: r.start_time)
        assert len(runs) == 2
        assert runs[0].end_time <= runs[1].start_time  # serialised, not interleaved
