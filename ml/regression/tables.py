"""Tidy tables from fitted models: coefficients with status and reason, BH q-values, the report's
presentation filter (on q by default, raw p beside), summaries, sensitivity comparisons, model fit and a
residual sample. Filters are applied to results, never to a fit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ml.estimability import ESTIMATED, NOT_ESTIMABLE
from ml.regression.constants import DEFAULT_ALPHA, DEFAULT_SIGNIFICANCE
from ml.regression.ols import RegressionFit


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
    "model", "role", "term", "term_label", "term_kind", "estimate", "std_error", "p_value", "q_value",
    "ci_low", "ci_high", "std_error_classical", "p_value_classical", "ci_low_classical", "ci_high_classical",
    "se_type", "n_with_term", "n_obs", "family", "outcome", "r_squared", "status", "reason",
]  # fmt: skip
_FIGURES = [
    "estimate",
    "std_error",
    "p_value",
    "q_value",
    "ci_low",
    "ci_high",
    "std_error_classical",
    "p_value_classical",
    "ci_low_classical",
    "ci_high_classical",
]


def coefficient_table(
    fit: RegressionFit, alpha: float = DEFAULT_ALPHA, q_kinds: Sequence[str] = ("indicator",)
) -> pd.DataFrame:
    """One row per term in the columns of ``analytics.regression_results`` (classical SEs beside).

    p-values and intervals use the t distribution with the residual degrees of freedom. ``q_value`` is the
    BH adjustment across the model's estimated terms of kind ``q_kinds`` (the offence indicators), NaN for
    the rest. Every row has a ``status`` (``estimated`` / ``not estimable``) and a ``reason``: a term
    resting on leverage-one rows, an aliased term (kept as a row so a reader sees it was in the
    specification; ``term_kind`` 'aliased') and a term whose standard error is not finite and positive are
    not estimable, and their figures are blank.
    """
    df = max(fit.df_resid, 1)
    crit = stats.t.ppf(1 - alpha / 2, df)

    def pvals(se):
        with np.errstate(divide="ignore", invalid="ignore"):
            t = fit.estimate / se
        return 2 * stats.t.sf(np.abs(t), df)

    table = pd.DataFrame(
        {
            "model": fit.model,
            "role": fit.role,
            "term": fit.terms,
            "term_label": [fit.labels.get(t, t) for t in fit.terms],
            "term_kind": fit.term_kinds,
            "estimate": fit.estimate,
            "std_error": fit.std_error,
            "p_value": pvals(fit.std_error),
            "q_value": np.nan,
            "ci_low": fit.estimate - crit * fit.std_error,
            "ci_high": fit.estimate + crit * fit.std_error,
            "std_error_classical": fit.std_error_classical,
            "p_value_classical": pvals(fit.std_error_classical),
            "ci_low_classical": fit.estimate - crit * fit.std_error_classical,
            "ci_high_classical": fit.estimate + crit * fit.std_error_classical,
            "se_type": fit.se_type,
            "n_with_term": fit.n_with_term,
            "n_obs": fit.n_obs,
            "family": fit.family,
            "outcome": fit.outcome,
            "r_squared": fit.r_squared,
            "status": ESTIMATED,
            "reason": "",
        }
    )
    lost = table["term"].map(fit.not_estimable).fillna("").astype(str)
    bad_se = ~(np.isfinite(fit.std_error) & (fit.std_error > 0)) | ~np.isfinite(fit.estimate)
    reason = np.where(
        lost != "", lost, np.where(bad_se, "standard error not finite and positive on this data", "")
    )
    table["reason"] = reason
    table.loc[table["reason"] != "", "status"] = NOT_ESTIMABLE
    if fit.aliased:
        aliased = pd.DataFrame(
            {
                "model": fit.model,
                "role": fit.role,
                "term": fit.aliased,
                "term_label": [fit.labels.get(t, t) for t in fit.aliased],
                "term_kind": "aliased",
                "se_type": fit.se_type,
                "n_obs": fit.n_obs,
                "family": fit.family,
                "outcome": fit.outcome,
                "r_squared": fit.r_squared,
                "status": NOT_ESTIMABLE,
                "reason": "aliased: held by no offender, or a combination of the terms before it",
            }
        )
        table = pd.concat([table, aliased], ignore_index=True)
    table.loc[table["status"] != ESTIMATED, _FIGURES] = np.nan
    mask = (table["term_kind"].isin(list(q_kinds)) & (table["status"] == ESTIMATED)).to_numpy()
    table.loc[mask, "q_value"] = bh_qvalues(table.loc[mask, "p_value"].to_numpy())
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
    significance_column: str = DEFAULT_SIGNIFICANCE,
) -> pd.DataFrame:
    """The report's filter, applied to results (never to a fit): estimated indicator terms significant at
    ``alpha`` on ``significance_column`` (``q_value``, Benjamini–Hochberg across the model's indicators, by
    default; ``p_value`` as the report did) held by ``min_offenders`` or more offenders, largest estimate
    first, with the raw p band beside."""
    estimated = results["status"] == ESTIMATED if "status" in results else True
    rows = results.loc[
        (results["term_kind"] == "indicator")
        & estimated
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
    significance_column: str = DEFAULT_SIGNIFICANCE,
) -> pd.DataFrame:
    """Figure 13's view: the ``k`` largest estimates among significant indicators (with the count filter)."""
    return presentation_filter(results, min_offenders, alpha, significance_column).head(k)


def significance_summary(results: pd.DataFrame, alpha: float = DEFAULT_ALPHA) -> dict[str, float]:
    """How many indicator terms were tested and what share was significant (the report: 656, 16%, 3%), on
    raw p and on the BH q-value; not-estimable terms are counted apart."""
    indicators = results.loc[results["term_kind"] == "indicator"]
    estimated = (
        indicators["status"] == ESTIMATED if "status" in indicators else np.ones(len(indicators), bool)
    )
    ind = indicators.loc[estimated]
    n = len(ind)
    sig = ind["p_value"] < alpha
    sig_q = ind["q_value"] < alpha
    return {
        "n_terms": n,
        "n_not_estimable": int(len(indicators) - n),
        "n_significant": int(sig.sum()),
        "share_significant": float(sig.mean()) if n else np.nan,
        "share_p_lt_0_01": float((ind["p_value"] < 0.01).mean()) if n else np.nan,
        "n_q_lt_alpha": int(sig_q.sum()),
        "share_q_lt_alpha": float(sig_q.mean()) if n else np.nan,
        "share_significant_positive": float((ind.loc[sig, "estimate"] > 0).mean()) if sig.any() else np.nan,
        "n_significant_classical": int((ind["p_value_classical"] < alpha).sum()),
    }


def compare_sensitivity(
    primary: pd.DataFrame,
    sensitivity: pd.DataFrame,
    alpha: float = DEFAULT_ALPHA,
    significance_column: str = DEFAULT_SIGNIFICANCE,
) -> pd.DataFrame:
    """Terms whose conclusion differs between a primary fit and a sensitivity fit: significant (on
    ``significance_column``) in one and not the other, or significant in both with opposite signs. Both
    tables share ``term``; only terms estimated in both are compared."""
    keys = ["term", "term_label", "n_with_term"]
    col = significance_column

    def usable(frame):
        ok = frame["term_kind"] == "indicator"
        if "status" in frame:
            ok &= frame["status"] == ESTIMATED
        return frame.loc[ok]

    left = usable(primary)[keys + ["estimate", "p_value", "q_value"]]
    right = usable(sensitivity)[["term", "estimate", "p_value", "q_value"]]
    both = left.merge(right, on="term", suffixes=("_primary", "_sensitivity"))
    sig_l = both[f"{col}_primary"] < alpha
    sig_r = both[f"{col}_sensitivity"] < alpha
    flip = sig_l & sig_r & (np.sign(both["estimate_primary"]) != np.sign(both["estimate_sensitivity"]))
    both["difference"] = np.select(
        [flip, sig_l & ~sig_r, ~sig_l & sig_r],
        ["opposite signs", "significant in the primary fit only", "significant in the sensitivity fit only"],
        default="",
    )
    both["model_sensitivity"] = sensitivity["model"].iloc[0] if len(sensitivity) else ""
    return both.loc[both["difference"] != ""].reset_index(drop=True)


MODEL_FIT_COLUMNS = [
    "model", "role", "family", "outcome", "se_type", "status", "reason", "n_obs", "n_params", "n_indicators",
    "n_aliased", "n_leverage_one", "n_not_estimable_terms", "r_squared", "adj_r_squared", "sigma",
    "max_leverage", "residual_skewness", "residual_excess_kurtosis", "residuals_finite", "converged",
    "iterations", "aliased", "not_estimable_terms", "notes",
]  # fmt: skip


def model_fit_table(
    fits: Sequence[RegressionFit], failed: Sequence[tuple[str, str, str]] = ()
) -> pd.DataFrame:
    """One row per model: size, fit and residual diagnostics; ``failed`` (model, role, reason) adds a row
    with status ``not estimable`` for each model that could not be fitted on this data."""
    rows = []
    for fit in fits:
        finite = np.isfinite(fit.resid).all() and np.isfinite(fit.fitted).all()
        rows.append(
            dict(
                model=fit.model,
                role=fit.role,
                family=fit.family,
                outcome=fit.outcome,
                se_type=fit.se_type,
                status=ESTIMATED,
                reason="",
                n_obs=fit.n_obs,
                n_params=len(fit.terms),
                n_indicators=sum(k == "indicator" for k in fit.term_kinds),
                n_aliased=len(fit.aliased),
                n_leverage_one=fit.n_leverage_one,
                n_not_estimable_terms=len(fit.not_estimable),
                r_squared=fit.r_squared,
                adj_r_squared=fit.adj_r_squared,
                sigma=fit.sigma,
                max_leverage=float(np.nanmax(fit.leverage)) if fit.n_obs else np.nan,
                residual_skewness=float(stats.skew(fit.resid)) if fit.n_obs > 2 else np.nan,
                residual_excess_kurtosis=float(stats.kurtosis(fit.resid)) if fit.n_obs > 3 else np.nan,
                residuals_finite=bool(finite),
                converged=fit.converged,
                iterations=fit.iterations,
                aliased="; ".join(fit.aliased),
                not_estimable_terms="; ".join(fit.not_estimable),
                notes="; ".join(fit.notes),
            )
        )
    for model, role, reason in failed:
        rows.append(
            dict(
                model=model,
                role=role,
                status=NOT_ESTIMABLE,
                reason=reason,
                n_obs=0,
                n_params=0,
                n_indicators=0,
                n_aliased=0,
                n_leverage_one=0,
                n_not_estimable_terms=0,
                residuals_finite=True,
                converged=True,
                iterations=0,
                aliased="",
                not_estimable_terms="",
                notes="",
            )
        )
    frame = pd.DataFrame(rows, columns=MODEL_FIT_COLUMNS)
    for column in ("residuals_finite", "converged"):
        frame[column] = frame[column].astype(bool)
    return frame


def residual_sample(
    fits: Sequence[RegressionFit], max_points: int = 2_000, seed: int = 0, families: Sequence[str] = ("ols",)
) -> pd.DataFrame:
    """A random sample of (fitted, residual, leverage) per model for residual plots. No offender ids."""
    rng = np.random.default_rng(seed)
    parts = []
    for fit in fits:
        if fit.family not in families or fit.n_obs == 0:
            continue
        take = rng.choice(fit.n_obs, size=min(max_points, fit.n_obs), replace=False)
        parts.append(
            pd.DataFrame(
                {
                    "model": fit.model,
                    "fitted": fit.fitted[take],
                    "residual": fit.resid[take],
                    "leverage": fit.leverage[take],
                }
            )
        )
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["model", "fitted", "residual", "leverage"])
    )
