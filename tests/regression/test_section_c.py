"""Section C as the report meant it, on hand-worked examples: the population (DA perpetrators), the headline
(unadjusted) and adjusted models, the non-linear volume control and the time-ordered design."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from ml import regression as reg


def _offenders(ids, y, n_da, n_non_da=None):
    n = len(ids)
    return pd.DataFrame(
        {
            "offender_id": ids,
            "total_da_severity": np.asarray(y, dtype=float),
            "n_da_incidents": n_da,
            "n_non_da_incidents": n_non_da if n_non_da is not None else [1] * n,
            "non_da_volume_band": "low",
            "first_da_risk_level": pd.array([None] * n, dtype="string"),
            "first_da_incident_severity": np.nan,
            "first_non_crime_da_risk_level": pd.array([None] * n, dtype="string"),
            "n_risk_assessments": 0,
            "share_high_risk": np.nan,
            "ever_high_risk": False,
        }
    )


def _offences(pairs):
    return pd.DataFrame(
        [
            {"offender_id": o, "offence_type": t, "offence_code": t, "offence_description": t, "is_da": False}
            for o, t in pairs
        ]
    )


def test_population_is_da_perpetrators_hand_example():
    """Worked by hand. DA perpetrators P1-P8; arson held by P1-P3 (total DA severity 100, 300, 200: mean
    200), not by P4-P8 (50, 150, 80, 120, 100: mean 100). The headline estimate for arson is 200 - 100 = 100
    with intercept 100. N1 and N2 were recorded only on non-DA crimes (arson among them) and have total DA
    severity 0: let in, they would pull arson's group mean to (600 + 0 + 0) / 5 = 120 and its estimate to 20."""
    ids = [f"P{i}" for i in range(1, 9)] + ["N1", "N2"]
    y = [100, 300, 200, 50, 150, 80, 120, 100, 0, 0]
    offenders = _offenders(ids, y, n_da=[1] * 8 + [0, 0])
    offences = _offences(
        [("P1", "arson"), ("P2", "arson"), ("P3", "arson"), ("N1", "arson"), ("N2", "arson")]
    )
    result = reg.fit_section_c(
        offenders, offences, sensitivity="none", fit_adjusted=False, fit_time_ordered=False
    )
    headline = result.results.loc[result.results["model"] == "offence_type"].set_index("term")
    assert headline.loc["arson", "estimate"] == pytest.approx(100.0)
    assert headline.loc["intercept", "estimate"] == pytest.approx(100.0)
    assert headline.loc["arson", "n_with_term"] == 3 and headline.loc["arson", "n_obs"] == 8
    assert result.population == {
        "n_offenders_in_marts": 10,
        "n_without_da_incident": 2,
        "n_da_without_outcome": 0,
        "n_da_perpetrators": 8,
    }
    # What the old population would have given: everyone in dim_offenders.
    everyone = sm.OLS(
        np.array(y, float), np.column_stack([np.ones(10), [1, 1, 1, 0, 0, 0, 0, 0, 1, 1]])
    ).fit()
    assert everyone.params[1] == pytest.approx(20.0)


def test_da_perpetrators_needs_the_da_count():
    with pytest.raises(KeyError, match="n_da_incidents"):
        reg.da_perpetrators(pd.DataFrame({"offender_id": ["a"], "total_da_severity": [1.0]}))


def test_step_function_hand_example():
    """Edges 1, 2, 3, 5, 10, 20, 50 on 17 counts, at least 5 per step. Raw counts per step: [1,2) 5,
    [2,3) 5, [3,5) 2, [5,10) 1, [10,20) 1, [20,50) 0, [50,∞) 1. From the top, each step under 5 merges into
    the one below: 50+ into 20-49 (1), into 10-19 (2), into 5-9 (3), into 3-4 (5): three steps of five.
    The two zeros are the reference level."""
    values = [0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 4, 7, 12, 60]
    steps = reg.step_function(values, reg.NON_DA_VOLUME_EDGES, "v", "incidents")
    assert list(steps.columns) == ["v[1 incident]", "v[2 incidents]", "v[3+ incidents]"]
    np.testing.assert_array_equal(steps.sum().to_numpy(), [5, 5, 5])
    np.testing.assert_array_equal(steps.sum(axis=1).to_numpy(), [0, 0] + [1] * 15)
    # At least one per step: only the empty 20-49 merges (into 10-19, which then reads 10-49).
    fine = reg.step_function(values, reg.NON_DA_VOLUME_EDGES, "v", "incidents", min_count=1)
    assert list(fine.columns) == [
        "v[1 incident]",
        "v[2 incidents]",
        "v[3-4 incidents]",
        "v[5-9 incidents]",
        "v[10-49 incidents]",
        "v[50+ incidents]",
    ]
    years = reg.exposure_steps([0.2, 0.9, 1.0, 1.5, 8.5, 9.5], prefix="y")
    assert list(years.columns) == ["y[1+ years]"]  # under five per step: merged into one
    np.testing.assert_array_equal(years.iloc[:, 0], [0, 0, 1, 1, 1, 1])


def test_headline_is_unadjusted_and_adjusted_controls_for_volume_steps():
    offenders, offences, _ = reg.simulate_section_c_inputs(3_000, n_codes=30, seed=2)
    result = reg.fit_section_c(offenders, offences, sensitivity="none", fit_time_ordered=False)
    results = result.results
    headline = results.loc[results["model"] == "offence_type"]
    adjusted = results.loc[results["model"] == "offence_type_adjusted"]
    assert set(headline["term_kind"]) == {"intercept", "indicator"}  # the report's model: no controls
    controls = adjusted.loc[adjusted["term_kind"] == "control", "term"].tolist()
    assert controls and all(c.startswith("non_da_incidents[") for c in controls)
    assert set(headline.loc[headline["term_kind"] == "indicator", "term"]) == set(
        adjusted.loc[adjusted["term_kind"] == "indicator", "term"]
    )
    # The headline estimate of a term is the plain difference in means when it is the only term.
    population = reg.da_perpetrators(offenders)
    one = reg.fit_section_c(
        population,
        offences.loc[offences["offence_type"] == "type 00"],
        sensitivity="none",
        fit_adjusted=False,
        fit_time_ordered=False,
    )
    held = population["offender_id"].isin(offences.loc[offences["offence_type"] == "type 00", "offender_id"])
    y = population["total_da_severity"]
    estimate = one.results.set_index(["model", "term"]).loc[("offence_type", "type 00"), "estimate"]
    assert estimate == pytest.approx(y[held].mean() - y[~held].mean(), rel=1e-9)
    roles = result.model_fit.set_index("model")["controls"]
    assert roles["offence_type"] == "none" and roles["offence_type_adjusted"] == "non_da_volume_steps"


def test_time_ordered_design_hand_example():
    """Worked by hand. P1-P6 are DA perpetrators; P7 has no DA incident. Offences reported before the first
    DA incident (marts.fct_pre_da_offences): P1 theft, P3 arson, P3 theft, P7 arson (P7 is not in the
    population, so ignored). P2's burglary came after the DA harm: it is not in that mart, so it is no
    predictor. Years observed from the first DA report: 0.5, 1.5, 2.5, 4, 6, 8; with at least 5 per step
    every step merges into one, '1+ years' (P2-P6), against the reference 'under a year' (P1)."""
    ids = [f"P{i}" for i in range(1, 8)]
    offenders = _offenders(ids, [10, 20, 30, 40, 50, 60, 0], n_da=[1, 2, 1, 3, 1, 1, 0])
    onset = pd.DataFrame({"offender_id": ids[:6], "years_observed_from_first_da": [0.5, 1.5, 2.5, 4, 6, 8]})
    pre = _offences([("P1", "theft"), ("P3", "arson"), ("P3", "theft"), ("P7", "arson")])
    spec = reg.IndicatorModelSpec("offence_type", "offence_type", None, (), 1)
    parts, n_without_onset = reg.time_ordered_design(reg.da_perpetrators(offenders), onset, pre, spec)
    X, names, kinds, n_with, _ = parts.assemble()
    assert names == ["intercept", "years_observed_from_first_da[1+ years]", "arson", "theft"]
    assert kinds == ["intercept", "exposure", "indicator", "indicator"]
    np.testing.assert_array_equal(
        X.toarray(),
        [[1, 0, 0, 1], [1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]],
    )
    np.testing.assert_array_equal(parts.y, [10, 20, 30, 40, 50, 60])
    np.testing.assert_array_equal(n_with[1:], [5, 1, 2])
    assert n_without_onset == 0
    # A perpetrator without an onset row is counted, not silently lost.
    _, missing = reg.time_ordered_design(reg.da_perpetrators(offenders), onset.iloc[1:], pre, spec)
    assert missing == 1


def test_time_ordered_inputs_missing_is_not_estimable():
    offenders, offences, _ = reg.simulate_section_c_inputs(1_000, n_codes=20, seed=3)
    result = reg.fit_section_c(offenders, offences, sensitivity="none", fit_adjusted=False)
    failed = result.model_fit.set_index("model").loc[["offence_type_pre_da", "offence_code_pre_da"]]
    assert (failed["status"] == "not estimable").all()
    assert failed["reason"].str.contains("marts.dim_da_onset").all()
    # Their rows in regression_results say so too: one row each, no figures.
    rows = result.results.loc[result.results["model"].str.endswith("_pre_da")]
    assert list(rows["term"]) == ["(model)", "(model)"] and (rows["status"] == "not estimable").all()
    assert rows["estimate"].isna().all() and rows["reason"].str.contains("not built").all()


def test_exposure_term_removes_confounding_by_time_observed():
    """Simulated, independently of the estimator: 20,000 perpetrators whose first DA report falls uniformly
    in a 10-year window. DA harm accrues with the years observed after it (60 points a year); the chance of
    a non-DA offence before it grows with the look-back (10 − years after). Its true effect is 200. Without
    exposure term the estimate is biased down by about half (offences before DA go with short follow-up:
    about 95); with the yearly steps the mean of 5 seeds is within 5 points of 200 (measured: 199.5, with a
    Monte Carlo SE of about 0.7; steps approximate the straight line, and what is left is the within-step
    slope)."""
    estimates_with, estimates_without = [], []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        n = 20_000
        after = rng.uniform(0, 10, n)
        held = rng.random(n) < 0.05 + 0.04 * (10 - after)
        y = 100 + 60 * after + 200 * held + rng.gamma(2.0, 60.0, n) - 120.0
        ids = np.array([f"P{i}" for i in range(n)])
        offenders = _offenders(ids, y, n_da=[1] * n)
        onset = pd.DataFrame({"offender_id": ids, "years_observed_from_first_da": after})
        pre = _offences([(o, "arson") for o in ids[held]])
        spec = reg.IndicatorModelSpec("offence_type", "offence_type", None, (), 1)
        parts, _ = reg.time_ordered_design(offenders, onset, pre, spec)
        X, names, kinds, n_with, _ = parts.assemble()
        fit = reg.fit_ols(X, parts.y, names, kinds=kinds)
        estimates_with.append(fit.estimate[names.index("arson")])
        naive = sm.OLS(parts.y, np.column_stack([np.ones(n), held.astype(float)])).fit()
        estimates_without.append(naive.params[1])
    bias_with = np.mean(estimates_with) - 200
    bias_without = np.mean(estimates_without) - 200
    assert bias_without < -100  # badly confounded without the exposure term
    assert abs(bias_with) < 5, estimates_with
