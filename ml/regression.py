"""Section C of seed 000: how non-DA offending and the first risk assessment relate to total DA harm.

Pure functions on pandas frames and numpy/scipy arrays (no Dagster, no dbt):

* design building: offender × indicator matrices from ``marts.dim_offenders`` and the **non-DA** rows of
  ``marts.fct_offences`` (one indicator per broad ``offence_type`` — Figure 12's view — or per specific
  ``offence_code`` — Figure 13's view);
* a sparse least-squares engine (:func:`fit_ols`) with heteroskedasticity-robust (HC0/HC1/HC3) and
  classical standard errors side by side. Leverages ``h_ii = x_i (X'X)^-1 x_i'`` are computed row-block by
  row-block from the sparse design, never through an n × n hat matrix, so hundreds of indicator columns
  at 145k offenders fit in seconds;
* a heavy-tail sensitivity fit: a Tweedie GLM with log link fitted by IRLS on the same sparse design
  (:func:`fit_tweedie`, sandwich standard errors) and OLS on ``log1p(total DA severity)``;
* Benjamini–Hochberg q-values (:func:`bh_qvalues`);
* the three risk-assessment models and their descriptives;
* the report's presentation filter (p < alpha and at least ``min_offenders`` offenders with the term,
  200 at the report's 145,392 offenders, scaled to the data's size) — applied to results, never to a fit.

Never use sex or ethnicity as covariates: :func:`resolve_controls` refuses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.linalg as sla
import scipy.sparse as sp
from scipy import stats

from ml.estimability import ESTIMATED, NOT_ESTIMABLE, attempt

# --- The seed's choices, named --------------------------------------------------------------------------
REPORT_N_OFFENDERS = 145_392  # offenders in the seed-000 data set (§3.1)
REPORT_MIN_OFFENDERS = 200  # Figure 12's filter: "committed by 200 or more offenders"
DEFAULT_ALPHA = 0.05  # the report's significance level
HIGH_HARM_THRESHOLD = 500  # "reaching total DA severity of 500" (roughly one indecent assault on a female)
RISK_LEVELS = ("standard", "medium", "high")  # DARA grades, reference level first
OUTCOME = "total_da_severity"

# Default controls for the indicator models. Offenders without non-DA history have every indicator at 0,
# and offenders with a longer non-DA history have more distinct offence types simply by volume; both are
# related to DA harm through the offender's overall profile. Controlling for "any non-DA history" and for
# the number of non-DA incidents makes each indicator's estimate a comparison among offenders with a
# similar amount of non-DA offending — the contrast the Section C text reads it as.
DEFAULT_CONTROLS = ("has_non_da_history", "n_non_da_incidents")
DERIVED_CONTROLS = ("has_non_da_history", "log1p_n_non_da_incidents", "has_high_non_da_volume")
_FORBIDDEN_COVARIATE_WORDS = ("sex", "ethnic", "gender", "race")

# "HC3max" takes, term by term, the larger of HC3 and classical: robust standard errors are biased down for
# rare indicators when the outcome is skewed (few offenders carry the term, and its HC3 variance comes from
# their residuals alone), and the larger of the two guards against that (Angrist & Pischke, MHE §8.2).
SE_TYPES = ("HC3", "HC3max", "HC1", "HC0", "nonrobust")
SENSITIVITY_FAMILIES = ("tweedie", "log1p", "both", "none")

_ROW_BLOCK = 16_384  # rows per block when computing leverages (bounds memory at ~p × 16k doubles)


# --- Scaling the report's threshold ---------------------------------------------------------------------
def scaled_min_offenders(
    n_offenders: int, base: int = REPORT_MIN_OFFENDERS, base_n: int = REPORT_N_OFFENDERS, floor: int = 5
) -> int:
    """The report's "200 or more offenders" rescaled to a data set of ``n_offenders`` (never below ``floor``,
    which is also the small-cell threshold of published tables)."""
    return max(int(floor), int(round(base * n_offenders / base_n)))


# --- Design ---------------------------------------------------------------------------------------------
@dataclass
class IndicatorDesign:
    """A sparse 0/1 offender × term matrix (rows in ``offender_ids`` order)."""

    offender_ids: np.ndarray
    matrix: sp.csr_matrix
    terms: list[str]
    n_with_term: np.ndarray
    labels: dict[str, str] = field(default_factory=dict)

    def keep(self, mask: np.ndarray) -> IndicatorDesign:
        idx = np.flatnonzero(mask)
        return IndicatorDesign(
            self.offender_ids,
            self.matrix[:, idx].tocsr(),
            [self.terms[i] for i in idx],
            self.n_with_term[idx],
            {t: self.labels[t] for t in (self.terms[i] for i in idx) if t in self.labels},
        )


def non_da_offences(offences: pd.DataFrame) -> pd.DataFrame:
    """The offences of non-DA incidents (non-crime records included, as Figure 13 lists licence recalls)."""
    is_da = offences["is_da"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    return offences.loc[~is_da]


def indicator_design(
    offender_ids: Sequence | np.ndarray,
    offences: pd.DataFrame,
    term_column: str,
    label_column: str | None = None,
    min_offenders: int = 1,
) -> IndicatorDesign:
    """One indicator per value of ``term_column``: 1 if the offender has at least one such offence.

    ``offences`` should already be restricted to the rows that count (e.g. :func:`non_da_offences`).
    Terms held by fewer than ``min_offenders`` offenders are left out (and can never be all-zero).
    """
    offender_ids = np.asarray(offender_ids)
    index = pd.Index(offender_ids)
    pairs = offences[["offender_id", term_column]].dropna().drop_duplicates()
    rows = index.get_indexer(pairs["offender_id"])
    pairs = pairs.loc[rows >= 0]
    rows = rows[rows >= 0]
    codes, uniques = pd.factorize(pairs[term_column].astype(str), sort=True)
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float64), (rows, codes)), shape=(len(index), len(uniques))
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    n_with = np.asarray((matrix > 0).sum(axis=0)).ravel()
    labels: dict[str, str] = {}
    if label_column is not None and label_column in offences.columns:
        first = (
            offences[[term_column, label_column]]
            .dropna()
            .astype(str)
            .drop_duplicates(subset=[term_column])
            .set_index(term_column)[label_column]
        )
        labels = first.to_dict()
    design = IndicatorDesign(offender_ids, matrix, [str(u) for u in uniques], n_with, labels)
    return design.keep(n_with >= max(1, int(min_offenders)))


def resolve_controls(offenders: pd.DataFrame, controls: Sequence[str]) -> pd.DataFrame:
    """Numeric control columns for the indicator models, by name.

    Derived names: ``has_non_da_history`` (n_non_da_incidents > 0), ``log1p_n_non_da_incidents``,
    ``has_high_non_da_volume`` (non_da_volume_band == 'high'); any other name must be a numeric (or boolean)
    column of ``dim_offenders``. Sex, gender, ethnicity and race are refused.
    """
    out = {}
    for name in controls:
        if any(word in name.lower() for word in _FORBIDDEN_COVARIATE_WORDS):
            raise ValueError(f"{name!r}: sex and ethnicity are never model covariates")
        n_non_da = pd.to_numeric(offenders.get("n_non_da_incidents"), errors="coerce")
        if name == "has_non_da_history":
            out[name] = (n_non_da.fillna(0) > 0).astype(float)
        elif name == "log1p_n_non_da_incidents":
            out[name] = np.log1p(n_non_da.fillna(0).astype(float))
        elif name == "has_high_non_da_volume":
            out[name] = (offenders["non_da_volume_band"].astype(str) == "high").astype(float)
        elif name in offenders.columns:
            column = offenders[name]
            if column.dtype == bool or str(column.dtype) == "boolean":
                column = column.astype("boolean").fillna(False).astype(float)
            out[name] = pd.to_numeric(column, errors="raise").astype(float)
        else:
            raise KeyError(f"unknown control {name!r}: not derived and not a column of dim_offenders")
    return pd.DataFrame(out, index=offenders.index)


# --- Fits -----------------------------------------------------------------------------------------------
@dataclass
class RegressionFit:
    """A fitted linear or log-link model, its two covariance estimates and its diagnostics."""

    model: str
    family: str  # 'ols' or 'tweedie'
    outcome: str  # what was regressed ('total_da_severity', 'log1p(total_da_severity)')
    terms: list[str]
    term_kinds: list[str]  # 'intercept', 'control', 'indicator', 'covariate'
    estimate: np.ndarray
    std_error: np.ndarray  # of ``se_type``
    std_error_classical: np.ndarray  # model-based (sigma² (X'X)^-1; phi × bread for a GLM)
    se_type: str
    n_obs: int
    df_resid: int
    r_squared: float
    adj_r_squared: float
    sigma: float
    fitted: np.ndarray
    resid: np.ndarray
    leverage: np.ndarray
    n_with_term: np.ndarray  # offenders with a non-zero value of the term (indicators), NaN otherwise
    aliased: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    converged: bool = True
    iterations: int = 0
    notes: list[str] = field(default_factory=list)
    status: str = ESTIMATED  # or 'not estimable' (ml.estimability): then ``reason`` says why
    reason: str = ""


def _not_estimable_reason(fit: RegressionFit) -> str:
    """Why a fit cannot be published on this data ('' when it can): too few offenders for its parameters,
    an outcome without variation, no convergence, or standard errors that do not exist (leverage-one rows
    under HC3, a perfect fit)."""
    if fit.n_obs == 0:
        return "no offenders with the outcome and every covariate of this model"
    if fit.df_resid <= 0:
        return f"{fit.n_obs} offenders for {len(fit.terms)} parameters: too few to fit"
    y = fit.fitted + fit.resid
    if np.ptp(y) == 0:
        return f"{fit.outcome} is the same for all {fit.n_obs} offenders: nothing to explain"
    if not fit.converged:
        return f"the fit did not converge in {fit.iterations} iterations"
    if not (np.isfinite(fit.resid).all() and np.isfinite(fit.fitted).all()):
        return "the fit gives residuals that are not finite"
    one = int((fit.leverage >= 1 - 1e-8).sum()) if fit.se_type != "nonrobust" else 0
    if one:  # a robust (sandwich) variance has nothing to estimate a term only they hold from
        return (
            f"{one} offender(s) with leverage 1 (fitted exactly: too few offenders share their terms), "
            f"so {fit.se_type} standard errors are undefined"
        )
    if not (np.isfinite(fit.std_error).all() and (fit.std_error > 0).all()):
        if np.allclose(fit.resid, 0):
            return "a perfect fit (no residual variation): standard errors are zero"
        return "standard errors are not finite on this data"
    return ""


def _judged(fit: RegressionFit) -> RegressionFit:
    reason = _not_estimable_reason(fit)
    if reason:
        fit.status, fit.reason = NOT_ESTIMABLE, reason
    return fit


def _unfitted(model: str, family: str, outcome: str, names, kinds, n_with, labels, n_obs: int, reason: str):
    """The record of a model that could not be fitted: its terms, no figures, and the reason."""
    p = len(names)
    nan = np.full(p, np.nan)
    return RegressionFit(
        model=model, family=family, outcome=outcome, terms=list(names), term_kinds=list(kinds),
        estimate=nan, std_error=nan, std_error_classical=nan, se_type="", n_obs=int(n_obs),
        df_resid=int(n_obs) - p, r_squared=np.nan, adj_r_squared=np.nan, sigma=np.nan,
        fitted=np.zeros(0), resid=np.zeros(0), leverage=np.zeros(0),
        n_with_term=np.asarray(n_with if n_with is not None else nan, dtype=float), labels=dict(labels or {}),
        converged=False, status=NOT_ESTIMABLE, reason=reason,
    )  # fmt: skip


def fit_model(fitter, X, y, names, *, model: str, **options) -> RegressionFit:
    """Fit one Section C model through the estimability wrapper: a model the data cannot support (a
    singular design, too few offenders, no variation, undefined standard errors) comes back as a
    not-estimable record with its reason instead of stopping the run."""
    family = "tweedie" if fitter is fit_tweedie else "ols"
    outcome = options.get("outcome", OUTCOME)
    n_obs = int(np.shape(y)[0])
    if n_obs == 0:
        reason = "no offenders with the outcome and every covariate of this model"
    else:
        fitted = attempt(model, fitter, X, y, names, model=model, **options)
        if fitted.ok:
            return _judged(fitted.value)
        reason = fitted.reason
    return _unfitted(
        model, family, outcome, names, options.get("kinds") or ["covariate"] * len(names),
        options.get("n_with_term"), options.get("labels"), n_obs, reason,
    )  # fmt: skip


def _as_csr(X) -> sp.csr_matrix:
    return X.tocsr().astype(np.float64) if sp.issparse(X) else sp.csr_matrix(np.asarray(X, dtype=np.float64))


def _keep_estimable(xtx: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Columns to keep so the Gram matrix is positive definite, preferring earlier columns (as R's ``lm``
    does: an aliased column is dropped, the ones before it are kept). Zero columns are always dropped."""
    diag = np.diag(xtx).copy()
    nonzero = diag > 0
    scale = np.where(nonzero, np.sqrt(np.where(nonzero, diag, 1.0)), 1.0)
    corr = xtx / scale[:, None] / scale[None, :]
    try:
        L = np.linalg.cholesky(corr[np.ix_(nonzero, nonzero)])
        if np.all(np.diag(L) ** 2 > tol):
            return nonzero
    except np.linalg.LinAlgError:
        pass
    # Sequential Cholesky in column order, skipping columns whose residual variance (given the columns
    # kept before them) is below ``tol``.
    keep: list[int] = []
    L = np.zeros((0, 0))
    for j in range(len(diag)):
        if not nonzero[j]:
            continue
        a = corr[keep, j] if keep else np.zeros(0)
        l_row = sla.solve_triangular(L, a, lower=True) if keep else np.zeros(0)
        d = corr[j, j] - l_row @ l_row
        if d <= tol:
            continue
        size = len(keep)
        new_L = np.zeros((size + 1, size + 1))
        new_L[:size, :size] = L
        new_L[size, :size] = l_row
        new_L[size, size] = np.sqrt(d)
        L = new_L
        keep.append(j)
    mask = np.zeros(len(diag), dtype=bool)
    mask[keep] = True
    return mask


def _leverages(X: sp.csr_matrix, inv_gram: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """``h_i = w_i x_i A x_i'`` block by block (A = (X'WX)^-1)."""
    n = X.shape[0]
    h = np.empty(n)
    for start in range(0, n, _ROW_BLOCK):
        block = X[start : start + _ROW_BLOCK]
        projected = np.asarray(block @ inv_gram)
        h[start : start + block.shape[0]] = np.asarray(block.multiply(projected).sum(axis=1)).ravel()
    if weights is not None:
        h *= weights
    return h


def _sandwich(X: sp.csr_matrix, bread: np.ndarray, score_sq: np.ndarray) -> np.ndarray:
    meat = (X.T @ X.multiply(score_sq[:, None]).tocsr()).toarray()
    return bread @ meat @ bread


def _design_columns(
    X, names: Sequence[str], kinds: Sequence[str] | None, n_with_term: Sequence[float] | None
) -> tuple[sp.csr_matrix, list[str], list[str], np.ndarray]:
    X = _as_csr(X)
    names = list(names)
    if X.shape[1] != len(names):
        raise ValueError(f"{X.shape[1]} design columns but {len(names)} names")
    kinds = list(kinds) if kinds is not None else ["covariate"] * len(names)
    n_with = np.asarray(n_with_term, dtype=float) if n_with_term is not None else np.full(len(names), np.nan)
    return X, names, kinds, n_with


def fit_ols(
    X,
    y: np.ndarray,
    names: Sequence[str],
    *,
    kinds: Sequence[str] | None = None,
    n_with_term: Sequence[float] | None = None,
    se_type: str = "HC3",
    model: str = "",
    outcome: str = OUTCOME,
    labels: dict[str, str] | None = None,
) -> RegressionFit:
    """Ordinary least squares on a (sparse or dense) design that already holds the intercept column.

    Standard errors: ``se_type`` (HC3 by default: ``e_i² / (1 − h_ii)²`` in the sandwich; ``HC3max`` the
    larger of HC3 and classical, term by term) and classical (``sigma² (X'X)^-1``) beside it. Aliased or all-zero columns are dropped (listed in ``aliased``), keeping
    earlier columns first. Leverage-one rows make HC3 undefined; their standard errors come out as NaN.
    """
    if se_type not in SE_TYPES:
        raise ValueError(f"se_type must be one of {SE_TYPES}")
    X, names, kinds, n_with = _design_columns(X, names, kinds, n_with_term)
    y = np.asarray(y, dtype=np.float64)
    gram = (X.T @ X).toarray()
    keep = _keep_estimable(gram)
    aliased = [n for n, k in zip(names, keep, strict=True) if not k]
    if not keep.all():
        X = X[:, np.flatnonzero(keep)].tocsr()
        gram = gram[np.ix_(keep, keep)]
        names = [n for n, k in zip(names, keep, strict=True) if k]
        kinds = [t for t, k in zip(kinds, keep, strict=True) if k]
        n_with = n_with[keep]
    n, p = X.shape
    factor = sla.cho_factor(gram, lower=True)
    inv_gram = sla.cho_solve(factor, np.eye(p))
    beta = sla.cho_solve(factor, X.T @ y)
    fitted = X @ beta
    resid = y - fitted
    df_resid = n - p
    rss = float(resid @ resid)
    sigma2 = rss / df_resid if df_resid > 0 else np.nan
    has_intercept = "intercept" in kinds
    tss = float(((y - y.mean()) ** 2).sum()) if has_intercept else float((y**2).sum())
    r2 = 1.0 - rss / tss if tss > 0 else np.nan
    adj = 1.0 - (1.0 - r2) * (n - int(has_intercept)) / df_resid if df_resid > 0 else np.nan
    h = _leverages(X, inv_gram)
    notes: list[str] = []
    if se_type == "nonrobust":
        cov = sigma2 * inv_gram
    else:
        if se_type in ("HC3", "HC3max"):
            one_minus = 1.0 - h
            bad = one_minus <= 1e-10
            if bad.any():
                notes.append(f"{int(bad.sum())} observations with leverage 1: HC3 undefined")
            with np.errstate(divide="ignore", invalid="ignore"):
                score_sq = np.where(bad, np.nan, resid**2 / np.where(bad, 1.0, one_minus) ** 2)
        elif se_type == "HC1":
            score_sq = resid**2 * n / df_resid
        else:
            score_sq = resid**2
        if np.isnan(score_sq).any():
            cov = np.full((p, p), np.nan)
        else:
            cov = _sandwich(X, inv_gram, score_sq)
    se_classical = np.sqrt(np.clip(np.diag(sigma2 * inv_gram), 0, None))
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    if se_type == "HC3max":
        se = np.fmax(se, se_classical) if np.isfinite(se).all() else se
    return RegressionFit(
        model=model,
        family="ols",
        outcome=outcome,
        terms=names,
        term_kinds=kinds,
        estimate=beta,
        std_error=se,
        std_error_classical=se_classical,
        se_type=se_type,
        n_obs=n,
        df_resid=df_resid,
        r_squared=r2,
        adj_r_squared=adj,
        sigma=float(np.sqrt(sigma2)),
        fitted=fitted,
        resid=resid,
        leverage=h,
        n_with_term=n_with,
        aliased=aliased,
        labels=dict(labels or {}),
        notes=notes,
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
    max_iter: int = 100,
    tol: float = 1e-8,
) -> RegressionFit:
    """Tweedie GLM (``1 < var_power < 2``) with log link by IRLS on the sparse design.

    Estimates are on the log scale (``exp(estimate)`` is the ratio of expected total DA severity).
    ``std_error`` is the sandwich (robust to a wrong variance function); ``std_error_classical`` is the
    model-based ``phi (X'WX)^-1`` with Pearson ``phi``. Fits at the same columns as :func:`fit_ols`.
    """
    if not 1.0 < var_power < 2.0:
        raise ValueError("var_power must lie strictly between 1 and 2")
    X, names, kinds, n_with = _design_columns(X, names, kinds, n_with_term)
    y = np.asarray(y, dtype=np.float64)
    if (y < 0).any():
        raise ValueError("a Tweedie outcome cannot be negative")
    keep = _keep_estimable((X.T @ X).toarray())
    aliased = [n for n, k in zip(names, keep, strict=True) if not k]
    if not keep.all():
        X = X[:, np.flatnonzero(keep)].tocsr()
        names = [n for n, k in zip(names, keep, strict=True) if k]
        kinds = [t for t, k in zip(kinds, keep, strict=True) if k]
        n_with = n_with[keep]
    n, p = X.shape
    power = var_power
    mu = (y + y.mean()) / 2.0
    eta = np.log(mu)
    deviance = _tweedie_deviance(y, mu, power)
    beta = np.zeros(p)
    converged = False
    iteration = 0
    while iteration < max_iter:
        iteration += 1
        weights = np.power(mu, 2.0 - power)  # (dmu/deta)² / V(mu) for the log link
        working = eta + (y - mu) / mu
        gram = (X.T @ X.multiply(weights[:, None]).tocsr()).toarray()
        rhs = X.T @ (weights * working)
        try:
            new_beta = sla.cho_solve(sla.cho_factor(gram, lower=True), rhs)
        except np.linalg.LinAlgError:
            new_beta = np.linalg.lstsq(gram, rhs, rcond=None)[0]
        step = new_beta - beta
        for _ in range(30):  # step halving keeps the deviance from increasing
            candidate = beta + step
            new_eta = np.clip(X @ candidate, -50, 50)
            new_mu = np.exp(new_eta)
            new_deviance = _tweedie_deviance(y, new_mu, power)
            if np.isfinite(new_deviance) and new_deviance <= deviance * (1 + 1e-12) + 1e-12:
                break
            step /= 2.0
        change = abs(deviance - new_deviance) / (abs(new_deviance) + 0.1)
        beta, eta, mu, deviance = candidate, new_eta, new_mu, new_deviance
        if change < tol:
            converged = True
            break
    weights = np.power(mu, 2.0 - power)
    gram = (X.T @ X.multiply(weights[:, None]).tocsr()).toarray()
    bread = sla.cho_solve(sla.cho_factor(gram, lower=True), np.eye(p))
    score = (y - mu) * np.power(mu, 1.0 - power)
    cov_robust = _sandwich(X, bread, score**2)
    df_resid = n - p
    phi = float(np.sum((y - mu) ** 2 / np.power(mu, power)) / df_resid) if df_resid > 0 else np.nan
    null_dev = _tweedie_deviance(y, np.full(n, y.mean()), power)
    return RegressionFit(
        model=model,
        family="tweedie",
        outcome=f"log E[{OUTCOME}] (Tweedie p={var_power:g})",
        terms=names,
        term_kinds=kinds,
        estimate=beta,
        std_error=np.sqrt(np.clip(np.diag(cov_robust), 0, None)),
        std_error_classical=np.sqrt(np.clip(np.diag(phi * bread), 0, None)),
        se_type="sandwich",
        n_obs=n,
        df_resid=df_resid,
        r_squared=1.0 - deviance / null_dev if null_dev > 0 else np.nan,  # deviance explained
        adj_r_squared=np.nan,
        sigma=float(np.sqrt(phi)),
        fitted=mu,
        resid=y - mu,
        leverage=_leverages(X, bread, weights),
        n_with_term=n_with,
        aliased=aliased,
        labels=dict(labels or {}),
        converged=converged,
        iterations=iteration,
        notes=[] if converged else [f"IRLS did not converge in {max_iter} iterations"],
    )


# --- Results tables -------------------------------------------------------------------------------------
def bh_qvalues(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN p-values stay NaN and are not counted."""
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return q
    order = ok[np.argsort(p[ok], kind="mergesort")]
    ranked = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return q


RESULT_COLUMNS = [
    "model", "term", "term_label", "term_kind", "estimate", "std_error", "p_value", "q_value", "ci_low",
    "ci_high", "std_error_classical", "p_value_classical", "ci_low_classical", "ci_high_classical", "se_type",
    "n_with_term", "n_obs", "family", "outcome", "r_squared", "status", "reason",
]  # fmt: skip
_TERM_FIGURES = [
    "estimate", "std_error", "p_value", "q_value", "ci_low", "ci_high", "std_error_classical",
    "p_value_classical", "ci_low_classical", "ci_high_classical", "r_squared",
]  # fmt: skip


def coefficient_table(
    fit: RegressionFit, alpha: float = DEFAULT_ALPHA, q_kinds: Sequence[str] = ("indicator",)
):
    """One row per term in the columns of ``analytics.regression_results`` (plus classical SEs beside).

    p-values and intervals use the t distribution with the residual degrees of freedom. ``q_value`` is the
    BH adjustment across the model's terms of kind ``q_kinds`` (the offence indicators), NaN for the rest.
    Aliased columns are kept as rows with NaN estimates, so a reader sees they were in the specification.
    """
    df = max(fit.df_resid, 1)
    crit = stats.t.ppf(1 - alpha / 2, df)

    def pvals(se):
        with np.errstate(divide="ignore", invalid="ignore"):
            t = fit.estimate / se
        return 2 * stats.t.sf(np.abs(t), df)

    p_robust = pvals(fit.std_error)
    p_classical = pvals(fit.std_error_classical)
    table = pd.DataFrame(
        {
            "model": fit.model,
            "term": fit.terms,
            "term_label": [fit.labels.get(t, t) for t in fit.terms],
            "term_kind": fit.term_kinds,
            "estimate": fit.estimate,
            "std_error": fit.std_error,
            "p_value": p_robust,
            "q_value": np.nan,
            "ci_low": fit.estimate - crit * fit.std_error,
            "ci_high": fit.estimate + crit * fit.std_error,
            "std_error_classical": fit.std_error_classical,
            "p_value_classical": p_classical,
            "ci_low_classical": fit.estimate - crit * fit.std_error_classical,
            "ci_high_classical": fit.estimate + crit * fit.std_error_classical,
            "se_type": fit.se_type,
            "n_with_term": fit.n_with_term,
            "n_obs": fit.n_obs,
            "family": fit.family,
            "outcome": fit.outcome,
            "r_squared": fit.r_squared,
        }
    )
    if fit.aliased:
        table = pd.concat(
            [
                table,
                pd.DataFrame(
                    {
                        "model": fit.model,
                        "term": fit.aliased,
                        "term_label": [fit.labels.get(t, t) for t in fit.aliased],
                        "term_kind": "aliased",
                        "se_type": fit.se_type,
                        "n_obs": fit.n_obs,
                        "family": fit.family,
                        "outcome": fit.outcome,
                        "r_squared": fit.r_squared,
                    }
                ),
            ],
            ignore_index=True,
        )
    mask = table["term_kind"].isin(list(q_kinds)).to_numpy()
    table.loc[mask, "q_value"] = bh_qvalues(table.loc[mask, "p_value"].to_numpy())
    table["status"], table["reason"] = fit.status, fit.reason
    if fit.status != ESTIMATED:  # the rule: no figure is published for a model the data cannot support
        table[_TERM_FIGURES] = np.nan
    return table[RESULT_COLUMNS]


def p_band(p: float, alpha: float = DEFAULT_ALPHA) -> str:
    """The report's way of printing p: ``p < 0.01``, ``p < 0.05`` (or ``p < alpha``), ``n.s.``."""
    if p is None or not np.isfinite(p):
        return ""
    if p < 0.01:
        return "p < 0.01"
    if p < alpha:
        return f"p < {alpha:g}"
    return "n.s."


def presentation_filter(
    results: pd.DataFrame,
    min_offenders: int,
    alpha: float = DEFAULT_ALPHA,
    significance_column: str = "p_value",
) -> pd.DataFrame:
    """The report's filter, applied to results (never to a fit): indicator terms significant at ``alpha``
    (on ``significance_column``: the p-value as the report, or ``q_value``) held by ``min_offenders`` or more
    offenders, largest estimate first, with the report's p band."""
    rows = results.loc[
        (results["term_kind"] == "indicator")
        & (results[significance_column] < alpha)
        & (results["n_with_term"] >= min_offenders)
    ].copy()
    rows["p_band"] = [p_band(p, alpha) for p in rows["p_value"]]
    return rows.sort_values("estimate", ascending=False).reset_index(drop=True)


def top_significant(
    results: pd.DataFrame,
    k: int = 10,
    min_offenders: int = 1,
    alpha: float = DEFAULT_ALPHA,
    significance_column: str = "p_value",
) -> pd.DataFrame:
    """Figure 13's view: the ``k`` largest estimates among significant indicators (with the count filter)."""
    return presentation_filter(results, min_offenders, alpha, significance_column).head(k)


def significance_summary(results: pd.DataFrame, alpha: float = DEFAULT_ALPHA) -> dict[str, float]:
    """How many indicator terms were tested and what share was significant (the report: 656, 16%, 3%)."""
    ind = results.loc[results["term_kind"] == "indicator"]
    n = len(ind)
    sig = ind["p_value"] < alpha
    return {
        "n_terms": n,
        "n_significant": int(sig.sum()),
        "share_significant": float(sig.mean()) if n else np.nan,
        "share_p_lt_0_01": float((ind["p_value"] < 0.01).mean()) if n else np.nan,
        "n_q_lt_alpha": int((ind["q_value"] < alpha).sum()),
        "share_significant_positive": float((ind.loc[sig, "estimate"] > 0).mean()) if sig.any() else np.nan,
        "n_significant_classical": int((ind["p_value_classical"] < alpha).sum()),
    }


def compare_sensitivity(
    primary: pd.DataFrame, sensitivity: pd.DataFrame, alpha: float = DEFAULT_ALPHA
) -> pd.DataFrame:
    """Terms whose conclusion differs between the primary OLS fit and a sensitivity fit: significant in one
    and not the other, or significant in both with opposite signs. Both tables share ``term``."""
    keys = ["term", "term_label", "n_with_term"]
    left = primary.loc[primary["term_kind"] == "indicator", keys + ["estimate", "p_value"]]
    right = sensitivity.loc[sensitivity["term_kind"] == "indicator", ["term", "estimate", "p_value"]]
    both = left.merge(right, on="term", suffixes=("_ols", "_sensitivity"))
    sig_l = both["p_value_ols"] < alpha
    sig_r = both["p_value_sensitivity"] < alpha
    flip = sig_l & sig_r & (np.sign(both["estimate_ols"]) != np.sign(both["estimate_sensitivity"]))
    both["difference"] = np.select(
        [flip, sig_l & ~sig_r, ~sig_l & sig_r],
        ["opposite signs", "significant in OLS only", "significant in sensitivity only"],
        default="",
    )
    both["model_sensitivity"] = sensitivity["model"].iloc[0] if len(sensitivity) else ""
    return both.loc[both["difference"] != ""].reset_index(drop=True)


# --- Section C models -----------------------------------------------------------------------------------
@dataclass
class IndicatorModelSpec:
    """One indicator model: which offence column defines the terms and what it controls for."""

    name: str  # 'offence_type' or 'offence_code'
    term_column: str
    label_column: str | None
    controls: tuple[str, ...] = DEFAULT_CONTROLS
    min_offenders_to_fit: int = 10


def _outcome(offenders: pd.DataFrame) -> np.ndarray:
    return pd.to_numeric(offenders[OUTCOME], errors="coerce").to_numpy(dtype=float)


def indicator_model_design(
    offenders: pd.DataFrame, offences_non_da: pd.DataFrame, spec: IndicatorModelSpec, controls=None
) -> tuple[sp.csr_matrix, np.ndarray, list[str], list[str], np.ndarray, dict[str, str]]:
    """``[intercept | controls | indicators]`` for the offenders with a known outcome, with the outcome."""
    controls = spec.controls if controls is None else tuple(controls)
    y_all = _outcome(offenders)
    usable = np.isfinite(y_all)
    offenders = offenders.loc[usable]
    y = y_all[usable]
    control_frame = resolve_controls(offenders, controls)
    ok = control_frame.notna().all(axis=1).to_numpy()
    offenders, y, control_frame = offenders.loc[ok], y[ok], control_frame.loc[ok]
    design = indicator_design(
        offenders["offender_id"].to_numpy(),
        offences_non_da,
        spec.term_column,
        spec.label_column,
        spec.min_offenders_to_fit,
    )
    dense = np.column_stack([np.ones(len(y)), control_frame.to_numpy(dtype=float)])
    X = sp.hstack([sp.csr_matrix(dense), design.matrix], format="csr")
    names = ["intercept", *control_frame.columns, *design.terms]
    kinds = ["intercept"] + ["control"] * control_frame.shape[1] + ["indicator"] * len(design.terms)
    control_n = [float((control_frame[c] != 0).sum()) for c in control_frame.columns]
    n_with = np.array([np.nan, *control_n, *design.n_with_term], dtype=float)
    return X, y, names, kinds, n_with, design.labels


def fit_indicator_model(
    offenders: pd.DataFrame,
    offences_non_da: pd.DataFrame,
    spec: IndicatorModelSpec,
    *,
    se_type: str = "HC3",
    sensitivity: str = "both",
    tweedie_power: float = 1.5,
    fit_unadjusted: bool = True,
) -> list[RegressionFit]:
    """The primary OLS fit (``spec.name``), the report-style unadjusted fit (``<name>_unadjusted``: no
    controls) and the heavy-tail sensitivity fits (``<name>_log1p``, ``<name>_tweedie``)."""
    if sensitivity not in SENSITIVITY_FAMILIES:
        raise ValueError(f"sensitivity must be one of {SENSITIVITY_FAMILIES}")
    X, y, names, kinds, n_with, labels = indicator_model_design(offenders, offences_non_da, spec)
    common = dict(names=names, kinds=kinds, n_with_term=n_with, labels=labels)
    if "indicator" not in kinds:  # nothing to estimate: every model of this spec says so
        reason = (
            f"no non-DA {spec.term_column.replace('_', ' ')} is held by {spec.min_offenders_to_fit} or more "
            "offenders: no offence indicator to estimate"
        )
        models = [(spec.name, "ols")]
        if fit_unadjusted and spec.controls:
            models.append((f"{spec.name}_unadjusted", "ols"))
        if sensitivity in ("log1p", "both"):
            models.append((f"{spec.name}_log1p", "ols"))
        if sensitivity in ("tweedie", "both"):
            models.append((f"{spec.name}_tweedie", "tweedie"))
        return [
            _unfitted(model, family, OUTCOME, names, kinds, n_with, labels, len(y), reason)
            for model, family in models
        ]
    fits = [fit_model(fit_ols, X, y, se_type=se_type, model=spec.name, **common)]
    if fit_unadjusted and spec.controls:
        Xu, yu, nu, ku, wu, lu = indicator_model_design(offenders, offences_non_da, spec, controls=())
        fits.append(
            fit_model(fit_ols, Xu, yu, nu, kinds=ku, n_with_term=wu, labels=lu, se_type=se_type,
                      model=f"{spec.name}_unadjusted")
        )  # fmt: skip
    if sensitivity in ("log1p", "both"):
        fits.append(
            fit_model(fit_ols, X, np.log1p(y), se_type=se_type, model=f"{spec.name}_log1p",
                      outcome=f"log1p({OUTCOME})", **common)
        )  # fmt: skip
    if sensitivity in ("tweedie", "both"):
        fits.append(
            fit_model(fit_tweedie, X, y, var_power=tweedie_power, model=f"{spec.name}_tweedie", **common)
        )
    return fits


def _grade_dummies(levels: pd.Series, prefix: str) -> pd.DataFrame:
    grade = levels.astype("string").str.strip().str.lower()
    return pd.DataFrame(
        {f"{prefix}[{level}]": (grade == level).astype(float).to_numpy() for level in RISK_LEVELS[1:]},
        index=levels.index,
    )


def risk_model_designs(offenders: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
    """The three risk-assessment designs (covariate frame without intercept, outcome), by model name.

    * ``risk_first_non_crime``: grade of the first non-crime DA incident (reference: standard), among
      offenders with a graded non-crime DA incident;
    * ``risk_first_da``: grade of the first DA incident plus that incident's severity;
    * ``risk_share_high``: share of the offender's assessments graded high plus the number of assessments
      (so volume does not drive the share's estimate), among offenders with at least one assessment.
    """
    y_all = _outcome(offenders)
    graded = offenders["first_non_crime_da_risk_level"].astype("string").str.lower().isin(RISK_LEVELS)
    out: dict[str, tuple[pd.DataFrame, np.ndarray]] = {}
    mask = graded.to_numpy(dtype=bool) & np.isfinite(y_all)
    out["risk_first_non_crime"] = (
        _grade_dummies(offenders.loc[mask, "first_non_crime_da_risk_level"], "first_non_crime_da_risk_level"),
        y_all[mask],
    )
    sev = pd.to_numeric(offenders["first_da_incident_severity"], errors="coerce")
    graded = offenders["first_da_risk_level"].astype("string").str.lower().isin(RISK_LEVELS)
    mask = graded.to_numpy(dtype=bool) & sev.notna().to_numpy() & np.isfinite(y_all)
    frame = _grade_dummies(offenders.loc[mask, "first_da_risk_level"], "first_da_risk_level")
    frame["first_da_incident_severity"] = sev[mask].to_numpy(dtype=float)
    out["risk_first_da"] = (frame, y_all[mask])
    n_assess = pd.to_numeric(offenders["n_risk_assessments"], errors="coerce")
    share = pd.to_numeric(offenders["share_high_risk"], errors="coerce")
    mask = (n_assess > 0).to_numpy() & share.notna().to_numpy() & np.isfinite(y_all)
    frame = pd.DataFrame(
        {"share_high_risk": share[mask].to_numpy(float), "n_risk_assessments": n_assess[mask].to_numpy(float)}
    )
    out["risk_share_high"] = (frame, y_all[mask])
    return out


def fit_risk_models(
    offenders: pd.DataFrame,
    *,
    se_type: str = "HC3",
    sensitivity: str = "both",
    tweedie_power: float = 1.5,
) -> list[RegressionFit]:
    """OLS fits of the three risk models (and their sensitivity fits). A model with fewer than two
    offenders per parameter is not fitted: its record says so (not estimable, with the reason)."""
    fits: list[RegressionFit] = []
    for name, (frame, y) in risk_model_designs(offenders).items():
        X = np.column_stack([np.ones(len(y)), frame.to_numpy(dtype=float)])
        names = ["intercept", *frame.columns]
        kinds = ["intercept"] + ["covariate"] * frame.shape[1]
        n_with = [np.nan] + [float((frame[c] != 0).sum()) for c in frame.columns]
        common = dict(names=names, kinds=kinds, n_with_term=n_with)
        variants = [(fit_ols, name, y, {"se_type": se_type})]
        if sensitivity in ("log1p", "both"):
            variants.append((fit_ols, f"{name}_log1p", np.log1p(y),
                             {"se_type": se_type, "outcome": f"log1p({OUTCOME})"}))  # fmt: skip
        if sensitivity in ("tweedie", "both"):
            variants.append((fit_tweedie, f"{name}_tweedie", y, {"var_power": tweedie_power}))
        for fitter, model, outcome, options in variants:
            if len(y) < 2 * len(names):
                reason = (
                    f"{len(y)} offenders for {len(names)} parameters: fewer than two per parameter"
                    if len(y)
                    else _NO_ONE_GRADED[name]
                )
                family = "tweedie" if fitter is fit_tweedie else "ols"
                fits.append(_unfitted(model, family, options.get("outcome", OUTCOME), names, kinds,
                                      n_with, None, len(y), reason))  # fmt: skip
            else:
                fits.append(fit_model(fitter, X, outcome, model=model, **options, **common))
    return fits


_NO_ONE_GRADED = {
    "risk_first_non_crime": "no offender has a graded non-crime DA incident",
    "risk_first_da": "no offender has a graded first DA incident with a severity",
    "risk_share_high": "no offender has a risk assessment",
}


# --- Risk-assessment descriptives -----------------------------------------------------------------------
VALIDATION_COLUMNS = ["section", "group", "measure", "value", "n_offenders"]


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve of an ordinal score (ties count one half), via ranks."""
    pos, neg = label.sum(), (~label).sum()
    if pos == 0 or neg == 0:
        return np.nan
    ranks = stats.rankdata(score)
    return float((ranks[label].sum() - pos * (pos + 1) / 2) / (pos * neg))


def risk_assessment_validation(
    offenders: pd.DataFrame,
    clusters: pd.DataFrame | None = None,
    high_harm_threshold: float = HIGH_HARM_THRESHOLD,
) -> pd.DataFrame:
    """How well the first risk grade sorts offenders by later DA harm (long format: section, group,
    measure, value, n_offenders).

    * ``first_da_grade`` / ``first_non_crime_grade``: per grade, the mean and median total DA severity and
      the share reaching ``high_harm_threshold`` (the report: 34% high, 15% medium, 7% standard), plus the
      AUC of the grade (standard < medium < high) for reaching the threshold;
    * ``ever_high``: median total DA severity of offenders ever graded high vs never, and their ratio
      (the report: 30×);
    * ``cluster``: the share of high first grades per cluster, when ``clusters`` (offender_id, cluster) is
      given.
    """
    y = _outcome(offenders)
    rows: list[dict] = []
    for section, column in (("first_da_grade", "first_da_risk_level"),
                            ("first_non_crime_grade", "first_non_crime_da_risk_level")):  # fmt: skip
        grade = offenders[column].astype("string").str.lower()
        for level in RISK_LEVELS:
            mask = (grade == level).fillna(False).to_numpy(dtype=bool) & np.isfinite(y)
            values = y[mask]
            n = int(mask.sum())
            rows += [
                dict(section=section, group=level, measure="mean_total_da_severity",
                     value=float(values.mean()) if n else np.nan, n_offenders=n),
                dict(section=section, group=level, measure="median_total_da_severity",
                     value=float(np.median(values)) if n else np.nan, n_offenders=n),
                dict(section=section, group=level, measure=f"share_total_da_severity_ge_{high_harm_threshold:g}",
                     value=float((values >= high_harm_threshold).mean()) if n else np.nan, n_offenders=n),
            ]  # fmt: skip
        order = grade.map({level: i for i, level in enumerate(RISK_LEVELS)}).astype("Float64")
        mask = order.notna().to_numpy(dtype=bool) & np.isfinite(y)
        rows.append(
            dict(section=section, group="all graded", measure=f"auc_total_da_severity_ge_{high_harm_threshold:g}",
                 value=_auc(order[mask].to_numpy(dtype=float), y[mask] >= high_harm_threshold),
                 n_offenders=int(mask.sum()))
        )  # fmt: skip
        means = {r["group"]: r["value"] for r in rows if r["section"] == section
                 and r["measure"] == "mean_total_da_severity"}  # fmt: skip
        if means.get("medium"):
            rows.append(dict(section=section, group="high vs medium", measure="ratio_mean_total_da_severity",
                             value=means["high"] / means["medium"], n_offenders=np.nan))  # fmt: skip
    ever = offenders["ever_high_risk"].astype("boolean")
    medians = {}
    for label, flag in (("ever high", True), ("never high", False)):
        mask = (ever == flag).fillna(False).to_numpy(dtype=bool) & np.isfinite(y)
        medians[label] = float(np.median(y[mask])) if mask.any() else np.nan
        rows.append(dict(section="ever_high", group=label, measure="median_total_da_severity",
                         value=medians[label], n_offenders=int(mask.sum())))  # fmt: skip
    ratio = medians["ever high"] / medians["never high"] if medians["never high"] else np.nan
    rows.append(dict(section="ever_high", group="ever vs never", measure="ratio_median_total_da_severity",
                     value=ratio, n_offenders=np.nan))  # fmt: skip
    if clusters is not None and len(clusters):
        joined = offenders[["offender_id", "first_da_risk_level"]].merge(
            clusters[["offender_id", "cluster"]], on="offender_id", how="inner"
        )
        grade = joined["first_da_risk_level"].astype("string").str.lower()
        joined = joined.assign(is_high=(grade == "high").astype("boolean"), graded=grade.isin(RISK_LEVELS))
        for cluster, part in joined.loc[joined["graded"].fillna(False)].groupby("cluster", sort=True):
            rows.append(dict(section="cluster", group=str(cluster), measure="share_first_da_grade_high",
                             value=float(part["is_high"].astype(float).mean()), n_offenders=len(part)))  # fmt: skip
    frame = pd.DataFrame(rows, columns=VALIDATION_COLUMNS)
    frame["n_offenders"] = frame["n_offenders"].astype("Float64")
    return frame


def residual_sample(
    fits: Sequence[RegressionFit], max_points: int = 2_000, seed: int = 0, families: Sequence[str] = ("ols",)
) -> pd.DataFrame:
    """A random sample of (fitted, residual, leverage) per model for residual plots. No offender ids."""
    rng = np.random.default_rng(seed)
    parts = []
    for fit in fits:
        if fit.family not in families or fit.status != ESTIMATED or len(fit.resid) == 0:
            continue
        take = rng.choice(fit.n_obs, size=min(max_points, fit.n_obs), replace=False)
        parts.append(pd.DataFrame({"model": fit.model, "fitted": fit.fitted[take], "residual": fit.resid[take],
                                   "leverage": fit.leverage[take]}))  # fmt: skip
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["model", "fitted", "residual", "leverage"])
    )


# --- Everything at once ---------------------------------------------------------------------------------
@dataclass
class SectionCResults:
    """All fits of Section C and their tidy tables."""

    fits: list[RegressionFit]
    results: pd.DataFrame  # analytics.regression_results
    validation: pd.DataFrame  # analytics.risk_assessment_validation
    model_fit: pd.DataFrame  # one row per model: n, R², sigma, aliased, notes
    min_offenders: int
    alpha: float
    controls: tuple[str, ...]


def model_fit_table(fits: Sequence[RegressionFit]) -> pd.DataFrame:
    """One row per fitted model: size, fit and residual diagnostics."""
    rows = []
    for fit in fits:
        finite = np.isfinite(fit.resid).all() and np.isfinite(fit.fitted).all()
        rows.append(
            dict(
                model=fit.model, family=fit.family, outcome=fit.outcome, se_type=fit.se_type, n_obs=fit.n_obs,
                n_params=len(fit.terms), n_indicators=sum(k == "indicator" for k in fit.term_kinds),
                n_aliased=len(fit.aliased), r_squared=fit.r_squared, adj_r_squared=fit.adj_r_squared,
                sigma=fit.sigma, max_leverage=float(np.nanmax(fit.leverage)) if len(fit.leverage) else np.nan,
                residual_skewness=float(stats.skew(fit.resid)) if len(fit.resid) > 2 else np.nan,
                residual_excess_kurtosis=float(stats.kurtosis(fit.resid)) if len(fit.resid) > 3 else np.nan,
                residuals_finite=bool(finite), converged=fit.converged, iterations=fit.iterations,
                aliased="; ".join(fit.aliased), notes="; ".join(fit.notes), status=fit.status,
                reason=fit.reason,
            )
        )  # fmt: skip
    return pd.DataFrame(rows)


def fit_section_c(
    offenders: pd.DataFrame,
    offences: pd.DataFrame,
    *,
    clusters: pd.DataFrame | None = None,
    controls: Sequence[str] = DEFAULT_CONTROLS,
    min_offenders_to_fit_type: int = 1,
    min_offenders_to_fit_code: int = 10,
    se_type: str = "HC3",
    sensitivity: str = "both",
    tweedie_power: float = 1.5,
    fit_unadjusted: bool = True,
    alpha: float = DEFAULT_ALPHA,
    min_offenders: int | None = None,
    min_offenders_base: int = REPORT_MIN_OFFENDERS,
    high_harm_threshold: float = HIGH_HARM_THRESHOLD,
) -> SectionCResults:
    """Fit every Section C model on ``dim_offenders`` and ``fct_offences`` and tabulate.

    ``min_offenders`` is the presentation threshold (default: ``min_offenders_base`` = 200 scaled by
    n / 145,392); the fits use the much lower ``min_offenders_to_fit_*`` so the filter stays a presentation
    choice. ``clusters`` (offender_id, cluster) adds the per-cluster share of high first grades.
    """
    offences_non_da = non_da_offences(offences)
    controls = tuple(controls)
    specs = [
        IndicatorModelSpec("offence_type", "offence_type", None, controls, min_offenders_to_fit_type),
        IndicatorModelSpec("offence_code", "offence_code", "offence_description", controls,
                           min_offenders_to_fit_code),
    ]  # fmt: skip
    fits: list[RegressionFit] = []
    for spec in specs:
        fits += fit_indicator_model(
            offenders, offences_non_da, spec, se_type=se_type, sensitivity=sensitivity,
            tweedie_power=tweedie_power, fit_unadjusted=fit_unadjusted,
        )  # fmt: skip
    fits += fit_risk_models(offenders, se_type=se_type, sensitivity=sensitivity, tweedie_power=tweedie_power)
    results = pd.concat([coefficient_table(f, alpha) for f in fits], ignore_index=True)
    validation = risk_assessment_validation(offenders, clusters, high_harm_threshold)
    n = int(np.isfinite(_outcome(offenders)).sum())
    shown_min = (
        scaled_min_offenders(n, base=min_offenders_base) if min_offenders is None else int(min_offenders)
    )
    model_fit = model_fit_table(fits).assign(
        controls=", ".join(controls), alpha=alpha, min_offenders_presentation=shown_min
    )
    return SectionCResults(
        fits=fits,
        results=results,
        validation=validation,
        model_fit=model_fit,
        min_offenders=shown_min,
        alpha=alpha,
        controls=controls,
    )


# --- Simulation (power checks, tests and benchmarks) ----------------------------------------------------
def simulate_section_c_inputs(
    n_offenders: int = 10_000,
    *,
    n_codes: int = 120,
    n_types: int = 12,
    planted_on: str = "offence_code",
    n_planted: int = 10,
    effect_range: tuple[float, float] = (300.0, 900.0),
    share_non_da: float = 0.35,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Frames shaped like ``dim_offenders`` and ``fct_offences`` with planted additive effects on total DA
    severity, and their truth (term_kind, term, true_effect, planted).

    A latent profile drives DA harm (heavy-tailed), the number of non-DA incidents and the first risk
    grade; among offenders with non-DA history, offence indicators are assigned independently of the profile
    (so OLS controlling for non-DA history is unbiased). Effects are planted on ``offence_code`` or on
    ``offence_type`` indicators (``planted_on``); the other terms are nulls. Codes map to types
    round-robin, and code prevalence among non-DA offenders follows a Zipf-like curve (0.2%–25%).
    """
    if planted_on not in ("offence_code", "offence_type"):
        raise ValueError("planted_on must be 'offence_code' or 'offence_type'")
    rng = np.random.default_rng(seed)
    n = int(n_offenders)
    offender_id = np.array([f"P{i:07d}" for i in range(n)])
    profile = rng.normal(size=n)
    has_non_da = rng.random(n) < share_non_da
    n_non_da = np.where(has_non_da, 1 + rng.poisson(np.exp(0.6 + 0.5 * profile).clip(0, 40)), 0)
    codes = np.array([f"C{j:03d}" for j in range(n_codes)])
    types = np.array([f"type {j % n_types:02d}" for j in range(n_codes)])
    prevalence = 0.25 / (1 + np.arange(n_codes)) ** 0.9
    prevalence = np.clip(prevalence, 0.002, 0.25)[rng.permutation(n_codes)]
    non_da_rows = np.flatnonzero(has_non_da)
    held = rng.random((len(non_da_rows), n_codes)) < prevalence[None, :]
    # Every non-DA offender holds at least one code.
    empty = ~held.any(axis=1)
    held[np.flatnonzero(empty), rng.integers(0, n_codes, empty.sum())] = True
    rows, cols = np.nonzero(held)
    offender_rows = non_da_rows[rows]
    term_names = codes if planted_on == "offence_code" else np.unique(types)
    planted_idx = rng.choice(len(term_names), size=min(n_planted, len(term_names)), replace=False)
    effects = np.zeros(len(term_names))
    effects[planted_idx] = rng.uniform(*effect_range, size=len(planted_idx))
    if planted_on == "offence_code":
        indicator = sp.csr_matrix((np.ones(len(rows)), (offender_rows, cols)), shape=(n, n_codes))
    else:
        type_idx = np.searchsorted(term_names, types[cols])
        indicator = sp.csr_matrix((np.ones(len(rows)), (offender_rows, type_idx)), shape=(n, len(term_names)))
        indicator.data[:] = 1.0
        indicator.sum_duplicates()
        indicator.data[:] = 1.0
    base = np.exp(3.5 + 0.9 * profile + 0.8 * rng.normal(size=n))  # heavy-tailed latent harm
    total = base + indicator @ effects
    # Offence rows: 1–3 rows per held code in non-DA incidents, plus DA rows that must be ignored.
    repeats = 1 + rng.poisson(0.5, len(rows))
    offences = pd.DataFrame(
        {
            "offender_id": np.repeat(offender_id[offender_rows], repeats),
            "offence_code": np.repeat(codes[cols], repeats),
            "offence_description": np.repeat(np.char.add("offence ", codes[cols]), repeats),
            "offence_type": np.repeat(types[cols], repeats),
            "is_da": False,
        }
    )
    da_rows = pd.DataFrame(
        {
            "offender_id": offender_id,
            "offence_code": "DA01",
            "offence_description": "domestic common assault",
            "offence_type": "violence against the person",
            "is_da": True,
        }
    )
    offences = pd.concat([offences, da_rows], ignore_index=True)
    latent_grade = profile + 0.7 * rng.normal(size=n)
    grade = np.select([latent_grade > 1.3, latent_grade > 0.4], ["high", "medium"], "standard")
    n_assess = 1 + rng.poisson(np.exp(0.3 + 0.3 * profile).clip(0, 20))
    n_high = rng.binomial(n_assess, 1 / (1 + np.exp(-(profile - 1.5))))
    has_non_crime = rng.random(n) < 0.6
    non_crime_grade = np.where(
        has_non_crime,
        np.select([latent_grade > 1.6, latent_grade > 0.7], ["high", "medium"], "standard"),
        None,
    )
    offenders = pd.DataFrame(
        {
            "offender_id": offender_id,
            "total_da_severity": total,
            "first_da_risk_level": grade,
            "first_da_incident_severity": np.exp(2.5 + 0.5 * profile + 0.8 * rng.normal(size=n)),
            "first_non_crime_da_risk_level": pd.array(non_crime_grade, dtype="string"),
            "n_risk_assessments": n_assess,
            "n_high_risk": n_high,
            "share_high_risk": n_high / n_assess,
            "ever_high_risk": (n_high > 0) | (grade == "high"),
            "n_non_da_incidents": n_non_da,
            "non_da_volume_band": np.select([n_non_da == 0, n_non_da < 3], ["none", "low"], "high"),
            "is_da_only": ~has_non_da,
        }
    )
    truth = pd.DataFrame(
        {
            "term_kind": planted_on,
            "term": term_names,
            "true_effect": effects,
            "planted": effects != 0,
        }
    )
    return offenders, offences, truth
