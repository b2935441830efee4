"""The fct_incidents distribution suite validates the rows that could fail, a sample and the table's shares:
its verdict, failing counts and shares are those of the whole table, without reading every incident."""

from __future__ import annotations

import duckdb
import pytest

from expectations import marts as mart_suites
from orchestration.lib import gx_adapter

N = 4000


@pytest.fixture
def incidents():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute(
        f"""
        CREATE TABLE marts.fct_incidents AS
        SELECT 'I' || lpad(CAST(range AS VARCHAR), 6, '0') AS incident_id, 'P' || (range % 700) AS offender_id,
               range % 3 <> 0 AS is_da, 1.5 AS severity,
               CASE WHEN range % 10 = 0 THEN 'high' WHEN range % 4 = 0 THEN 'medium' ELSE 'low' END AS severity_band,
               1 + range % 3 AS n_offences, CAST(range % 5 AS DOUBLE) AS duration_days, 'standard' AS risk_level
        FROM range({N})
        """
    )
    yield con
    con.close()


def _results(con, sql, tmp_path):
    frame = con.execute(sql).df()
    gx_adapter.activate(tmp_path / "gx")
    validation = gx_adapter.validate(
        frame, mart_suites.fct_incidents_suite(), tmp_path / "gx", "marts_fct_incidents"
    )
    by = {}
    for r in validation.results:
        key = (r.expectation_config.type, r.expectation_config.kwargs.get("column"))
        by[key] = (
            r.success,
            (r.result or {}).get("unexpected_count"),
            (r.result or {}).get("observed_value"),
        )
    return frame, by, validation.success


def _compare(con, tmp_path):
    whole_frame, whole, whole_ok = _results(con, mart_suites.fct_incidents_whole_table_sql(), tmp_path)
    frame, sampled, ok = _results(con, mart_suites.fct_incidents_frame_sql(sample_rows=100), tmp_path)
    assert ok == whole_ok
    assert sampled.keys() == whole.keys()
    for key, (success, unexpected, observed) in whole.items():
        assert sampled[key][0] == success, key
        assert sampled[key][1] == unexpected, key
        if key[0] == "expect_column_mean_to_be_between":
            assert sampled[key][2] == pytest.approx(observed, rel=1e-12), key
    return len(whole_frame), len(frame), whole_ok, whole


def test_a_clean_table_passes_on_a_sample_with_the_whole_tables_shares(incidents, tmp_path):
    whole_rows, rows, ok, _ = _compare(incidents, tmp_path)
    assert ok and whole_rows == N and rows == 100


def test_failing_rows_and_shares_give_the_whole_tables_verdict_and_counts(incidents, tmp_path):
    con = incidents
    # Two rows share an id (one beyond the sample), one band outside the set, one row with no offences, one
    # negative duration, and enough 'high' bands to breach the share bound.
    con.execute("UPDATE marts.fct_incidents SET incident_id = 'I000005' WHERE incident_id = 'I003999'")
    con.execute("UPDATE marts.fct_incidents SET severity_band = 'severe' WHERE incident_id = 'I003000'")
    con.execute("UPDATE marts.fct_incidents SET n_offences = 0 WHERE incident_id = 'I003001'")
    con.execute("UPDATE marts.fct_incidents SET duration_days = -2 WHERE incident_id = 'I003002'")
    con.execute("UPDATE marts.fct_incidents SET severity_band = 'high' WHERE incident_id < 'I001000'")
    whole_rows, rows, ok, whole = _compare(con, tmp_path)
    assert not ok and whole_rows == N
    assert rows == 100 + 2 + 1 + 1 + 1
    assert whole[("expect_column_values_to_be_unique", "incident_id")][:2] == (False, 2)
    assert whole[("expect_column_values_to_be_in_set", "severity_band")][:2] == (False, 1)
    assert whole[("expect_column_mean_to_be_between", "is_high_band")][0] is False
