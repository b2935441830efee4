"""A heavy-tail sensitivity fit: a Tweedie GLM with log link by IRLS on the sparse design.

Total DA severity is zero-heavy and right-skewed; a Tweedie (compound Poisson–gamma, ``1 < p < 2``)
variance with a log link fits multiplicative effects without transforming the outcome. Standard errors are
the sandwich (robust to a wrong variance function) with the model-based ``phi (X'WX)^-1`` beside. An
optional ``offset`` (e.g. log of the years observed) makes the model one for a rate.

Terms resting on rows with leverage one (a term held by one offender) are handled as in
:mod:`ml.regression.ols`: leverage one is a property of the column space, the same for any positive
weights, so those rows and terms are found on the unweighted design, the GLM is fitted without them (the
other coefficients' maximum-likelihood estimates do not depend on them) and the terms are reported not
estimable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg as sla

from ml.estimability import NotEstimable
from ml.regression.constants import OUTCOME
from ml.regression.ols import (
    LEVERAGE_ONE_TOL,
    RegressionFit,
    design_columns,
    drop_aliased,
    leverage_one_reasons,
    leverages,
    sandwich,
    terms_identified_only_by,
)


def _tweedie_deviance(y: np.ndarray, mu: np.ndarray, power: float) -> float:
    p = power
    term_y = np.where(y > 0, np.power(np.where(y > 0, y, 1.0), 2 - p) / ((1 - p) * (2 - p)), 0.0)
    return float(2 * np.sum(term_y - y * np.power(mu, 1 - p) / (1 - p) + np.power(mu, 2 - p) / (2 - p)))


def fit_tweedie(
    X,
    y: np.ndarray,
    names: Sequence[str],
    *,
    var_power: float = 1.5,
    kinds: Sequence[str] | None = None,
    n_with_term: Sequence[float] | None = None,
    model: str = "",
    labels: dict[str, str] | None = None,
    offset: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-8,
    role: str = "",
) -> RegressionFit:
    """Tweedie GLM (``1 < var_power < 2``) with log link by IRLS on the sparse design.

    Estimates are on the log scale (``exp(estimate)`` is the ratio of expected total DA severity).
    ``std_error`` is the sandwich (robust to a wrong variance function); ``std_error_classical`` is the
    model-based ``phi (X'WX)^-1`` with Pearson ``phi``. Aliased columns are dropped as in
    :func:`ml.regression.ols.fit_ols`. ``offset`` is added to the linear predictor.
    """
    if not 1.0 < var_power < 2.0:
        raise ValueError("var_power must lie strictly between 1 and 2")
    X, names, kinds, n_with = design_columns(X, names, kinds, n_with_term)
    y = np.asarray(y, dtype=np.float64)
    if (y < 0).any():
        raise ValueError("a Tweedie outcome cannot be negative")
    if not (y > 0).any():
        raise NotEstimable("every outcome is zero: a log-link model has nothing to fit")
    if np.ptp(y) == 0:
        raise NotEstimable("the outcome is the same for every offender: there is no variation to explain")
    n_all = X.shape[0]
    offset_all = np.zeros(n_all) if offset is None else np.asarray(offset, dtype=np.float64)
    X, names, kinds, n_with, gram, aliased = drop_aliased(X, names, kinds, n_with)
    if n_all - X.shape[1] < 1:
        raise NotEstimable(f"{n_all} offenders for {X.shape[1]} parameters: no residual degree of freedom")
    # Leverage one on the unweighted design (the same rows as under any positive weights).
    h0 = leverages(X, sla.cho_solve(sla.cho_factor(gram, lower=True), np.eye(X.shape[1])))
    one = (1.0 - h0) <= LEVERAGE_ONE_TOL
    rows_one = np.flatnonzero(one)
    lost = terms_identified_only_by(X, gram, rows_one)
    reasons = leverage_one_reasons(X, rows_one, lost, names) if lost.any() else {}
    fit_rows = np.flatnonzero(~one)
    fit_cols = np.flatnonzero(~lost)
    Xf = X[fit_rows][:, fit_cols].tocsr()
    yf, off = y[fit_rows], offset_all[fit_rows]
    n, p = Xf.shape
    power = var_power
    mu = (yf + yf.mean()) / 2.0
    eta = np.log(mu)
    deviance = _tweedie_deviance(yf, mu, power)
    beta = np.zeros(p)
    converged = False
    iteration = 0
    while iteration < max_iter:
        iteration += 1
        weights = np.power(mu, 2.0 - power)  # (dmu/deta)² / V(mu) for the log link
        working = eta - off + (yf - mu) / mu
        gram_w = (Xf.T @ Xf.multiply(weights[:, None]).tocsr()).toarray()
        rhs = Xf.T @ (weights * working)
        try:
            new_beta = sla.cho_solve(sla.cho_factor(gram_w, lower=True), rhs)
        except np.linalg.LinAlgError:
            new_beta = np.linalg.lstsq(gram_w, rhs, rcond=None)[0]
        step = new_beta - beta
        for _ in range(30):  # step halving keeps the deviance from increasing
            candidate = beta + step
            new_eta = np.clip(Xf @ candidate + off, -50, 50)
            new_mu = np.exp(new_eta)
            new_deviance = _tweedie_deviance(yf, new_mu, power)
            if np.isfinite(new_deviance) and new_deviance <= deviance * (1 + 1e-12) + 1e-12:
                break
            step /= 2.0
        change = abs(deviance - new_deviance) / (abs(new_deviance) + 0.1)
        beta, eta, mu, deviance = candidate, new_eta, new_mu, new_deviance
        if change < tol:
            converged = True
            break
    weights = np.power(mu, 2.0 - power)
    gram_w = (Xf.T @ Xf.multiply(weights[:, None]).tocsr()).toarray()
    bread = sla.cho_solve(sla.cho_factor(gram_w, lower=True), np.eye(p))
    score = (yf - mu) * np.power(mu, 1.0 - power)
    cov_robust = sandwich(Xf, bread, score**2)
    df_resid = n - p
    phi = float(np.sum((yf - mu) ** 2 / np.power(mu, power)) / df_resid) if df_resid > 0 else np.nan
    null_mu = np.full(n, yf.mean()) if offset is None else np.exp(off) * yf.sum() / np.exp(off).sum()
    null_dev = _tweedie_deviance(yf, null_mu, power)
    # Back to the full rows and columns: the leverage-one rows are fitted exactly, their terms blank.
    estimate = np.full(X.shape[1], np.nan)
    estimate[fit_cols] = beta
    se = np.full(X.shape[1], np.nan)
    se[fit_cols] = np.sqrt(np.clip(np.diag(cov_robust), 0, None))
    se_classical = np.full(X.shape[1], np.nan)
    se_classical[fit_cols] = np.sqrt(np.clip(np.diag(phi * bread), 0, None))
    fitted = y.copy()
    fitted[fit_rows] = mu
    lev = np.ones(n_all)
    lev[fit_rows] = leverages(Xf, bread, weights)
    notes = [] if converged else [f"IRLS did not converge in {max_iter} iterations"]
    if len(rows_one):
        notes.append(
            f"{len(rows_one)} offender{'s' if len(rows_one) != 1 else ''} with leverage 1: "
            f"{', '.join(reasons) or 'no term'} not estimable; the model is fitted without them"
        )
    return RegressionFit(
        model=model,
        family="tweedie",
        outcome=f"log E[{OUTCOME}] (Tweedie p={var_power:g})",
        terms=names,
        term_kinds=kinds,
        estimate=estimate,
        std_error=se,
        std_error_classical=se_classical,
        se_type="sandwich",
        n_obs=n_all,
        df_resid=n_all - X.shape[1],
        r_squared=1.0 - deviance / null_dev if null_dev > 0 else np.nan,  # deviance explained
        adj_r_squared=np.nan,
        sigma=float(np.sqrt(phi)),
        fitted=fitted,
        resid=y - fitted,
        leverage=lev,
        n_with_term=n_with,
        aliased=aliased,
        labels=dict(labels or {}),
        converged=converged,
        iterations=iteration,
        notes=notes,
        not_estimable=reasons,
        n_leverage_one=len(rows_one),
        role=role,
    )
