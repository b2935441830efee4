"""Missing is missing (issue 13, point 2), on hand-made data with every expected value worked out by hand.

Part 1: ``ml.features`` on a six-row ``dim_offenders`` frame: who is clustered, who is dropped and counted,
which values get the neutral value and an indicator, and how they are scaled.
Part 2: the dbt models on a hand-made raw extract: unknown times of day (00:00:00), gaps and IMD scores that
do not exist, people seen only on non-DA crimes, and the report's drop rule.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml.features import (
    COLUMN_WEIGHTS,
    INDICATOR_SCALE,
    MISSING_INDICATORS,
    MODEL_COLUMNS,
    PCA_FEATURES,
    REPORT_DROPPED_MISSING_AGE,
    build_feature_matrix,
    standardise,
)

# --- Part 1: the feature matrix ------------------------------------------------------------------------


def _dim() -> pd.DataFrame:
    base = {feature: 1.0 for feature in PCA_FEATURES}
    rows = {
        # A and C: every value recorded
        "A": {
            "mean_da_imd_score": 30.0,
            "mean_non_da_imd_score": 50.0,
            "mean_days_between_da_incidents": 100.0,
            "mean_days_between_non_da_incidents": 200.0,
            "mean_days_between_da_and_non_da_incidents": 300.0,
            "da_hour_sin": 0.5,
            "da_hour_cos": 0.5,
        },
        "C": {
            "mean_da_imd_score": 50.0,
            "mean_non_da_imd_score": 20.0,
            "mean_days_between_da_incidents": 300.0,
            "mean_days_between_non_da_incidents": 400.0,
            "mean_days_between_da_and_non_da_incidents": 500.0,
            "da_hour_sin": -0.5,
            "da_hour_cos": 0.0,
        },
        # B: one DA incident at an unknown time, no non-DA history: every mean with nothing to average
        "B": {
            "mean_da_imd_score": 10.0,
            "mean_non_da_imd_score": np.nan,
            "mean_days_between_da_incidents": np.nan,
            "mean_days_between_non_da_incidents": np.nan,
            "mean_days_between_da_and_non_da_incidents": np.nan,
            "da_hour_sin": np.nan,
            "da_hour_cos": np.nan,
        },
        # D: seen only on non-DA crimes (no age recorded either): not a DA perpetrator
        "D": {"n_da_incidents": 0.0, "mean_age": np.nan, "mean_da_imd_score": np.nan},
        # E: own age missing (so the victim age difference is missing too); F: victims' ages missing
        "E": {"mean_age": np.nan, "mean_victim_age_difference": np.nan},
        "F": {"mean_victim_age_difference": np.nan},
    }
    flags = {  # is_da_perpetrator, has_missing_offender_age, has_missing_victim_age
        "A": (True, False, False),
        "B": (True, False, False),
        "C": (True, False, False),
        "D": (False, False, False),
        "E": (True, True, True),
        "F": (True, False, True),
    }
    records = []
    for offender_id in "FEDCBA":  # read in reverse order: the matrix comes out in offender order
        own, victim = flags[offender_id][1:]
        records.append(
            {
                **base,
                **rows[offender_id],
                "offender_id": offender_id,
                "is_da_perpetrator": flags[offender_id][0],
                "has_missing_offender_age": own,
                "has_missing_victim_age": victim,
                "has_missing_age": own or victim,
            }
        )
    return pd.DataFrame(records)


def test_population_and_the_reports_drop_rule():
    matrix, dropped = build_feature_matrix(_dim())
    assert list(matrix.index) == ["A", "B", "C"]
    assert dropped.n_offenders == 6
    assert dropped.n_not_da_perpetrators == 1  # D: neither clustered nor counted as missing an age
    assert dropped.n_da_perpetrators == 5
    assert dropped.n_missing_age == 2  # E and F, exactly the report's rule
    assert dropped.n_missing_offender_age == 1  # E
    assert dropped.n_missing_victim_age == 2  # E and F
    assert dropped.n_missing_other == 0  # B's missing means are not a reason to drop
    assert dropped.n_kept == 3
    counts = dropped.as_dict()
    assert counts["report_n_missing_age"] == REPORT_DROPPED_MISSING_AGE == 7_731


def test_missing_means_get_the_mean_of_the_recorded_values_and_an_indicator():
    matrix, dropped = build_feature_matrix(_dim())
    assert list(matrix.columns) == MODEL_COLUMNS
    b = matrix.loc["B"]
    # the neutral value: the mean over A and C
    assert b["mean_non_da_imd_score"] == pytest.approx((50 + 20) / 2)
    assert b["mean_days_between_da_incidents"] == pytest.approx((100 + 300) / 2)
    assert b["mean_days_between_non_da_incidents"] == pytest.approx((200 + 400) / 2)
    assert b["mean_days_between_da_and_non_da_incidents"] == pytest.approx((300 + 500) / 2)
    assert b["da_hour_sin"] == pytest.approx(0.0)
    assert b["da_hour_cos"] == pytest.approx(0.25)
    assert b["mean_da_imd_score"] == 10.0  # recorded, untouched
    for indicator in set(MISSING_INDICATORS.values()) - {"mean_da_imd_score_missing"}:
        assert matrix[indicator].tolist() == [0.0, 1.0, 0.0], indicator
    assert matrix["mean_da_imd_score_missing"].tolist() == [0.0, 0.0, 0.0]
    assert dropped.imputed_by_column["mean_non_da_imd_score"] == 1
    assert dropped.imputed_by_column["mean_da_imd_score"] == 0
    table = dropped.imputed_table().set_index("feature")
    assert table.loc["da_hour_sin", "indicator"] == "da_hour_missing"
    assert table.loc["mean_non_da_imd_score", "share_imputed"] == pytest.approx(1 / 3)


def test_scaling_of_imputed_features_indicators_and_the_timing_block():
    matrix, _ = build_feature_matrix(_dim())
    z, scaler = standardise(matrix)
    col = {c: j for j, c in enumerate(matrix.columns)}
    # a feature missing for B is scaled by the SD of the recorded values (A: 50, C: 20 -> SD 21.2132)
    sd = np.std([50.0, 20.0], ddof=1)
    assert z[0, col["mean_non_da_imd_score"]] == pytest.approx((50 - 35) / sd)
    assert z[1, col["mean_non_da_imd_score"]] == pytest.approx(0.0)  # B: neutral
    # the indicator is centred, divided by INDICATOR_SCALE (1: left as 0/1), not by its own SD
    assert INDICATOR_SCALE == 1.0
    assert z[:, col["mean_non_da_imd_score_missing"]] == pytest.approx([-1 / 3, 2 / 3, -1 / 3])
    # the six timing columns are one variable: each weighted 1/sqrt(6); hour sin recorded 0.5 and -0.5
    assert COLUMN_WEIGHTS["da_hour_sin"] == pytest.approx(1 / np.sqrt(6))
    hour_sd = np.std([0.5, -0.5], ddof=1)
    assert z[0, col["da_hour_sin"]] == pytest.approx(0.5 / hour_sd / np.sqrt(6))
    # a feature recorded for everyone: plain z-score (mean_da_imd_score 30, 10, 50)
    assert z[0, col["mean_da_imd_score"]] == pytest.approx((30 - 30) / np.std([30, 10, 50], ddof=1))
    assert z[1, col["mean_da_imd_score"]] == pytest.approx((10 - 30) / 20.0)


def test_a_never_missing_feature_that_is_missing_drops_the_offender_and_is_counted():
    dim = _dim()
    dim.loc[dim["offender_id"] == "C", "total_da_severity"] = np.nan
    matrix, dropped = build_feature_matrix(dim)
    assert list(matrix.index) == ["A", "B"]
    assert dropped.n_missing_other == 1
    assert dropped.missing_other_by_column == {"total_da_severity": 1}


# --- Part 2: the dbt models ---------------------------------------------------------------------------

CRIMES = [
    # crime_number, record_type, offence_code, da_flag, reported_at, committed_from, committed_to, lsoa
    # P1: one DA crime, time of day unknown (recorded 00:00:00)
    ("K1", "crime", "105A", "true", "2020-03-02 10:00:00", "2020-03-02 00:00:00", "", "SYN0001"),
    # P2: only a non-DA crime
    ("K2", "crime", "46", "false", "2020-04-01 15:00:00", "2020-04-01 14:00:00", "", "SYN0002"),
    # P3: a non-DA assault with the offender's age recorded, a year before a DA crime without it
    ("K3", "crime", "105A", "false", "2019-01-10 13:00:00", "2019-01-10 12:00:00", "", "SYN0002"),
    ("K4", "crime", "105A", "true", "2020-01-10 22:00:00", "2020-01-10 21:00:00", "", "SYN0001"),
    # P4: a DA crime whose victim's age is not recorded
    ("K5", "crime", "105A", "true", "2020-05-05 20:00:00", "2020-05-05 19:00:00", "", "SYN0001"),
    # P5: two DA crimes, one at 21:00, one at an unknown time, ten days apart
    ("K6", "crime", "105A", "true", "2020-06-01 22:00:00", "2020-06-01 21:00:00", "", "SYN0001"),
    ("K7", "crime", "105A", "true", "2020-06-11 09:00:00", "2020-06-11 00:00:00", "", "SYN0001"),
]
OFFENDERS = [
    ("K1", "P1", "30"),
    ("K2", "P2", "40"),
    ("K3", "P3", "29"),
    ("K4", "P3", ""),
    ("K5", "P4", "35"),
    ("K6", "P5", "50"),
    ("K7", "P5", "50"),
]
OFFENDER_OF = {crime: person for crime, person, _ in OFFENDERS}
VICTIMS = [
    ("K1", "V1", "28"),
    ("K3", "V3", "35"),
    ("K4", "V4", "25"),
    ("K5", "V5", ""),
    ("K6", "V6", "48"),
    ("K7", "V6", "48"),
]


def _write(path: Path, header: list[str], rows: list[tuple]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _extract(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _write(
        folder / "crimes.csv",
        [
            "crime_number",
            "record_type",
            "offence_code",
            "da_flag",
            "reported_at",
            "committed_from",
            "committed_to",
            "lsoa_code",
            "risk_level",
            "outcome_code",
        ],
        [(*row, "standard" if row[3] == "true" else "", "") for row in CRIMES],
    )
    _write(
        folder / "offenders.csv",
        ["crime_number", "person_id", "age", "sex", "ethnicity"],
        [(*row, "male", "") for row in OFFENDERS],
    )
    _write(
        folder / "victims.csv",
        ["crime_number", "person_id", "age", "sex", "ethnicity"],
        [(*row, "female", "") for row in VICTIMS],
    )
    _write(
        folder / "relationships.csv",
        ["crime_number", "victim_person_id", "offender_person_id", "witness_person_id", "relationship"],
        [(crime, victim, OFFENDER_OF[crime], "", "partner") for crime, victim, _ in VICTIMS],
    )
    _write(folder / "special_interest_markers.csv", ["crime_number", "marker"], [])
    return folder


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    from tests.helpers import build_marts

    folder = tmp_path_factory.mktemp("missing_is_missing")
    path = folder / "warehouse.duckdb"
    build_marts(_extract(folder / "extract"), path, ["run", "--select", "+dim_offenders"])
    return path


def _rows(path: Path, sql: str) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        frame = con.execute(sql).df()
    finally:
        con.close()
    return frame.set_index("offender_id").to_dict("index")


COLUMNS = """offender_id, n_da_incidents, is_da_perpetrator, has_missing_age, has_missing_offender_age,
    has_missing_victim_age, age_at_first_da_incident, mean_victim_age_difference, da_hour_sin, da_hour_cos,
    n_da_incidents_with_known_time, mean_days_between_da_incidents, mean_days_between_da_and_non_da_incidents,
    mean_non_da_imd_score, mean_da_imd_score"""


def test_unknown_times_gaps_and_imd_scores_are_null(warehouse):
    rows = _rows(warehouse, f"select {COLUMNS} from marts.dim_offenders")
    p1 = rows["P1"]
    assert p1["n_da_incidents_with_known_time"] == 0  # 00:00:00 is the force's unknown time
    assert pd.isna(p1["da_hour_sin"]) and pd.isna(p1["da_hour_cos"])
    assert pd.isna(p1["mean_days_between_da_incidents"])  # one DA incident: no gap, not a gap of 0
    assert pd.isna(p1["mean_non_da_imd_score"])  # no non-DA history: no score, not the least deprived 0
    assert pd.isna(p1["mean_days_between_da_and_non_da_incidents"])
    assert p1["mean_da_imd_score"] == pytest.approx(26.174)  # SYN0001 in the shipped reference
    p5 = rows["P5"]
    assert p5["n_da_incidents_with_known_time"] == 1  # the hour comes from the 21:00 incident only
    assert p5["da_hour_sin"] == pytest.approx(np.sin(2 * np.pi * 21 / 24))
    assert p5["da_hour_cos"] == pytest.approx(np.cos(2 * np.pi * 21 / 24))
    assert p5["mean_days_between_da_incidents"] == pytest.approx(9 + 3 / 24)  # 21:00 to 00:00 ten days on


def test_people_seen_only_on_non_da_crimes_and_the_drop_rule(warehouse):
    rows = _rows(warehouse, f"select {COLUMNS} from marts.dim_offenders")
    p2 = rows["P2"]
    assert p2["n_da_incidents"] == 0 and not p2["is_da_perpetrator"]
    assert not p2["has_missing_age"]  # not counted among the missing ages
    # P3: own age recorded only on the non-DA assault (29 on 2019-01-10 12:00), so the age at the first DA
    # incident is 29 plus the 365 days 9 hours to 2020-01-10 21:00; the age difference comes from the assault
    p3 = rows["P3"]
    assert not p3["has_missing_age"]
    assert p3["age_at_first_da_incident"] == pytest.approx(29 + (365 + 9 / 24) / 365.25)
    assert p3["mean_victim_age_difference"] == pytest.approx(35 - 29)
    p4 = rows["P4"]
    assert p4["has_missing_victim_age"] and not p4["has_missing_offender_age"] and p4["has_missing_age"]
    assert not rows["P1"]["has_missing_age"] and not rows["P5"]["has_missing_age"]


def test_every_recorded_time_is_real_when_the_var_is_empty(warehouse, tmp_path):
    from tests.helpers import run_dbt

    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    run_dbt(
        copy,
        ["run", "--select", "int_incidents_grouped", "dim_offenders", "--vars", "{unknown_times_of_day: []}"],
    )
    rows = _rows(copy, f"select {COLUMNS} from marts.dim_offenders")
    assert rows["P1"]["n_da_incidents_with_known_time"] == 1
    assert rows["P1"]["da_hour_sin"] == pytest.approx(0.0)  # midnight taken as midnight
    assert rows["P1"]["da_hour_cos"] == pytest.approx(1.0)
    assert rows["P5"]["n_da_incidents_with_known_time"] == 2
