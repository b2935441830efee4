"""The raw contract suite validates only the rows that could fail (and a sample): its verdict, failing counts
and examples are those of the whole table, without reading the whole table into memory."""

from __future__ import annotations

import duckdb
import pytest

from dap.contract import TABLES
from expectations import raw as raw_suites
from orchestration.lib import gx_adapter


@pytest.fixture
def crimes_table():
    spec = TABLES["crimes"]
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    columns = ", ".join(f"'x' AS \"{c}\"" for c in spec.column_names)
    con.execute(f'CREATE TABLE raw."crimes" AS SELECT {columns}, range AS _row_number FROM range(5000)')
    yield con, spec
    con.close()


def _validate(con, spec, tmp_path):
    frame = con.execute(raw_suites.frame_sql(spec, sample_rows=100)).df()
    gx_adapter.activate(tmp_path / "gx")
    validation = gx_adapter.validate(frame, raw_suites.suite_for(spec), tmp_path / "gx", "raw_crimes")
    return frame, {r.expectation_config.type: r for r in validation.results}, validation.success


def test_a_clean_table_passes_on_a_sample_of_its_rows(crimes_table, tmp_path):
    con, spec = crimes_table
    frame, _, success = _validate(con, spec, tmp_path)
    assert success and len(frame) == 100
    assert list(frame.columns) == [*spec.column_names, "_row_number"]


def test_repeated_and_missing_row_numbers_fail_with_their_whole_table_counts(crimes_table, tmp_path):
    con, spec = crimes_table
    # Three rows share row number 4000, one beyond the sample; one row has none.
    con.execute('UPDATE raw."crimes" SET _row_number = 4000 WHERE _row_number IN (10, 4999)')
    con.execute('UPDATE raw."crimes" SET _row_number = NULL WHERE _row_number = 20')
    frame, results, success = _validate(con, spec, tmp_path)
    assert not success
    assert len(frame) == 100 + 3 + 1
    assert results["expect_column_values_to_be_unique"].result["unexpected_count"] == 3
    assert results["expect_column_values_to_not_be_null"].result["unexpected_count"] == 1
    assert results["expect_table_columns_to_match_set"].success
