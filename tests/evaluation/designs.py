"""A one-period matched design built by hand, for tests of the matching's estimates and intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.evaluation.matching import MatchedDesign, MatchingConfig, _design, _Outcomes
from ml.evaluation.rfg import RFGConfig

YEAR = 365.0


def one_period_design(
    measure: str,
    pre: np.ndarray,
    post: np.ndarray,
    n_treated: int,
    covariates: pd.DataFrame,
    config: MatchingConfig,
    beta=None,
    outcome_covariates: bool = False,
) -> MatchedDesign:
    """The first ``n_treated`` rows are the selected people; every person observed one year before and one
    year after, one anchor date, everyone their own cluster. ``beta`` None fits the propensity model on the
    covariates; ``outcome_covariates`` adds the standardised raw covariates to the outcome model's design."""
    from ml.evaluation.matching import fit_logistic

    n = len(pre)
    is_treated = np.arange(n) < n_treated
    x, centre, scale = _design(covariates)
    x = np.column_stack([np.ones(n), x])
    x_outcome = x
    if outcome_covariates:
        raw = covariates.to_numpy(float)
        x_outcome = np.column_stack([x, (raw - raw.mean(0)) / raw.std(0)])
    days = np.full(n, YEAR)
    outcomes = _Outcomes(
        pre={measure: pre},
        pre_days=days,
        placebo_pre={measure: pre},
        placebo_pre_days=days,
        seg_row=np.arange(n),
        seg_cut=np.full(n, -1),
        seg_sum={measure: post},
        seg_days=days,
        cut_row=np.array([], np.int64),
        cut_x=np.zeros((0, x.shape[1])),
        cut_selected=np.array([], bool),
        cut_modelled=np.array([], bool),
        cut_rank=np.array([], np.int64),
    )
    codes = np.arange(n)
    return MatchedDesign(
        codes=codes,
        anchors=np.zeros(n),
        is_treated=is_treated,
        cluster=codes.copy(),
        stratum_treated=is_treated.copy(),
        covariates=covariates,
        x=x,
        centre=centre,
        scale=scale,
        thresholds={},
        outcomes=outcomes,
        measures=[measure],
        config=config,
        rfg=RFGConfig(),
        beta=fit_logistic(x, is_treated.astype(float)) if beta is None else beta,
        later_selection="keep",
        window_days=int(YEAR),
        n_treated_input=n_treated,
        x_outcome=x_outcome,
    )
