"""Unit tests of ml.regression on synthetic data with known coefficients (no Dagster, no dbt)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests

from ml import regression as reg


def _small_problem(seed: int = 0, n: int = 400):
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    d1 = (rng.random(n) < 0.2).astype(float)
    d2 = (rng.random(n) < 0.05).astype(float)
    X = np.column_stack([np.ones(n), x1, d1, d2])
    # Heteroskedastic, skewed errors: the case robust standard errors are for.
    y = 10 + 2 * x1 + 30 * d1 + 0 * d2 + rng.exponential(5 + 10 * d1, size=n)
    return X, y


@pytest.mark.parametrize(
    "se_type,sm_cov", [("HC3", "HC3"), ("HC1", "HC1"), ("HC0", "HC0"), ("nonrobust", "nonrobust")]
)
@pytest.mark.parametrize("sparse", [False, True])
def test_ols_standard_errors_match_statsmodels(se_type, sm_cov, sparse):
    X, y = _small_problem()
    names = ["intercept", "x1", "d1", "d2"]
    fit = reg.fit_ols(
        sp.csr_matrix(X) if sparse else X,
        y,
        names,
        kinds=["intercept", "covariate", "indicator", "indicator"],
        se_type=se_type,
    )
    ref = sm.OLS(y, X).fit(cov_type=sm_cov, use_t=True)
    classical = sm.OLS(y, X).fit()
    np.testing.assert_allclose(fit.estimate, ref.params, rtol=1e-10)
    np.testing.assert_allclose(fit.std_error, ref.bse, rtol=1e-9)
    np.testing.assert_allclose(fit.std_error_classical, classical.bse, rtol=1e-9)
    np.testing.assert_allclose(fit.leverage, classical.get_influence().hat_matrix_diag, rtol=1e-9)
    assert fit.r_squared == pytest.approx(classical.rsquared, rel=1e-12)
    assert fit.adj_r_squared == pytest.approx(classical.rsquared_adj, rel=1e-12)
    table = reg.coefficient_table(fit)
    np.testing.assert_allclose(table["p_value"], ref.pvalues, rtol=1e-7, atol=1e-300)
    np.testing.assert_allclose(table[["ci_low", "ci_high"]].to_numpy(), ref.conf_int(), rtol=1e-9)
    np.testing.assert_allclose(table["p_value_classical"], classical.pvalues, rtol=1e-7, atol=1e-300)


def test_hc3max_takes_the_larger_standard_error():
    X, y = _small_problem(1)
    names = ["intercept", "x1", "d1", "d2"]
    hc3 = reg.fit_ols(X, y, names, se_type="HC3")
    larger = reg.fit_ols(X, y, names, se_type="HC3max")
    np.testing.assert_allclose(larger.std_error, np.maximum(hc3.std_error, hc3.std_error_classical))


def test_aliased_and_empty_columns_are_dropped_keeping_earlier_ones():
    X, y = _small_problem(2)
    duplicate = X[:, 2:3]
    empty = np.zeros((len(y), 1))
    design = np.hstack([X, duplicate, empty])
    names = ["intercept", "x1", "d1", "d2", "d1_again", "never"]
    fit = reg.fit_ols(sp.csr_matrix(design), y, names, kinds=["intercept"] + ["indicator"] * 5)
    assert fit.aliased == ["d1_again", "never"]
    np.testing.assert_allclose(fit.estimate, sm.OLS(y, X).fit().params, rtol=1e-9)
    table = reg.coefficient_table(fit)
    aliased = table.loc[table["term_kind"] == "aliased"]
    assert set(aliased["term"]) == {"d1_again", "never"}
    assert aliased["estimate"].isna().all() and (aliased["status"] == "not estimable").all()
    assert aliased["reason"].str.startswith("aliased").all()
    assert (table.loc[table["term_kind"] != "aliased", "status"] == "estimated").all()


def test_bh_qvalues_hand_example():
    # Sorted p: .005 .01 .03 .04 .20 → p·m/rank: .025 .025 .05 .05 .20 → running minimum from the top.
    p = [0.01, 0.04, 0.03, 0.005, 0.20]
    np.testing.assert_allclose(reg.bh_qvalues(p), [0.025, 0.05, 0.05, 0.025, 0.20])
    # NaN p-values are neither adjusted nor counted in m.
    np.testing.assert_allclose(reg.bh_qvalues([0.01, np.nan, 0.04]), [0.02, np.nan, 0.04])
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=200), rng.uniform(0, 1e-3, size=30)])
    np.testing.assert_allclose(reg.bh_qvalues(p), multipletests(p, method="fdr_bh")[1], rtol=1e-12)


def test_tweedie_matches_statsmodels_glm():
    rng = np.random.default_rng(4)
    n = 3000
    d = (rng.random((n, 3)) < [0.3, 0.1, 0.05]).astype(float)
    X = np.column_stack([np.ones(n), d])
    mu = np.exp(3 + d @ np.array([0.5, 1.0, 0.0]))
    y = rng.gamma(2.0, mu / 2.0) * (rng.random(n) < 0.9)
    names = ["intercept", "a", "b", "c"]
    fit = reg.fit_tweedie(sp.csr_matrix(X), y, names, var_power=1.5)
    family = sm.families.Tweedie(var_power=1.5, link=sm.families.links.Log())
    ref = sm.GLM(y, X, family=family).fit(tol=1e-12)
    assert fit.converged
    np.testing.assert_allclose(fit.estimate, ref.params, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fit.std_error_classical, ref.bse, rtol=1e-4)
    # Sandwich with the expected information as bread, computed densely by hand.
    m = np.exp(X @ fit.estimate)
    bread = np.linalg.inv((X * (m**0.5)[:, None]).T @ X)  # X'WX with W = mu^(2 - p)
    score = (y - m) * m**-0.5
    meat = (X * score[:, None] ** 2).T @ X
    np.testing.assert_allclose(fit.std_error, np.sqrt(np.diag(bread @ meat @ bread)), rtol=1e-5)


def test_indicator_design_uses_non_da_offences_once_per_offender():
    offenders = pd.Series(["a", "b", "c", "d"])
    offences = pd.DataFrame(
        {
            "offender_id": ["a", "a", "a", "b", "b", "c", "zz"],
            "offence_type": ["arson", "arson", "theft", "arson", "homicide", "theft", "arson"],
            "is_da": [False, False, False, False, True, pd.NA, False],
        }
    )
    non_da = reg.non_da_offences(offences)
    assert len(non_da) == 6  # the DA row is out; a missing DA label counts as non-DA
    design = reg.indicator_design(offenders, non_da, "offence_type")
    assert design.terms == ["arson", "theft"]
    np.testing.assert_array_equal(design.matrix.toarray(), [[1, 1], [1, 0], [0, 1], [0, 0]])
    np.testing.assert_array_equal(design.n_with_term, [2, 2])
    assert reg.indicator_design(offenders, non_da, "offence_type", min_offenders=3).terms == []


def test_controls_refuse_sex_and_ethnicity_and_derive_history():
    offenders = pd.DataFrame(
        {
            "n_non_da_incidents": [0, 2, 5],
            "modal_sex": ["m", "f", "m"],
            "non_da_volume_band": ["none", "low", "high"],
        }
    )
    controls = reg.resolve_controls(
        offenders, ["has_non_da_history", "n_non_da_incidents", "has_high_non_da_volume"]
    )
    np.testing.assert_array_equal(controls["has_non_da_history"], [0, 1, 1])
    np.testing.assert_array_equal(controls["has_high_non_da_volume"], [0, 0, 1])
    # The volume steps with fewer than 5 offenders per step merge down into one step for these three.
    steps = reg.resolve_controls(offenders, ["non_da_volume_steps"])
    assert list(steps.columns) == ["non_da_incidents[1+ incidents]"]
    np.testing.assert_array_equal(steps.iloc[:, 0], [0, 1, 1])
    for forbidden in ("modal_sex", "modal_ethnicity"):
        with pytest.raises(ValueError, match="never model covariates"):
            reg.resolve_controls(offenders, [forbidden])
    with pytest.raises(KeyError):
        reg.resolve_controls(offenders, ["no_such_column"])


def test_threshold_scales_with_data_size():
    assert reg.scaled_min_offenders(145_392) == 200
    assert reg.scaled_min_offenders(10_000) == 14
    assert reg.scaled_min_offenders(500) == 5  # never below the small-cell floor
    assert reg.scaled_min_offenders(145_392, base=100) == 100


def test_presentation_filter_is_applied_to_results_only():
    results = pd.DataFrame(
        {
            "model": "m",
            "term": list("abcde"),
            "term_label": list("ABCDE"),
            "term_kind": ["indicator", "indicator", "indicator", "indicator", "control"],
            "estimate": [700.0, 100.0, 900.0, 50.0, 5.0],
            "p_value": [0.001, 0.03, 0.2, 0.04, 0.0],
            "q_value": [0.004, 0.06, 0.2, 0.05, np.nan],
            "n_with_term": [554, 3089, 1000, 20, 10],
        }
    )
    # By default the filter is on the BH q-value: b has p = 0.03 but q = 0.06.
    shown = reg.presentation_filter(results, min_offenders=200)
    assert list(shown["term"]) == ["a"]
    assert list(shown["p_band"]) == ["p < 0.01"]  # the raw p is printed beside
    # The report's own filter, on raw p: c not significant, d too few offenders, e not an indicator.
    by_p = reg.presentation_filter(results, 200, significance_column="p_value")
    assert list(by_p["term"]) == ["a", "b"]
    assert list(by_p["p_band"]) == ["p < 0.01", "p < 0.05"]
    assert list(reg.top_significant(results, k=1, min_offenders=1)["term"]) == ["a"]
    # A not-estimable term is never shown, whatever its figures say.
    flagged = results.assign(status=["not estimable", "estimated", "estimated", "estimated", "estimated"])
    assert reg.presentation_filter(flagged, 200, significance_column="p_value")["term"].tolist() == ["b"]
    assert len(results) == 5  # untouched


def _replicate(planted_on: str, seeds, n: int, se_type: str = "HC3", adjusted: bool = True, **sim):
    """Fit the planted view on simulated data, seed by seed: the adjusted model (non-DA volume steps) or the
    headline (unadjusted) one. Indicators are assigned independently of the latent harm among offenders with
    non-DA history, and having non-DA history is independent of it too, so both are unbiased here."""
    tables = []
    for seed in seeds:
        offenders, offences, truth = reg.simulate_section_c_inputs(n, planted_on=planted_on, seed=seed, **sim)
        population = reg.da_perpetrators(offenders)
        controls = reg.DEFAULT_CONTROLS if adjusted else ()
        spec = reg.IndicatorModelSpec(planted_on, planted_on, None, controls, 10)
        (fit,) = reg.fit_indicator_model(
            population,
            reg.non_da_offences(offences),
            spec,
            se_type=se_type,
            sensitivity="none",
            adjusted_controls=None,
        )
        assert fit.n_obs == n == len(population) < len(offenders)  # the people without DA are out
        table = reg.coefficient_table(fit).merge(truth, on="term", how="inner")
        tables.append(table.assign(seed=seed))
    return pd.concat(tables, ignore_index=True)


def _assert_recovered(table: pd.DataFrame):
    planted = table.loc[table["planted"]]
    assert len(planted) > 0
    assert (planted["p_value"] < 0.05).all(), planted.loc[planted["p_value"] >= 0.05]
    covered = (planted["ci_low"] <= planted["true_effect"]) & (planted["true_effect"] <= planted["ci_high"])
    # 95% intervals: misses should be binomial(m, 0.05); fail only beyond its 99.9% quantile.
    assert (~covered).sum() <= stats.binom.ppf(0.999, len(planted), 0.05), planted.loc[~covered]


@pytest.mark.parametrize("adjusted", [True, False])
def test_planted_offence_type_effects_recovered_and_nulls_at_nominal_rate(adjusted):
    table = _replicate(
        "offence_type",
        range(12),
        6_000,
        adjusted=adjusted,
        n_codes=96,
        n_types=16,
        n_planted=4,
        effect_range=(80.0, 300.0),
    )
    _assert_recovered(table)
    nulls = table.loc[~table["planted"]]
    assert len(nulls) == 12 * 12
    rejected = int((nulls["p_value"] < 0.05).sum())
    assert rejected <= stats.binom.ppf(0.999, len(nulls), 0.05), rejected


def test_planted_offence_code_effects_recovered():
    table = _replicate("offence_code", range(4), 8_000, n_codes=80, n_planted=8)
    _assert_recovered(table)
    # Nulls held by enough offenders are rejected at about the nominal rate.
    common = table.loc[~table["planted"] & (table["n_with_term"] >= 50)]
    assert len(common) >= 40
    assert (common["p_value"] < 0.05).sum() <= stats.binom.ppf(0.999, len(common), 0.05)


def test_rare_null_offences_hc3max_is_not_anti_conservative():
    # With a skewed outcome, HC3 tests of indicators held by a handful of offenders over-reject (the
    # estimate and its robust SE come from the same few residuals). HC3max stays at or below nominal.
    table = _replicate("offence_code", range(3), 8_000, se_type="HC3max", n_codes=80, n_planted=4)
    rare = table.loc[~table["planted"] & (table["n_with_term"] < 50)]
    assert len(rare) >= 60
    assert (rare["p_value"] < 0.05).sum() <= stats.binom.ppf(0.999, len(rare), 0.05)


def test_risk_models_recover_known_coefficients():
    rng = np.random.default_rng(5)
    n = 20_000
    grade = rng.choice(["standard", "medium", "high"], size=n, p=[0.6, 0.28, 0.12])
    severity = rng.exponential(50, n)
    n_assess = 1 + rng.poisson(2, n)
    n_high = rng.binomial(n_assess, 0.15)
    share = n_high / n_assess
    y = (
        20
        + 40 * (grade == "medium")
        + 150 * (grade == "high")
        + 1.5 * severity
        + 300 * share
        + 5 * n_assess
        + rng.exponential(60, n)
    )
    offenders = pd.DataFrame(
        {
            "offender_id": np.arange(n),
            "total_da_severity": y,
            "first_da_risk_level": grade,
            "first_da_incident_severity": severity,
            "first_non_crime_da_risk_level": np.where(rng.random(n) < 0.5, grade, None),
            "n_risk_assessments": n_assess,
            "share_high_risk": share,
            "ever_high_risk": n_high > 0,
        }
    )
    fits = {f.model: reg.coefficient_table(f) for f in reg.fit_risk_models(offenders, sensitivity="none")}
    assert set(fits) == {"risk_first_non_crime", "risk_first_da", "risk_share_high"}
    first = fits["risk_first_da"].set_index("term")
    for term, truth in (
        ("first_da_risk_level[medium]", 40),
        ("first_da_risk_level[high]", 150),
        ("first_da_incident_severity", 1.5),
    ):
        assert abs(first.loc[term, "estimate"] - truth) < 4 * first.loc[term, "std_error"]
        assert first.loc[term, "p_value"] < 0.01
    share_fit = fits["risk_share_high"].set_index("term")
    assert (
        abs(share_fit.loc["share_high_risk", "estimate"] - 300)
        < 4 * share_fit.loc["share_high_risk", "std_error"]
    )
    assert fits["risk_first_non_crime"]["n_obs"].iloc[0] < n


def test_risk_assessment_validation_hand_example():
    offenders = pd.DataFrame(
        {
            "offender_id": list("abcdefgh"),
            "total_da_severity": [600.0, 100.0, 700.0, 50.0, 10.0, 20.0, 30.0, 520.0],
            "first_da_risk_level": [
                "high",
                "high",
                "medium",
                "medium",
                "standard",
                "standard",
                "standard",
                None,
            ],
            "first_non_crime_da_risk_level": [None] * 8,
            "ever_high_risk": [True, True, False, False, False, False, False, True],
        }
    )
    clusters = pd.DataFrame({"offender_id": list("abcdefgh"), "cluster": [1, 1, 1, 2, 2, 2, 2, 2]})
    table = reg.risk_assessment_validation(offenders, clusters)
    value = table.set_index(["section", "group", "measure"])["value"]
    assert value["first_da_grade", "high", "share_total_da_severity_ge_500"] == 0.5
    assert value["first_da_grade", "medium", "mean_total_da_severity"] == 375.0
    assert value["first_da_grade", "standard", "share_total_da_severity_ge_500"] == 0.0
    assert value["ever_high", "ever high", "median_total_da_severity"] == 520.0
    assert value["ever_high", "never high", "median_total_da_severity"] == 30.0
    assert value["ever_high", "ever vs never", "ratio_median_total_da_severity"] == pytest.approx(520 / 30)
    assert value["first_da_grade", "high vs medium", "ratio_mean_total_da_severity"] == pytest.approx(
        350 / 375
    )
    assert value["cluster", "1", "share_first_da_grade_high"] == pytest.approx(2 / 3)
    assert value["cluster", "2", "share_first_da_grade_high"] == 0.0  # h has no first grade: not counted
    # AUC of the grade for reaching 500: positives a (high), c (medium); negatives b(high), d(medium), e, f, g.
    assert value["first_da_grade", "all graded", "auc_total_da_severity_ge_500"] == pytest.approx(
        (0.5 + 1 + 1 + 1 + 1 + 0 + 0.5 + 1 + 1 + 1) / 10
    )
    assert table.loc[table["section"] == "first_non_crime_grade", "n_offenders"].fillna(0).max() == 0


def test_fit_section_c_and_report_html():
    from ml.regression_report import full_term_table, regression_report_html

    offenders, offences, _ = reg.simulate_section_c_inputs(4_000, n_codes=60, seed=7)
    onset, pre_da = reg.simulate_time_order(offenders, offences, seed=7)
    result = reg.fit_section_c(offenders, offences, onset=onset, pre_da_offences=pre_da)
    roles = result.model_fit.set_index("model")["role"]
    expected = {
        "offence_type": reg.ROLE_HEADLINE,
        "offence_code": reg.ROLE_HEADLINE,
        "offence_type_adjusted": reg.ROLE_ADJUSTED,
        "offence_code_adjusted": reg.ROLE_ADJUSTED,
        "offence_type_log1p": reg.ROLE_HEAVY_TAIL,
        "offence_code_tweedie": reg.ROLE_HEAVY_TAIL,
        "offence_type_pre_da": reg.ROLE_TIME_ORDERED,
        "offence_code_pre_da": reg.ROLE_TIME_ORDERED,
        "risk_first_non_crime": reg.ROLE_RISK,
        "risk_first_da": reg.ROLE_RISK,
        "risk_share_high": reg.ROLE_RISK,
    }
    for model, role in expected.items():
        assert roles[model] == role
    assert (result.model_fit["status"] == "estimated").all()
    assert set(result.results["model"]) == set(roles.index)
    for column in (
        "model",
        "term",
        "estimate",
        "std_error",
        "p_value",
        "q_value",
        "ci_low",
        "ci_high",
        "n_with_term",
        "n_obs",
        "status",
        "reason",
        "role",
    ):
        assert column in result.results.columns
    indicators = result.results.loc[result.results["term_kind"] == "indicator"]
    assert (
        indicators["q_value"].notna().all() and (indicators["q_value"] >= indicators["p_value"] - 1e-12).all()
    )
    assert result.results.loc[result.results["term_kind"] != "indicator", "q_value"].isna().all()
    assert result.model_fit["residuals_finite"].all() and result.model_fit["converged"].all()
    # The population: the 4,000 DA perpetrators, not the 200 people recorded only on non-DA crimes.
    assert result.population == {
        "n_offenders_in_marts": 4_200,
        "n_without_da_incident": 200,
        "n_da_without_outcome": 0,
        "n_da_perpetrators": 4_000,
    }
    assert result.min_offenders == reg.scaled_min_offenders(4_000)
    page = regression_report_html(
        result.results,
        result.validation,
        result.model_fit,
        reg.residual_sample(result.fits, 500),
        min_offenders=result.min_offenders,
        alpha=result.alpha,
        controls=result.controls,
    )
    assert "Figure 12: offence types with q (Benjamini–Hochberg) &lt; 0.05" in page
    assert "Figure 13: top 10 offences" in page and "Time-ordered" in page
    assert "200 people recorded only on non-DA crimes are left out" in page
    assert page.count("<img") >= 2  # coefficient plot and residual plot
    assert "Number of offenders with the offence" in page and "raw p" in page
    # Counts under 5 never appear: every fitted code has ≥ 10 offenders, so look at the rendered cells of
    # a table that has small counts instead.
    tiny = (
        result.results.loc[result.results["model"] == "offence_code"].head(3).assign(n_with_term=[3, 4, 12])
    )
    shown = full_term_table(tiny, "offence_code", "Offence")
    assert list(shown["offenders"].astype(str)) == ["<5", "<5", "12"]
