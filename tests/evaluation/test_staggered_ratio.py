"""The library estimate's rate ratio ``a / (a − ATT)``: its interval counts the noise in ``a`` as well.

Checked against a direct simulation written here (people with their own rates, a DiD on them), not
against the estimator's own assumptions.
"""

import numpy as np
import pandas as pd
import pytest

from ml.estimability import NotEstimable
from ml.evaluation.staggered import ratio_interval, treated_mean_moments

TRUE_RATIO = 0.7


def _world(rng, n_t=300, n_c=600):
    """Selected and comparison people with gamma-distributed rates (heavy-ish tails), one period before and
    one after; the selected people's rate falls by 30% after, the comparisons' stays."""
    lam_t = rng.gamma(0.6, 2.0, n_t)
    lam_c = rng.gamma(0.6, 2.0, n_c)
    pre_t, post_t = rng.poisson(lam_t), rng.poisson(TRUE_RATIO * lam_t)
    pre_c, post_c = rng.poisson(lam_c), rng.poisson(lam_c)
    return pre_t, post_t, pre_c, post_c


def _by_hand(pre_t, post_t, pre_c, post_c):
    """The DiD's ATT and the moments of (a, ATT), from its influence function written out by hand."""
    d_t, d_c = post_t - pre_t, post_c - pre_c
    n_t, n_c = len(d_t), len(d_c)
    a = post_t.mean()
    att = d_t.mean() - d_c.mean()
    var_att = d_t.var(ddof=1) / n_t + d_c.var(ddof=1) / n_c
    var_a = post_t.var(ddof=1) / n_t
    cov = np.cov(post_t, d_t, ddof=1)[0, 1] / n_t
    return a, var_a, att, var_att, cov


def test_ratio_interval_covers_a_directly_simulated_ratio_and_its_se_matches_the_spread():
    rng = np.random.default_rng(20261125)
    logs, se_delta, se_fixed, covered, covered_fixed = [], [], [], 0, 0
    reps = 1500
    for _ in range(reps):
        a, var_a, att, var_att, cov = _by_hand(*_world(rng))
        r = ratio_interval(a, var_a, att, var_att, cov)
        logs.append(np.log(r["estimate"]))
        se_delta.append(r["std_error"])
        covered += r["ci_low"] <= TRUE_RATIO <= r["ci_high"]
        # The earlier interval: the ATT's interval mapped with ``a`` held fixed.
        lo, hi = att - 1.96 * np.sqrt(var_att), att + 1.96 * np.sqrt(var_att)
        se_fixed.append((np.log(a - lo) - np.log(a - hi)) / (2 * 1.96))
        covered_fixed += a / (a - lo) <= TRUE_RATIO <= a / (a - hi)
    spread = np.std(logs, ddof=1)
    # The log ratio's s.e. is its spread across worlds (within Monte-Carlo error), Fieller's interval
    # covers the truth about 95% of the time ...
    assert np.mean(se_delta) == pytest.approx(spread, rel=0.06)
    assert 0.93 <= covered / reps <= 0.97
    # ... where holding ``a`` fixed is short for a fall (here by about 9%; 92% coverage against 94%).
    assert np.mean(se_fixed) < 0.94 * spread
    assert covered_fixed < covered
    # Unbiased on the log scale to within a few Monte-Carlo s.e.
    assert abs(np.mean(logs) - np.log(TRUE_RATIO)) < 4 * spread / np.sqrt(reps) + 0.01


def test_at_no_effect_the_delta_interval_is_the_atts_own_to_first_order():
    # a = c: the gradient in a vanishes, whatever var(a) and the covariance are.
    r = ratio_interval(2.0, 0.09, 0.0, 0.04, 0.05)
    assert r["estimate"] == pytest.approx(1.0)
    assert r["std_error"] == pytest.approx(0.2 / 2.0)


def test_the_ratio_excludes_1_exactly_when_the_atts_own_test_rejects():
    # Fieller's interval at r = 1 is the ATT's Wald test, however noisy ``a`` is.
    for att, se in ((0.39, 0.2), (0.40, 0.2), (-0.39, 0.2), (-0.40, 0.2)):
        r = ratio_interval(2.0, 0.3, att, se**2, 0.1)
        rejects = abs(att) / se > 1.959963984540054
        assert (r["ci_low"] > 1 or r["ci_high"] < 1) == rejects
        assert (r["p_value"] < 0.05) == rejects


def test_no_rate_ratio_when_the_counterfactual_is_not_positive():
    with pytest.raises(NotEstimable, match="counterfactual"):
        ratio_interval(1.0, 0.01, 1.5, 0.04, 0.0)
    # Positive but indistinguishable from zero: the interval would be unbounded.
    with pytest.raises(NotEstimable, match="unbounded"):
        ratio_interval(1.0, 0.01, 0.8, 0.04, 0.0)


def test_treated_moments_without_covariates_are_the_did_influence_function():
    rng = np.random.default_rng(7)
    pre_t, post_t, pre_c, post_c = _world(rng, n_t=40, n_c=60)
    n_t, n_c = len(pre_t), len(pre_c)
    units = np.arange(n_t + n_c)
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "unit": units,
                    "period": period,
                    "first_treat": np.r_[np.full(n_t, 3), np.zeros(n_c, int)],
                    "is_treated": units < n_t,
                    "y": np.r_[t, c].astype(float),
                }
            )
            for period, t, c in ((2, pre_t, pre_c), (3, post_t, post_c))
        ],
        ignore_index=True,
    )
    a, var_a, cov = treated_mean_moments(frame, "y", [], post=(3,), base=2)
    ha, hvar_a, _, _, hcov = _by_hand(pre_t, post_t, pre_c, post_c)
    assert a == pytest.approx(ha)
    assert var_a == pytest.approx(hvar_a)
    assert cov == pytest.approx(hcov)
