"""The dbt project on hand-written raw rows (the `load_dev_fixture` macro) and on a generated `tiny` extract.

The fixture's values are small enough to compute by hand; the expected numbers below are worked out from
the rows in dbt_project/macros/dev_fixture.sql, not read back from the models.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.helpers import run_dbt


@pytest.fixture(scope="module")
def fixture_warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dbt_fixture") / "warehouse.duckdb"
    run_dbt(path, ["run-operation", "load_dev_fixture"])
    run_dbt(path, ["build"])  # models, data tests and unit tests
    return path


def _query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_every_raw_row_is_staged_or_quarantined(fixture_warehouse):
    rows = _query(
        fixture_warehouse,
        "select table_name, rows_read, rows_staged, rows_quarantined from audit.audit_row_conservation",
    )
    counts = {name: (read, staged, quarantined) for name, read, staged, quarantined in rows}
    assert counts["crimes"] == (21, 10, 11)
    assert counts["offenders"] == (14, 10, 4)
    assert all(read == staged + quarantined for read, staged, quarantined in counts.values())


def test_quarantine_names_rule_column_and_value(fixture_warehouse):
    crimes = dict(_query(fixture_warehouse, "select _row_number, rule from quarantine.qua_wmp__crimes"))
    assert crimes == {
        11: "duplicate_crime_number",
        12: "committed_to_before_committed_from",
        13: "committed_after_reported",
        14: "unparseable",
        15: "unknown_offence_code",
        16: "risk_level_not_accepted",
        17: "record_type_not_accepted",
        18: "date_in_future",
        19: "required_missing",
        20: "unparseable",
        21: "date_before_earliest",
    }
    reasons = dict(_query(fixture_warehouse, "select _row_number, reason from quarantine.qua_wmp__offenders"))
    assert reasons[12] == "age 430 out of range 0–110"
    assert "'C12'" in reasons[11]  # offender on a quarantined crime
    (raw_age,) = _query(
        fixture_warehouse, "select age from quarantine.qua_wmp__offenders where _row_number = 14"
    )[0]
    assert raw_age == "12.5"  # quarantine keeps the value as it arrived


def test_grouping_rule_and_sequences(fixture_warehouse):
    rows = _query(
        fixture_warehouse,
        """select incident_id, is_da, da_seq, non_da_seq, n_offences, severity, severity_band, substance_flag,
                  is_non_crime, round(days_since_prev_da, 4)
           from marts.fct_incidents where offender_id = 'P1' order by incident_seq""",
    )
    assert rows == [
        # C1 + C2: same reported_at and committed date; DA by C1's flag; drugs marker on C1
        ("P1:1", True, 1, None, 2, 230.0, "medium", True, False, None),
        # C3: possession of drugs (substance-related code), not DA
        ("P1:2", False, None, 1, 1, 20.0, "low", True, False, 100.2083),  # 100 days 5 hours after P1:1
        # C4: non-crime, no DA flag, but a partner-on-partner marker; committed the evening before C5
        ("P1:3", True, 2, None, 1, 0.0, "low", False, True, 309.0833),
        # C5: reported together with C4 but committed after midnight: a separate incident
        ("P1:4", True, 3, None, 1, 50.0, "low", False, False, 0.0625),
    ]
    p2 = _query(
        fixture_warehouse,
        "select incident_id, n_offences, n_victims from marts.fct_incidents where offender_id = 'P2' order by 1",
    )
    # C6 + C7 grouped (two victims); C8 and C9 committed on the same date but reported separately
    assert p2 == [("P2:1", 2, 2), ("P2:2", 1, 1), ("P2:3", 1, 1)]


def test_offender_features(fixture_warehouse):
    (row,) = _query(
        fixture_warehouse,
        """select n_incidents, n_da_incidents, n_non_da_incidents, total_da_severity, round(da_timespan_days, 4),
                  round(mean_days_between_da_incidents, 4), mean_age, mean_victim_age_difference,
                  n_times_da_victim, total_da_victimisation_severity, first_da_risk_level,
                  first_non_crime_da_risk_level, n_high_risk, da_volume_band, non_da_volume_band, has_missing_age
           from marts.dim_offenders where offender_id = 'P1'""",
    )
    assert row == (
        4,
        3,
        1,
        280.0,
        309.1458,
        154.5729,
        30.5,
        -2.8,
        1,
        260.0,
        "standard",
        "high",
        1,
        "high",
        "low",
        False,
    )
    (p2,) = _query(
        fixture_warehouse,
        """select n_times_non_da_victim, total_non_da_victimisation_severity, da_victim_sex_pattern, modal_sex
           from marts.dim_offenders where offender_id = 'P2'""",
    )
    assert p2 == (1, 20.0, "opposite", "female")
    (p3,) = _query(
        fixture_warehouse,
        "select has_missing_age, is_da_only from marts.dim_offenders where offender_id = 'P3'",
    )
    assert p3 == (True, True)


def test_programme_participants_keep_only_valid_rows(fixture_warehouse):
    rows = _query(
        fixture_warehouse, "select person_id, programme from marts.dim_programme_participants order by 1"
    )
    assert rows == [("P1", "DRIVE"), ("P3", "focused deterrence")]


def test_tiny_extract_builds_and_conserves_rows(tiny_warehouse):
    con = duckdb.connect(str(tiny_warehouse), read_only=True)
    try:
        assert con.execute("select bool_and(is_conserved) from audit.audit_row_conservation").fetchone()[0]
        offences, in_incidents = con.execute(
            "select (select count(*) from marts.fct_offences), (select sum(n_offences) from marts.fct_incidents)"
        ).fetchone()
        assert offences > 0 and offences == in_incidents
        n_offenders, n_missing = con.execute(
            "select count(*), count(*) filter (where has_missing_age) from marts.dim_offenders"
        ).fetchone()
        assert n_offenders > 0 and n_missing < n_offenders
    finally:
        con.close()
