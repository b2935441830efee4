"""The matched estimates' regression adjustment, on a hand-worked matched design.

Selection within a propensity block: every treated person and every candidate has the same propensity (so
matching cannot tell them apart), but the panel took the people highest on the list, whose pre-period
count is 10 against the candidates' 2, 4 and 6. With no programme, the post-period rate regresses to the
mean: post = 2 + 0.3 × pre (per year). The treated then have 5 after selection; their matches, 2.6, 3.2
or 3.8. Unadjusted, the after-selection contrast reads the difference in levels as a harm and the DiD reads
the regression to the mean as a benefit. The regression adjustment carries each comparison to its treated
person's covariates (y_c + days · (x_t − x_c) β, β from a linear rate model fitted on the matches) and
recovers "no effect" in both, exactly here because the model is right.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.evaluation.matching import (
    MatchedDesign,
    MatchingConfig,
    fit_rate_ls,
    run_replicate,
)
from tests.evaluation.designs import one_period_design


def _hand_design(adjust: bool) -> MatchedDesign:
    n_t, n_c = 5, 60
    pre = np.r_[np.full(n_t, 10.0), 2.0 + 2.0 * (np.arange(n_c) % 3)]
    post = 2.0 + 0.3 * pre  # no programme effect: the same rule for everyone
    cov = pd.DataFrame({"da_incidents_block_-1": pre})
    config = MatchingConfig(outcome_adjustment=adjust, outcome_ridge=0.0)
    # one propensity for all: a single block
    return one_period_design(
        "da_incidents", pre, post, n_t, cov, config, np.zeros(2), outcome_covariates=True
    )


def test_unadjusted_matching_is_biased_by_selection_within_a_block():
    design = _hand_design(adjust=False)
    point = run_replicate(design, None, design.beta, keep_sets=True)
    assert point.n_matched_treated == 5
    matched_pre = design.outcomes.pre["da_incidents"][point.set_comparison]
    assert matched_pre.max() < 10  # every match is lower on the list than the treated
    assert point.log_post["da_incidents"] > 0.2  # the level difference reads as a harm
    assert point.log_did["da_incidents"] < -0.1  # the regression to the mean reads as a benefit


def test_regression_adjustment_recovers_no_effect():
    design = _hand_design(adjust=True)
    point = run_replicate(design, None, design.beta, keep_sets=True)
    assert abs(point.log_post["da_incidents"]) < 1e-6
    assert abs(point.log_did["da_incidents"]) < 1e-6
    assert abs(point.log_placebo["da_incidents"]) < 1e-6
    # a bootstrap replicate re-fits the outcome model on its own matches and stays exact here
    weights = np.r_[np.array([2, 0, 1, 1, 1]), np.ones(60)]
    rep = run_replicate(design, weights, design.beta)
    assert abs(rep.log_post["da_incidents"]) < 1e-6


def test_rate_model_is_a_weighted_least_squares_fit_of_rates():
    rng = np.random.default_rng(3)
    x = np.column_stack([np.ones(200), rng.normal(size=(200, 2))])
    days = rng.uniform(100, 365, 200)
    beta_true = np.array([0.02, 0.005, -0.003])
    y = days * (x @ beta_true)
    weights = rng.integers(1, 4, 200).astype(float)
    beta = fit_rate_ls(x, y, days, weights, ridge=0.0)
    np.testing.assert_allclose(beta, beta_true, atol=1e-10)
    # a ridge shrinks the slopes, never the intercept's share of the rate
    shrunk = fit_rate_ls(x, y, days, weights, ridge=1e9)
    assert np.all(np.abs(shrunk[1:]) < 1e-6)


def test_the_run_config_switches_the_adjustment():
    from orchestration.defs.evaluation import EvaluationAssetConfig

    assert EvaluationAssetConfig().to_evaluation_config().matching.outcome_adjustment is True
    plain = EvaluationAssetConfig(outcome_adjustment=False, outcome_ridge=2.5).to_evaluation_config().matching
    assert (plain.outcome_adjustment, plain.outcome_ridge) == (False, 2.5)
