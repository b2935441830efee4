"""Bad input, tried on purpose: each broken row is quarantined with a reason naming the column and the
value, or the run stops with a clear error; in every case read = staged + quarantined (nothing lost)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.helpers import build_marts, generate_extract

pytestmark = pytest.mark.slow

CORRUPTIONS = {
    # (table, rule expected in quarantine, how the row is broken)
    "unparseable_date": ("crimes", "unparseable", "reported_at"),
    "committed_after_reported": ("crimes", "committed_after_reported", "committed_from"),
    "duplicate_crime_number": ("crimes", "duplicate_crime_number", "crime_number"),
    "unknown_offence_code": ("crimes", "unknown_offence_code", "offence_code"),
    "future_date": ("crimes", "date_in_future", "reported_at"),
    "wrong_type_age": ("offenders", "unparseable", "age"),
    "huge_age": ("offenders", "age_out_of_range", "age"),
    "offender_on_unknown_crime": ("offenders", "unknown_crime_number", "crime_number"),
    "bad_boolean": ("crimes", "unparseable", "da_flag"),
    "missing_required": ("victims", "required_missing", "person_id"),
}


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A tiny CSV extract with one row broken per corruption; returns the warehouse and the broken keys."""
    root = tmp_path_factory.mktemp("bad_input")
    extract = generate_extract("tiny", 3, root / "extract", fmt="csv")
    read = {
        t: pd.read_csv(extract / f"{t}.csv", dtype=str, keep_default_na=False)
        for t in ("crimes", "offenders", "victims")
    }
    crimes, offenders, victims = read["crimes"], read["offenders"], read["victims"]
    marked: dict[str, str] = {}
    rows = iter(range(5, len(crimes)))

    def crime(name: str) -> int:
        index = next(rows)
        marked[name] = crimes.at[index, "crime_number"]
        return index

    crimes.at[crime("unparseable_date"), "reported_at"] = "31/02/2019 25:61"
    i = crime("committed_after_reported")
    crimes.at[i, "committed_from"] = "2020-12-31 23:00:00"
    crimes.at[i, "reported_at"] = "2020-01-01 10:00:00"
    crimes.at[i, "committed_to"] = ""
    crimes.at[crime("unknown_offence_code"), "offence_code"] = "ZZ99"
    i = crime("future_date")
    crimes.at[i, "committed_from"] = "2099-01-01 10:00:00"
    crimes.at[i, "reported_at"] = "2099-01-02 10:00:00"
    crimes.at[i, "committed_to"] = ""
    crimes.at[crime("bad_boolean"), "da_flag"] = "maybe"
    duplicate = crimes.iloc[[next(rows)]].copy()
    marked["duplicate_crime_number"] = duplicate.iloc[0]["crime_number"]
    crimes = pd.concat([crimes, duplicate], ignore_index=True)

    offenders.at[10, "age"] = "thirty"
    marked["wrong_type_age"] = offenders.at[10, "crime_number"]
    offenders.at[11, "age"] = "430"
    marked["huge_age"] = offenders.at[11, "crime_number"]
    extra = offenders.iloc[[12]].copy()
    extra["crime_number"] = "CR-DOES-NOT-EXIST"
    marked["offender_on_unknown_crime"] = "CR-DOES-NOT-EXIST"
    offenders = pd.concat([offenders, extra], ignore_index=True)
    victims.at[3, "person_id"] = ""
    marked["missing_required"] = victims.at[3, "crime_number"]

    for table, frame in (("crimes", crimes), ("offenders", offenders), ("victims", victims)):
        frame.to_csv(extract / f"{table}.csv", index=False)
    warehouse = root / "warehouse.duckdb"
    build_marts(extract, warehouse)
    return warehouse, marked


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_broken_row_is_quarantined_with_a_reason(broken, corruption):
    warehouse, marked = broken
    table, rule, column = CORRUPTIONS[corruption]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            f'SELECT rule, reason FROM quarantine."qua_wmp__{table}" WHERE crime_number = ?',
            [marked[corruption]],
        ).fetchall()
    finally:
        con.close()
    assert rows, f"no quarantined {table} row for {corruption}"
    rules = {r[0] for r in rows}
    assert rule in rules, rows
    reason = next(r[1] for r in rows if r[0] == rule)
    assert column in reason, reason


def test_nothing_is_lost(broken):
    warehouse, _ = broken
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        conservation = con.execute(
            "SELECT table_name, rows_read, rows_staged, rows_quarantined FROM audit.audit_row_conservation"
        ).fetchall()
        raw_counts = {
            t: con.execute(f'SELECT count(*) FROM raw."{t}"').fetchone()[0] for t, *_ in conservation
        }
    finally:
        con.close()
    for table, read, staged, quarantined in conservation:
        assert read == raw_counts[table] and read == staged + quarantined, table
    assert sum(q for *_, q in conservation) >= len(CORRUPTIONS)
