"""Knowledge time, RFG banding and RFGV, the incident index's as-known queries, the robust Cox errors."""

import numpy as np
import pandas as pd
import pytest

from ml.evaluation import estimators as est
from ml.evaluation.effects import knowledge_pre_post
from ml.evaluation.incidents import IncidentIndex, VictimIndex, to_days
from ml.evaluation.matching import MatchingConfig, Sources, matching_covariates
from ml.evaluation.rfg import RFGConfig, gravity_thresholds_for, score_rfg


def _frame(rows):
    frame = pd.DataFrame(rows, columns=["offender_id", "started_on", "reported_at", "severity"])
    frame["is_da"] = True
    frame["cchi_days"] = frame["severity"] * 3
    frame["is_non_crime"] = False
    frame["risk_level"] = "standard"
    return frame


BASE = [
    ("A", "2019-03-01", "2019-03-01", 50),
    ("A", "2019-09-01", "2019-09-02", 20),
    ("B", "2019-06-01", "2019-06-01", 10),
    ("C", "2019-11-01", "2019-11-01", 400),
    ("Z", "2021-06-01", "2021-06-01", 1),  # keeps the extract open to mid-2021
]
AS_OF = "2020-01-01"


def test_a_late_report_changes_neither_the_selection_score_nor_the_pre_period():
    """An incident committed before the as-of date but reported after it was not known to the panel: the
    RFG snapshot, the matching covariates and the pre-period count at that date must not change."""
    late = BASE + [("A", "2019-12-20", "2020-03-15", 900), ("B", "2019-12-30", "2020-02-01", 5)]
    before, after = IncidentIndex.build(_frame(BASE)), IncidentIndex.build(_frame(late))
    config = RFGConfig()
    snap_before = score_rfg(before, [AS_OF], config)
    snap_after = score_rfg(after, [AS_OF], config)
    pd.testing.assert_frame_equal(snap_before, snap_after)
    codes = after.code_of(["A", "B", "C"])
    day = to_days([AS_OF] * 3)
    for measure in ("da_incidents", "harm_css", "harm_cchi"):
        pre_before = knowledge_pre_post(before, codes, day, 366, measure, lag=90).pre
        pre_after = knowledge_pre_post(after, codes, day, 366, measure, lag=90).pre
        np.testing.assert_array_equal(pre_before, pre_after)
    cov_before = matching_covariates(Sources(before), codes, day, config, {}, MatchingConfig())
    cov_after = matching_covariates(Sources(after), codes, day, config, {}, MatchingConfig())
    pd.testing.assert_frame_equal(cov_before, cov_after)
    # Known a day later, the same incidents do count: the rule is about when, not whether.
    later = score_rfg(after, ["2020-04-01"], config).set_index("offender_id")
    assert later.loc["A", "n_da_incidents_lookback"] == 3
    # Outcomes: committed in the window, reported within the lag of its close.
    post = knowledge_pre_post(
        after, after.code_of(["A"]), to_days(["2019-12-01"]), 30, "da_incidents", lag=90
    )
    assert post.post[0] == 1  # reported 2020-03-15, within 90 days of the window's close (2019-12-31)
    short = knowledge_pre_post(
        after, after.code_of(["A"]), to_days(["2019-12-01"]), 30, "da_incidents", lag=30
    )
    assert short.post[0] == 0


def test_as_known_queries_match_brute_force():
    rng = np.random.default_rng(4)
    n = 400
    committed = rng.integers(0, 700, n)
    delay = np.where(rng.random(n) < 0.7, 0, rng.integers(1, 400, n))
    frame = pd.DataFrame(
        {
            "offender_id": rng.choice(list("ABCDEFGH"), n),
            "started_on": pd.Timestamp("2018-01-01") + pd.to_timedelta(committed, "D"),
            "reported_at": pd.Timestamp("2018-01-01") + pd.to_timedelta(committed + delay, "D"),
            "is_da": True,
            "severity": rng.integers(1, 100, n).astype(float),
        }
    )
    index = IncidentIndex.build(frame)
    c_day, r_day = to_days(frame["started_on"]), to_days(frame["reported_at"])
    who = frame["offender_id"].to_numpy()
    for person in "ACH":
        for start, end, known in [(17600, 17800, 17700), (17500, 17900, 18200), (17550, 17560, 17555)]:
            mask = (who == person) & (c_day >= start) & (c_day < end) & (r_day < known)
            code = index.code_of([person])
            assert (
                index.window_sum(code, [start], [end], "harm_css", [known])[0]
                == frame["severity"][mask].sum()
            )
            prior = (who == person) & (c_day < end) & (r_day < known)
            expect = c_day[prior].max() if prior.any() else np.nan
            np.testing.assert_equal(index.last_before(code, [end], known_by=[known])[0], expect)
            nxt = (who == person) & (c_day >= start) & (r_day < known)
            expect = c_day[nxt].min() if nxt.any() else np.nan
            np.testing.assert_equal(index.first_on_or_after(code, [start], known_by=[known])[0], expect)


def test_gravity_bands_are_tie_robust():
    harm = np.array([0.0] * 45 + list(range(1, 56)), float)  # 45% of the pool with no harm
    bounds = gravity_thresholds_for(harm, RFGConfig())
    band = 1 + np.searchsorted(bounds, harm, side="right")
    assert (band[harm == 0] == 1).all()  # the old quintiles put them in band 3
    for value in np.unique(harm):
        assert len(set(band[harm == value])) == 1  # ties share a band
    assert band.max() == 5 and np.all(np.diff(band[np.argsort(harm)]) >= 0)
    assert gravity_thresholds_for(harm, RFGConfig(gravity_band_values=(1, 2, 3, 4))) == [1, 2, 3, 4]


def test_rfgv_adds_victims_and_flags_serial_perpetrators():
    incidents = _frame(BASE)
    index = IncidentIndex.build(incidents)
    victims = VictimIndex.build(
        pd.DataFrame(
            {
                "offender_id": ["A", "A", "B", "C"],
                "victim_id": ["V1", "V2", "V3", "V4"],
                "started_on": ["2019-03-01", "2019-09-01", "2019-06-01", "2019-11-01"],
                "reported_at": ["2019-03-01", "2019-09-02", "2019-06-01", "2019-11-01"],
            }
        ),
        index.offender_ids,
    )
    rfg = score_rfg(index, [AS_OF], RFGConfig(), victims).set_index("offender_id")
    rfgv = score_rfg(index, [AS_OF], RFGConfig(ranking="rfgv"), victims).set_index("offender_id")
    assert rfg.loc["A", "is_serial"] and not rfg.loc["B", "is_serial"]
    assert rfgv.loc["A", "rfg_score"] == rfg.loc["A", "rfg_score"] + 2  # two victims → victim score 2
    assert set(rfgv["ranking"]) == {"RFGV"} and set(rfg["ranking"]) == {"RFG"}
    assert rfgv["config_fingerprint"].iloc[0] != rfg["config_fingerprint"].iloc[0]
    without = score_rfg(index, [AS_OF], RFGConfig(ranking="rfgv"))
    assert without["ranking"].iloc[0].startswith("RFG (RFGV requested")


def test_cox_sandwich_matches_statsmodels_robust_errors():
    from statsmodels.duration.hazard_regression import PHReg

    rng = np.random.default_rng(0)
    n = 600
    strata = np.repeat(np.arange(150), 4)
    treated = np.arange(n) % 4 == 0
    time = rng.exponential(1 / np.where(treated, 0.7, 1.0))
    event = time < 1.5
    time = np.minimum(time, 1.5)
    clusters = np.where(treated, np.arange(n), rng.integers(0, 300, n) + 10_000)
    ours = est.cox_hazard_ratio(time, event, treated, strata=strata, clusters=clusters)
    fit = PHReg(
        np.maximum(time, 0.5),
        treated[:, None].astype(float),
        status=event.astype(int),
        strata=strata,
        ties="efron",
    ).fit(groups=clusters)
    se = (np.log(ours["ci_high"]) - np.log(ours["estimate"])) / est.Z95
    assert se == pytest.approx(float(fit.bse[0]), rel=1e-6)
