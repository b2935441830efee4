"""The library estimator's panel and its bootstrap-t (ml/evaluation/staggered.py).

On a world from ``validation.dgp`` (written independently of the platform): a comparison selected at a later
date stays a comparison; each bootstrap resample keeps a person whole (every row, in every sub-panel, as one
new unit per sub-panel and one new cluster); and the published interval, test and p-value agree with each
other and with the bootstrap's critical value.
"""

import numpy as np
import pytest

from ml.evaluation import staggered
from ml.evaluation.matching import MatchingConfig, Sources
from ml.evaluation.rfg import RFGConfig
from validation.dgp import World, simulate
from validation.study import world_inputs

MEASURES = ["da_incidents", "harm_css"]


@pytest.fixture(scope="module")
def panel():
    data = simulate("recorded_harm", 0.0, 7, World(n_people=1200))
    index, codes, sel, every, prog = world_inputs(data)
    built = staggered.build_panel(
        Sources(index), codes[prog], sel[prog], every, MEASURES, 183, 90, RFGConfig(), MatchingConfig(), 300
    )
    return built, every


def test_only_the_dates_own_selection_is_treated_and_later_selections_stay_comparisons(panel):
    built, every = panel
    frame = built.frame
    assert set(frame["first_treat"]) == {0, 3}
    assert (frame["is_treated"] == (frame["first_treat"] == 3)).all()
    # Some comparison was selected at a later date (the world selects every six months from the top of
    # the same list) and is still a comparison, with all four periods.
    selected = np.flatnonzero(np.isfinite(every))
    later = frame.loc[~frame["is_treated"] & frame["cluster"].isin(selected)]
    assert len(later) > 0
    assert (later.groupby("unit")["period"].nunique() == 4).all()


def test_a_resample_keeps_each_drawn_person_whole(panel, monkeypatch):
    built, _ = panel
    seen = []

    def capture(frame, measure, covariates, method):
        seen.append(frame)
        raise staggered.NotEstimable("captured")

    monkeypatch.setattr(staggered, "_fit", capture)
    t = staggered.bootstrap_t(built.frame, "da_incidents", [], "reg", 0.0, reps=2, seed=1)
    assert len(t) == 0 and len(seen) == 2  # both resamples reached the fit, neither counted
    original = built.frame.loc[built.frame["period"] >= 2]
    rows_per_person = original.groupby("cluster").size()
    for resample in seen:
        assert resample["period"].min() == 2  # only the headline's periods are refitted
        assert resample["cluster"].nunique() == original["cluster"].nunique()  # n people drawn
        # Each new cluster is one drawn person: all of that person's rows, one new unit per original unit.
        assert resample.groupby(["unit"])["cluster"].nunique().max() == 1
        assert (resample.groupby("unit")["period"].nunique() == 3).all()
        size = resample.groupby("cluster").size()
        assert size.sum() == len(resample)
        assert set(size.unique()) <= set(rows_per_person.unique())


def test_interval_test_and_p_value_agree_with_the_bootstrap_critical_value(panel):
    built, _ = panel
    for m in MEASURES:
        r = staggered.callaway_santanna(built, m, method="dr", bootstrap_reps=39, seed=3)
        crit = r["critical_value"]
        assert crit > 0 and crit != pytest.approx(staggered.Z95)
        excludes = r["ci_low"] > 1 or r["ci_high"] < 1
        assert excludes == (abs(r["att"]) / r["att_se"] > crit)
        assert 1 / 40 <= r["p_value"] <= 1
        assert (r["p_value"] <= 0.05) == excludes
        assert "bootstrap-t" in r["note"] and "estimation method dr" in r["note"]
        # Fieller's interval at the bootstrap's critical value, recomputed here from the published parts.
        a, att = r["treated_post_mean"], r["att"]
        assert r["estimate"] == pytest.approx(a / (a - att))
        assert r["ci_low"] < r["estimate"] < r["ci_high"]


def test_without_resamples_the_interval_is_the_librarys_own(panel):
    built, _ = panel
    r = staggered.callaway_santanna(built, "da_incidents", method="reg", bootstrap_reps=0)
    assert r["critical_value"] == pytest.approx(staggered.Z95)
    assert "the library's normal interval" in r["note"]
    with pytest.raises(ValueError, match="unknown library method"):
        staggered.callaway_santanna(built, "da_incidents", method="ols")
