"""The raw loader: every table loaded as text with row numbers; bad files stop with file, column, example."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dap.contract import TABLES
from dap.extract import ExtractError, exceeds_threshold, load_raw

ROWS = {
    "crimes": [
        [
            "CR1",
            "crime",
            "8N",
            "true",
            "2015-03-01 10:00:00",
            "2015-03-01 09:00:00",
            "",
            "E01000001",
            "medium",
            "1",
        ],
        [
            "CR2",
            "non-crime",
            "NC1",
            "true",
            "2015-03-01 10:00:00",
            "2015-03-01 09:30:00",
            "",
            "E01000001",
            "standard",
            "",
        ],
    ],
    "offenders": [["CR1", "P1", "30", "male", "W1"], ["CR2", "P1", "30", "male", "W1"]],
    "victims": [["CR1", "P2", "28", "female", "W1"]],
    "relationships": [["CR1", "P2", "P1", "", "partner"]],
    "special_interest_markers": [["CR1", "alcohol involved"]],
    "ref_offences": [
        ["8N", "Assault with injury", "violence against the person", "184", "365", "false", "published"],
        ["NC1", "Domestic incident (non-crime)", "non-crime", "0", "", "false", "approximation"],
    ],
    "ref_lsoa": [["E01000001", "35.2", "2"]],
    "offence_types": [["8N", "violence with injury"], ["NC1", "non-crime"]],
}


def write_csv(folder: Path, table: str, rows: list[list[str]], header: list[str] | None = None) -> Path:
    path = folder / f"{table}.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header or TABLES[table].column_names)
        writer.writerows(rows)
    return path


@pytest.fixture()
def extract(tmp_path: Path) -> Path:
    folder = tmp_path / "extract"
    folder.mkdir()
    for table, rows in ROWS.items():
        write_csv(folder, table, rows)
    return folder


def load(folder: Path, tmp_path: Path, **kwargs):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        return con, load_raw(con, folder, reference_dir=tmp_path / "no_shipped_reference", **kwargs)
    except Exception:
        con.close()
        raise


def test_loads_every_table_as_text_with_row_numbers(extract, tmp_path):
    con, summary = load(extract, tmp_path)
    assert summary.tables["crimes"].rows == 2
    assert summary.tables["witnesses"].source == "absent" and summary.tables["witnesses"].rows == 0
    types = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT data_type FROM information_schema.columns WHERE table_schema='raw' "
            "AND table_name='crimes' AND column_name <> '_row_number'"
        ).fetchall()
    }
    assert types == {"VARCHAR"}
    assert con.execute("SELECT list(_row_number ORDER BY _row_number) FROM raw.crimes").fetchone()[0] == [
        1,
        2,
    ]
    # optional tables exist (empty) so that dbt can always run
    assert con.execute("SELECT count(*) FROM raw.programme_participants").fetchone()[0] == 0
    assert len(summary.tables["crimes"].sha256) == 64


def test_parquet_and_csv_load_the_same_text(extract, tmp_path):
    con, _ = load(extract, tmp_path)
    csv_rows = con.execute("SELECT * FROM raw.crimes ORDER BY _row_number").fetchall()
    con.close()
    table = pa.table(
        {
            "crime_number": ["CR1", "CR2"],
            "record_type": ["crime", "non-crime"],
            "offence_code": ["8N", "NC1"],
            "da_flag": [True, True],
            "reported_at": pa.array(
                [pa.scalar(1425204000, pa.timestamp("s")).as_py()] * 2, pa.timestamp("s")
            ),
            "committed_from": pa.array(
                [
                    pa.scalar(1425200400, pa.timestamp("s")).as_py(),
                    pa.scalar(1425202200, pa.timestamp("s")).as_py(),
                ],
                pa.timestamp("s"),
            ),
            "committed_to": pa.array([None, None], pa.timestamp("s")),
            "lsoa_code": ["E01000001"] * 2,
            "risk_level": ["medium", "standard"],
            "outcome_code": pa.array([1, None], pa.int32()),
        }
    )
    (extract / "crimes.csv").unlink()
    pq.write_table(table, extract / "crimes.parquet")
    (tmp_path / "parquet").mkdir()
    con2, summary = load(extract, tmp_path / "parquet")
    assert summary.tables["crimes"].format == "parquet"
    assert con2.execute("SELECT * FROM raw.crimes ORDER BY _row_number").fetchall() == csv_rows


def test_missing_required_table_names_it(extract, tmp_path):
    (extract / "victims.csv").unlink()
    with pytest.raises(ExtractError, match=r"required table 'victims' is missing"):
        load(extract, tmp_path)


def test_missing_column_names_file_column_and_what_was_found(extract, tmp_path):
    header = [c for c in TABLES["crimes"].column_names if c != "reported_at"]
    write_csv(extract, "crimes", [r[:4] + r[5:] for r in ROWS["crimes"]], header)
    with pytest.raises(ExtractError) as error:
        load(extract, tmp_path)
    assert error.value.column == "reported_at"
    assert "crimes.csv" in str(error.value) and "columns found" in str(error.value)


def test_extra_column_is_ignored_with_a_warning(extract, tmp_path):
    header = [*TABLES["victims"].column_names, "free_text_notes"]
    write_csv(extract, "victims", [ROWS["victims"][0] + ["x"]], header)
    _, summary = load(extract, tmp_path)
    assert summary.tables["victims"].extra_columns == ["free_text_notes"]
    assert any("free_text_notes" in w for w in summary.warnings)


def test_non_utf8_file_is_refused_with_its_line(extract, tmp_path):
    path = extract / "victims.csv"
    path.write_bytes(path.read_bytes().replace(b"female", "f\xe9male".encode("latin-1")))
    with pytest.raises(ExtractError, match=r"not UTF-8 .*line 2"):
        load(extract, tmp_path)


def test_empty_file_is_refused(extract, tmp_path):
    (extract / "offenders.csv").write_bytes(b"")
    with pytest.raises(ExtractError, match="empty"):
        load(extract, tmp_path)


def test_truncated_parquet_is_refused(extract, tmp_path):
    (extract / "victims.csv").unlink()
    pq.write_table(
        pa.table({c: ["x"] * 100 for c in TABLES["victims"].column_names}), extract / "victims.parquet"
    )
    data = (extract / "victims.parquet").read_bytes()
    (extract / "victims.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(ExtractError, match=r"victims.parquet: cannot read Parquet"):
        load(extract, tmp_path)


def test_unknown_offence_code_share_above_the_bad_row_threshold_stops(extract, tmp_path):
    rows = [list(r) for r in ROWS["crimes"]]
    rows[0][2], rows[1][2] = "ZZ98", "ZZ99"
    write_csv(extract, "crimes", rows)
    with pytest.raises(ExtractError) as error:
        load(extract, tmp_path)
    assert error.value.column == "offence_code" and error.value.example == "ZZ98"
    assert "max_quarantined_share = 5.0%" in str(error.value)
    # the one threshold, raised: the rows are quarantined downstream, and recorded with the threshold
    con, summary = load(extract, tmp_path, max_quarantined_share=1.0)
    assert summary.unknown_offence_code_share == 1.0
    assert con.execute("SELECT DISTINCT max_quarantined_share FROM raw._load_log").fetchall() == [(1.0,)]


def test_a_single_unknown_offence_code_never_stops_the_load(extract, tmp_path):
    rows = [list(r) for r in ROWS["crimes"]]
    rows[1][2] = "ZZ99"  # 50% of two crimes, but one row
    write_csv(extract, "crimes", rows)
    _, summary = load(extract, tmp_path)
    assert summary.unknown_offence_code_share == 0.5
    assert any("ZZ99" in w and "quarantined" in w for w in summary.warnings)


def test_the_bad_row_rule_is_a_share_and_more_than_one_row():
    assert not exceeds_threshold(1, 2, 0.05)  # a single bad row never refuses a table
    assert exceeds_threshold(2, 2, 0.05)
    assert not exceeds_threshold(5, 100, 0.05) and exceeds_threshold(6, 100, 0.05)
    assert not exceeds_threshold(0, 0, 0.0)


def test_a_threshold_outside_0_to_1_is_a_usage_error(extract, tmp_path):
    with pytest.raises(ValueError, match="max_quarantined_share"):
        load(extract, tmp_path, max_quarantined_share=5)


def test_header_case_spaces_byte_order_mark_and_windows_line_endings_are_read(extract, tmp_path):
    header = ["\ufeff Crime_Number", "PERSON_ID ", "Age", " sex ", "ETHNICITY"]
    path = write_csv(extract, "offenders", ROWS["offenders"], header)
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    con, summary = load(extract, tmp_path)
    assert summary.tables["offenders"].extra_columns == []
    assert con.execute(
        "SELECT crime_number, person_id, age, ethnicity FROM raw.offenders ORDER BY 1"
    ).fetchall() == [
        ("CR1", "P1", "30", "W1"),
        ("CR2", "P1", "30", "W1"),
    ]


def test_a_column_named_twice_is_refused(extract, tmp_path):
    write_csv(
        extract, "victims", [r + ["29"] for r in ROWS["victims"]], [*TABLES["victims"].column_names, " Age"]
    )
    with pytest.raises(ExtractError, match="column 'age' appears twice") as error:
        load(extract, tmp_path)
    assert error.value.column == "age"


def test_a_line_with_the_wrong_number_of_fields_is_refused_naming_it(extract, tmp_path):
    write_csv(extract, "victims", [ROWS["victims"][0] + ["one too many"]])
    with pytest.raises(ExtractError, match=r"line 2 has 6 fields where the header has 5") as error:
        load(extract, tmp_path)
    assert error.value.example.endswith("one too many")


def _parquet_offenders(extract: Path, **columns) -> None:
    (extract / "offenders.csv").unlink()
    base = {
        "crime_number": pa.array(["CR1", "CR2"]),
        "person_id": pa.array(["P1", "P1"]),
        "age": pa.array([30, 30], pa.int64()),
        "sex": pa.array(["male", "male"]),
        "ethnicity": pa.array(["W1", None]),
    }
    pq.write_table(pa.table({**base, **columns}), extract / "offenders.parquet")


@pytest.mark.parametrize(
    "age",
    [
        pa.array([30.0, None], pa.float64()),  # what pandas writes for an int column with a gap
        pa.array(["30", None], pa.string()),  # text, parsed row by row like a CSV
        pa.array([None, None], pa.null()),  # no value at all
        pa.array([30, 31], pa.int8()),
    ],
    ids=["float", "text", "null", "int8"],
)
def test_parquet_columns_of_a_compatible_type_are_read_as_text(extract, tmp_path, age):
    _parquet_offenders(extract, age=age)
    con, _ = load(extract, tmp_path)
    values = [r[0] for r in con.execute("SELECT age FROM raw.offenders ORDER BY _row_number").fetchall()]
    assert values == [None if v is None else str(v) for v in age.to_pylist()]


@pytest.mark.parametrize(
    ("table", "column", "array", "message"),
    [
        ("offenders", "age", pa.array([True, False]), "type BOOLEAN where the contract wants int"),
        ("offenders", "person_id", pa.array([1.5, 2.5]), "type DOUBLE where the contract wants string"),
    ],
)
def test_parquet_column_of_a_wrong_type_is_refused(extract, tmp_path, table, column, array, message):
    _parquet_offenders(extract, **{column: array})
    with pytest.raises(ExtractError, match=message) as error:
        load(extract, tmp_path)
    assert error.value.column == column and error.value.example is not None
    assert error.value.file.endswith("offenders.parquet")


def test_parquet_timestamp_with_a_time_zone_is_refused_but_a_local_one_is_read(extract, tmp_path):
    def crimes(reported_at: pa.Array) -> None:
        (extract / "crimes.csv").unlink(missing_ok=True)
        columns = {
            c: pa.array([r[i] or None for r in ROWS["crimes"]])
            for i, c in enumerate(TABLES["crimes"].column_names)
        }
        pq.write_table(pa.table({**columns, "reported_at": reported_at}), extract / "crimes.parquet")

    stamp = pa.scalar(1425204000, pa.timestamp("s")).as_py()
    crimes(pa.array([stamp, stamp], pa.timestamp("s", tz="UTC")))
    with pytest.raises(ExtractError, match="local time without a time zone") as error:
        load(extract, tmp_path)
    assert error.value.column == "reported_at"
    crimes(pa.array([stamp, stamp], pa.timestamp("ns")))
    con, _ = load(extract, tmp_path)
    assert con.execute("SELECT DISTINCT reported_at FROM raw.crimes").fetchall() == [("2015-03-01 10:00:00",)]


def test_a_failed_load_leaves_earlier_raw_tables_untouched(extract, tmp_path):
    con, _ = load(extract, tmp_path)
    before = con.execute("SELECT count(*) FROM raw.crimes").fetchone()[0]
    con.close()
    (extract / "victims.csv").write_bytes(b"")
    with pytest.raises(ExtractError):
        load(extract, tmp_path)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert con.execute("SELECT count(*) FROM raw.crimes").fetchone()[0] == before


def test_keyed_pseudonymisation_is_stable_across_extracts_and_hides_ids(extract, tmp_path, monkeypatch):
    monkeypatch.setenv("DA_PSEUDONYMISATION_KEY", "a-force-secret")
    con, summary = load(extract, tmp_path)
    assert summary.pseudonymised
    offenders = {r[0] for r in con.execute("SELECT person_id FROM raw.offenders").fetchall()}
    links = {r[0] for r in con.execute("SELECT offender_person_id FROM raw.relationships").fetchall()}
    assert "P1" not in offenders and offenders == links  # joins still hold after pseudonymisation
    con.close()
    # a second extract loaded with the same key gives the same person the same pseudonym
    other = tmp_path / "second"
    other.mkdir()
    con2, _ = load(extract, other)
    assert {r[0] for r in con2.execute("SELECT person_id FROM raw.offenders").fetchall()} == offenders
    con2.close()
    monkeypatch.setenv("DA_PSEUDONYMISATION_KEY", "another-key")
    third = tmp_path / "third"
    third.mkdir()
    con3, _ = load(extract, third)
    assert {r[0] for r in con3.execute("SELECT person_id FROM raw.offenders").fetchall()}.isdisjoint(
        offenders
    )
