"""Section C on data too small for some of its models: they come back not estimable with a reason (the
publication rule), the estimated ones still satisfy what the blocking checks demand, and the report says
why where the figures would be."""

from __future__ import annotations

import html

import numpy as np
import pytest

from ml import regression as reg
from ml.estimability import ESTIMATED, NOT_ESTIMABLE
from ml.regression_report import regression_report_html
from ml.reporting import not_estimable_text


@pytest.mark.parametrize("n_offenders", [3, 8, 20, 60])
def test_tiny_section_c_degrades_and_never_publishes_a_wrong_figure(n_offenders):
    offenders, offences, _ = reg.simulate_section_c_inputs(
        n_offenders, n_codes=12, n_types=4, seed=n_offenders
    )
    onset, pre_da = reg.simulate_time_order(offenders, offences, seed=n_offenders)
    section = reg.fit_section_c(
        offenders, offences, onset=onset, pre_da_offences=pre_da, min_offenders_to_fit_code=1
    )
    fit, results = section.model_fit, section.results
    assert set(fit["status"]) <= {ESTIMATED, NOT_ESTIMABLE}
    assert (fit.loc[fit["status"] == NOT_ESTIMABLE, "reason"].str.len() > 0).all()
    if n_offenders <= 8:
        assert (fit["status"] == NOT_ESTIMABLE).any()
    # what regression_inference_valid and regression_residuals_finite judge: estimated rows only
    estimated = results.loc[(results["status"] == ESTIMATED) & (results["term_kind"] != "aliased")]
    assert (np.isfinite(estimated["std_error"]) & (estimated["std_error"] > 0)).all()
    assert (
        (estimated["ci_low"] <= estimated["estimate"]) & (estimated["estimate"] <= estimated["ci_high"])
    ).all()
    judged = fit.loc[fit["status"] == ESTIMATED]
    assert judged["residuals_finite"].all() and judged["converged"].all()
    # offenders with leverage 1 take only their own terms away (reported not estimable), never the model
    with_one = judged.loc[judged["n_leverage_one"] > 0]
    assert (with_one["n_not_estimable_terms"] > 0).all()
    for model, terms in zip(with_one["model"], with_one["not_estimable_terms"], strict=True):
        flagged = results.loc[(results["model"] == model) & (results["status"] == NOT_ESTIMABLE), "term"]
        assert set(terms.split("; ")) <= set(flagged)
    # not-estimable rows publish no figure
    blank = results.loc[results["status"] == NOT_ESTIMABLE, ["estimate", "std_error", "p_value", "ci_low"]]
    assert blank.isna().all().all()

    page = html.unescape(
        regression_report_html(
            results,
            section.validation,
            fit,
            reg.residual_sample(section.fits),
            min_offenders=section.min_offenders,
        )
    )
    for reason in fit.loc[fit["status"] == NOT_ESTIMABLE, "reason"]:
        assert not_estimable_text(reason) in page  # counts under 5 in a reason shown as <5


def test_no_risk_grades_means_risk_models_not_estimable_with_the_reason():
    offenders, offences, _ = reg.simulate_section_c_inputs(300, n_codes=12, n_types=4, seed=1)
    for column in ("first_da_risk_level", "first_non_crime_da_risk_level"):
        offenders[column] = None
    offenders["n_risk_assessments"] = 0
    offenders["ever_high_risk"] = None
    section = reg.fit_section_c(offenders, offences)
    risk = section.model_fit.loc[section.model_fit["model"].str.startswith("risk_")]
    assert len(risk) == 9 and (risk["status"] == NOT_ESTIMABLE).all()
    assert risk["reason"].str.startswith("no offender has").all()
    page = html.unescape(
        regression_report_html(
            section.results, section.validation, section.model_fit, min_offenders=section.min_offenders
        )
    )
    assert "First DA incident's risk grade: not estimable: no offender has a graded incident" in page
    for reason in risk["reason"]:
        assert not_estimable_text(reason) in page
