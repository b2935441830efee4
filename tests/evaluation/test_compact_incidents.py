"""The evaluation reads incidents coded (a categorical offender id, no string per row): the index built from
that frame is the one built from strings, array for array, and the victim index counts what a brute-force
count over the rows gives."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.evaluation.incidents import IncidentIndex, VictimIndex, to_days


def _incidents(seed: int = 7, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.array([f"P{i:04d}" for i in range(400)], dtype=object)
    committed = pd.Timestamp("2018-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D")
    lag = np.where(rng.random(n) < 0.2, rng.integers(1, 200, n), 0)
    frame = pd.DataFrame(
        {
            "offender_id": ids[rng.integers(0, 300, n)],
            "is_da": rng.random(n) < 0.7,
            "started_on": committed,
            "reported_at": committed + pd.to_timedelta(lag, unit="D"),
            "severity": rng.gamma(1.0, 30.0, n),
            "cchi_days": rng.gamma(1.0, 10.0, n),
            "is_non_crime": rng.random(n) < 0.2,
            "risk_level": rng.choice(np.array(["standard", "medium", "high"], dtype=object), n),
        }
    )
    frame.loc[rng.random(n) < 0.01, "offender_id"] = None
    return frame, ids


def _coded(frame: pd.DataFrame, ids) -> pd.DataFrame:
    out = frame.copy()
    out["offender_id"] = pd.Categorical(frame["offender_id"], categories=np.sort(ids))
    out["risk_level"] = pd.Categorical(frame["risk_level"])
    return out


def test_a_categorical_frame_builds_the_same_index_as_strings():
    frame, ids = _incidents()
    for which in ("da", "non_da", "all"):
        given = ids[::2]  # some offenders without incidents, some incidents of offenders not given
        plain = IncidentIndex.build(frame, offender_ids=given, which=which)
        coded = IncidentIndex.build(_coded(frame, ids), offender_ids=given, which=which)
        assert plain.offender_ids.equals(coded.offender_ids)
        for name in ("codes", "days", "reported", "keys", "late"):
            np.testing.assert_array_equal(getattr(plain, name), getattr(coded, name))
        assert plain.cumsums.keys() == coded.cumsums.keys()
        for measure, sums in plain.cumsums.items():
            np.testing.assert_array_equal(sums, coded.cumsums[measure])  # bit for bit


def test_distinct_victims_match_a_count_over_the_rows():
    rng = np.random.default_rng(3)
    frame, ids = _incidents(seed=11, n=1500)
    frame = frame.dropna(subset=["offender_id"])
    rows = pd.DataFrame(
        {
            "offender_id": frame["offender_id"].to_numpy(),
            "victim_id": np.array([f"V{v}" for v in rng.integers(0, 250, len(frame))], dtype=object),
            "started_on": frame["started_on"].to_numpy(),
            "reported_at": frame["reported_at"].to_numpy(),
        }
    )
    index = IncidentIndex.build(frame.assign(is_da=True), offender_ids=ids)
    as_of = to_days(["2020-06-01"])[0]
    start = as_of - 1095
    brute = (
        rows.assign(c=to_days(rows["started_on"]), r=to_days(rows["reported_at"]))
        .query("c >= @start and c < @as_of and r < @as_of")
        .groupby("offender_id")["victim_id"]
        .nunique()
    )
    expected = brute.reindex(index.offender_ids, fill_value=0).to_numpy(dtype=float)
    codes = np.arange(len(index.offender_ids))
    for victims in (
        VictimIndex.build(rows, index.offender_ids),
        VictimIndex.build(
            rows.assign(
                offender_id=pd.Categorical(rows["offender_id"], categories=index.offender_ids),
                victim_id=pd.factorize(rows["victim_id"], sort=True)[0].astype(np.int32),
            ),
            index.offender_ids,
        ),
    ):
        got = victims.distinct(codes, np.full(len(codes), start), np.full(len(codes), as_of), known_by=as_of)
        np.testing.assert_array_equal(got, expected)
