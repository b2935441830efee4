"""Invariants of the synthetic extract generator at tiny scale (seconds)."""

from __future__ import annotations

import csv
import filecmp
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth import catalogue, schema
from synth.calibration import DA_MARKERS, _read, build_incidents
from synth.generate import SynthError, generate, is_complete


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth_tiny")
    generate("tiny", 1, out, progress=False)
    return out


@pytest.fixture(scope="module")
def tables(extract) -> dict[str, pd.DataFrame]:
    return {t: _read(extract, t) for t in schema.ALL_TABLES}


def test_every_contract_table_with_exact_names_and_types(extract):
    for table in schema.STREAMED_TABLES:
        got = pq.read_schema(extract / f"{table}.parquet")
        assert got.names == [c for c, _ in schema.CONTRACT[table]], table
        for field, want in zip(got, schema.schema(table), strict=True):
            if pa.types.is_timestamp(want.type):  # Parquet has no second unit: stored as ms, no time zone
                assert pa.types.is_timestamp(field.type) and field.type.tz is None, (table, field.name)
            else:
                assert field.type == want.type, (table, field.name)
    ref = pq.read_schema(extract / "ref_offences.parquet")
    assert ref.names == [
        "offence_code",
        "offence_description",
        "offence_group",
        "ons_css_weight",
        "cchi_days",
        "substance_related",
        "weight_source",
    ]
    assert pq.read_schema(extract / "ref_lsoa.parquet").names == ["lsoa_code", "imd_score", "imd_decile"]
    assert pq.read_schema(extract / "offence_types.parquet").names == ["offence_code", "offence_type"]
    assert is_complete(extract)


def test_keys_unique_and_every_crime_has_an_offender(tables):
    crimes, offenders = tables["crimes"], tables["offenders"]
    assert len(crimes) > 1000
    assert crimes["crime_number"].is_unique
    assert set(offenders["crime_number"]) == set(crimes["crime_number"])
    for name in (
        "victims",
        "witnesses",
        "relationships",
        "custody",
        "child_flags",
        "special_interest_markers",
    ):
        assert set(tables[name]["crime_number"]) <= set(crimes["crime_number"]), name
    assert set(tables["victims"]["crime_number"]) <= set(tables["relationships"]["crime_number"])
    pp = tables["programme_participants"]
    assert set(pp["person_id"]) <= set(offenders["person_id"])
    assert not pp.duplicated(["person_id", "programme"]).any()
    assert tables["ref_offences"]["offence_code"].is_unique
    assert tables["ref_lsoa"]["lsoa_code"].is_unique


def test_dates_ordered(tables):
    c = tables["crimes"]
    assert (c["reported_at"] >= c["committed_from"]).all()
    to = c["committed_to"].dropna()
    assert (to >= c.loc[to.index, "committed_from"]).all()
    assert c["reported_at"].min() >= pd.Timestamp("2011-01-01")
    assert c["reported_at"].max() <= pd.Timestamp("2020-12-31 23:59:59")
    pp = tables["programme_participants"]
    order = ["referred_on", "selected_on", "disruption_started_on", "full_engagement_on", "completed_on"]
    for a, b in zip(order, order[1:], strict=False):
        both = pp[[a, b]].dropna()
        assert (both[a] <= both[b]).all(), (a, b)
    ex = pp[["selected_on", "exited_on"]].dropna()
    assert (ex["selected_on"] <= ex["exited_on"]).all()


def test_codes_areas_and_categories_are_in_reference(tables):
    c = tables["crimes"]
    ref = tables["ref_offences"]
    assert set(c["offence_code"]) <= set(ref["offence_code"])
    assert set(c["lsoa_code"].dropna()) <= set(tables["ref_lsoa"]["lsoa_code"])
    assert set(tables["offence_types"]["offence_code"]) == set(ref["offence_code"])
    assert set(c["record_type"]) == {"crime", "non-crime"}
    nc_codes = set(ref.loc[ref["offence_group"] == "non-crime", "offence_code"])
    assert (c["offence_code"].isin(nc_codes) == (c["record_type"] == "non-crime")).all()
    assert set(c["risk_level"].dropna()) == {"standard", "medium", "high"}
    assert c["outcome_code"].dropna().between(1, 22).all()
    # risk grades only on DA records (DA flag or DA marker)
    m = tables["special_interest_markers"]
    da_marked = set(m.loc[m["marker"].isin(DA_MARKERS), "crime_number"])
    graded = c[c["risk_level"].notna()]
    assert (graded["da_flag"] | graded["crime_number"].isin(da_marked)).all()
    rel = set(tables["relationships"]["relationship"])
    assert rel <= set(catalogue_relationships())
    assert {"partner", "ex-partner"} <= rel
    for people in ("offenders", "victims", "witnesses"):
        assert set(tables[people]["sex"].dropna()) <= {"male", "female", "unknown"}


def catalogue_relationships():
    from synth.engine import RELATIONSHIPS

    return RELATIONSHIPS


def test_reference_data_is_rich_and_documented(tables):
    ref = tables["ref_offences"]
    assert len(ref) > 100
    assert ref["weight_source"].str.len().gt(0).all()
    assert ref["weight_source"].str.startswith("published").sum() >= 10
    assert (ref["ons_css_weight"] >= 0).all()
    for group in (
        "violence against the person",
        "sexual offences",
        "theft",
        "drug offences",
        "possession of weapons",
        "public order",
        "non-crime",
    ):
        assert (ref["offence_group"] == group).any(), group
    lsoa = tables["ref_lsoa"]
    assert len(lsoa) == 1700
    assert lsoa["imd_decile"].between(1, 10).all()
    # deciles are ordered by score: more deprived (higher score) = lower decile
    assert lsoa.groupby("imd_decile")["imd_score"].mean().is_monotonic_decreasing


def test_shipped_reference_files_match_the_catalogue(tmp_path):
    from synth.reference import REFERENCE_DIR, write_reference

    for path in write_reference(tmp_path):
        assert filecmp.cmp(path, REFERENCE_DIR / path.name, shallow=False), path.name


def test_truth_files(extract, tables):
    truth = extract / "_truth"
    for name in (
        "offender_profiles.parquet",
        "regression_effects.csv",
        "programme_effects.json",
        "edge_cases.json",
        "summary.json",
        "README.txt",
    ):
        assert (truth / name).is_file(), name
    prof = pd.read_parquet(truth / "offender_profiles.parquet")
    assert set(prof["person_id"]) == set(tables["offenders"]["person_id"])
    assert prof["profile"].between(1, 29).all()
    assert set(prof["offender_group"]) <= set("ABCDE")
    with open(truth / "regression_effects.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {"term_kind", "term", "true_effect", "planted", "assignment"} <= set(rows[0])
    types = set(tables["offence_types"]["offence_type"])
    codes = set(tables["ref_offences"]["offence_code"])
    for r in rows:
        assert (r["term"] in types) if r["term_kind"] == "offence_type" else (r["term"] in codes)
        assert (float(r["true_effect"]) != 0) == (r["planted"] == "true")
    prog = json.loads((truth / "programme_effects.json").read_text())
    assert prog["DRIVE"]["true_effect"] == -0.30
    assert prog["focused deterrence"]["true_effect"] == -0.16
    assert set(prog["DRIVE"]["affected_person_ids"]) <= set(prof["person_id"])


def test_grouping_rule_sees_the_generated_incidents_and_the_planted_edge_cases(extract):
    """Platform rule: incidents = generated incidents + one extra per planted midnight pair."""
    inc, _ = build_incidents(extract)
    prof = pd.read_parquet(extract / "_truth" / "offender_profiles.parquet")
    edges = json.loads((extract / "_truth" / "edge_cases.json").read_text())
    generated = prof["n_da_incidents_generated"].sum() + prof["n_non_da_incidents_generated"].sum()
    assert edges["midnight_pairs"] > 0 and edges["same_day_separate_reports"] > 0
    assert len(inc) == generated + edges["midnight_pairs"]


def test_some_offenders_are_victims_and_multi_offence_incidents_exist(tables, extract):
    offenders = set(tables["offenders"]["person_id"])
    assert len(offenders & set(tables["victims"]["person_id"])) > 0
    inc, _ = build_incidents(extract)
    assert (inc["n_offences"] > 1).sum() > 10
    c = tables["crimes"].merge(tables["special_interest_markers"], on="crime_number")
    assert ((~c["da_flag"]) & (c["marker"] == "partner-on-partner")).any()  # DA by marker only


def test_same_seed_gives_byte_identical_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate("tiny", 7, a, progress=False)
    generate("tiny", 7, b, progress=False)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) >= 14
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    generate("tiny", 8, b, progress=False)
    assert (a / "crimes.parquet").read_bytes() != (b / "crimes.parquet").read_bytes()


def test_csv_round_trip_equals_parquet(extract, tables, tmp_path):
    out = tmp_path / "csv"
    generate("tiny", 1, out, fmt="csv", progress=False)
    assert not list(out.glob("*.parquet"))
    for name in schema.ALL_TABLES:
        from_csv = _read(out, name)
        from_pq = tables[name]
        assert list(from_csv.columns) == list(from_pq.columns), name
        assert len(from_csv) == len(from_pq), name
        for col, kind in dict(schema.CONTRACT.get(name, [])).items():
            a, b = from_csv[col], from_pq[col]
            if kind in ("timestamp", "date"):
                assert (
                    pd.to_datetime(a).fillna(pd.Timestamp(0)) == pd.to_datetime(b).fillna(pd.Timestamp(0))
                ).all()
            elif kind == "int64":
                assert (a.astype("Int64").fillna(-1) == b.astype("Int64").fillna(-1)).all(), (name, col)
            else:
                assert (
                    a.astype(object).where(a.notna(), None).tolist()
                    == b.astype(object).where(b.notna(), None).tolist()
                ), (name, col)
    text = (out / "crimes.csv").read_text().splitlines()
    assert text[0].startswith('"crime_number","record_type"')
    assert ",true," in "\n".join(text[1:50]) or ",false," in "\n".join(text[1:50])


def test_zero_effects_thin_nothing_and_selection_still_regresses_to_the_mean(tmp_path):
    out = tmp_path / "zero"
    generate("demo", 3, out, progress=False, drive_effect=0.0, fd_effect=0.0)
    prog = json.loads((out / "_truth" / "programme_effects.json").read_text())
    assert prog["DRIVE"]["incidents_removed"] == 0 and prog["focused deterrence"]["incidents_removed"] == 0
    from synth.calibration import compute

    v = compute(out)
    assert v["reoffending_selected_cohort_before"] > 0.9
    assert v["reoffending_after_selection"] < 0.75  # the fall with no effect at all
    fd = _read(out, "programme_participants")
    fd = fd[fd["programme"] == "focused deterrence"]
    assert set(fd["arm"]) == {"treatment", "control"}
    assert abs((fd["arm"] == "treatment").mean() - 0.5) < 0.05


def test_separated_profiles_option(tmp_path):
    generate("tiny", 1, tmp_path, progress=False, separated_profiles=True)
    prof = pd.read_parquet(tmp_path / "_truth" / "offender_profiles.parquet")
    assert set(prof["profile"]) == set(catalogue.SEPARATED_PROFILES)


def test_bad_options_are_clear_errors(tmp_path, capsys):
    from dap.cli import main

    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(SynthError, match="unknown scale"):
        generate("huge", 1, tmp_path / "x")
    with pytest.raises(SynthError, match="seed"):
        generate("tiny", -1, tmp_path / "x")
    with pytest.raises(SynthError, match="not a directory"):
        generate("tiny", 1, a_file)
    with pytest.raises(SynthError, match="drive_effect"):
        generate("tiny", 1, tmp_path / "x", drive_effect=0.5)
    with pytest.raises(SynthError, match="unknown option"):
        generate("tiny", 1, tmp_path / "x", bogus=1)
    for argv, message in (
        (
            ["synth", "--scale", "huge", "--out", str(tmp_path / "y")],
            "scale must be one of tiny, demo, wmp, national or a positive number of offenders, got 'huge'",
        ),
        (["synth", "--scale", "0", "--out", str(tmp_path / "y")], "positive number of offenders"),
        (["synth", "--seed", "-3", "--out", str(tmp_path / "y")], "seed must be"),
        (["synth", "--drive-effect", "2", "--out", str(tmp_path / "y")], "between -1 and 0"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
    assert main(["synth", "--scale", "tiny", "--out", str(a_file)]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert main(["synth", "--scale", "tiny"]) == 2
    assert "--out" in capsys.readouterr().err


def test_if_missing_keeps_a_complete_extract(tmp_path, capsys):
    from dap.cli import main

    out = tmp_path / "e"
    assert main(["synth", "--scale", "tiny", "--seed", "2", "--out", str(out), "--quiet"]) == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert main(["synth", "--scale", "tiny", "--seed", "2", "--out", str(out), "--if-missing"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert before == {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    (out / "_truth" / "summary.json").unlink()
    assert (
        main(["synth", "--scale", "tiny", "--seed", "2", "--out", str(out), "--if-missing", "--quiet"]) == 0
    )
    assert is_complete(out)


def test_ages_and_missing_ages(tables, extract):
    prof = pd.read_parquet(extract / "_truth" / "offender_profiles.parquet")
    own = set(prof.loc[prof["missing_age"] == "own", "person_id"])
    o = tables["offenders"]
    assert o.loc[o["person_id"].isin(own), "age"].isna().all()
    assert o.loc[~o["person_id"].isin(own), "age"].notna().all()
    ages = o["age"].dropna()
    assert ages.between(10, 99).all() and 25 <= ages.median() <= 45
    assert np.isclose(prof["missing_age"].notna().mean(), 0.053, atol=0.03)


def test_multi_day_incidents_end_when_committed_not_when_reported(tmp_path):
    """Cluster 24's DA incidents often last several days (1–4 days before the committed time). With DA
    reporting delays of weeks to years, an incident must still end when it was committed, not when it was
    reported: its duration (a typology feature) is at most four days and two hours, plus up to a day where
    the start's time of day is unknown and recorded as 00:00 (before the fix: up to about three years)."""
    generate(20_000, 3, tmp_path, progress=False)
    crimes = pd.read_parquet(tmp_path / "crimes.parquet")
    offenders = pd.read_parquet(tmp_path / "offenders.parquet")
    truth = pd.read_parquet(
        tmp_path / "_truth" / "offender_profiles.parquet", columns=["person_id", "profile"]
    )
    cluster_24 = set(truth.loc[truth["profile"] == 24, "person_id"])
    numbers = set(offenders.loc[offenders["person_id"].isin(cluster_24), "crime_number"])
    da = crimes[crimes["crime_number"].isin(numbers) & crimes["committed_to"].notna()]
    da = da[da["da_flag"].fillna(False).astype(bool)]
    duration = da["committed_to"] - da["committed_from"]
    late = da["reported_at"] - da["committed_to"] > pd.Timedelta(days=7)
    assert (duration > pd.Timedelta(days=1)).sum() >= 20, "too few multi-day incidents to judge"
    assert late.sum() >= 5, "too few late reports of them to judge"
    assert duration.max() <= pd.Timedelta(days=5, hours=2), duration.max()
