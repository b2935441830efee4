"""Effect estimators. Every function returns a dict with estimate, ci_low, ci_high, p_value and the group
sizes, ready to become a row of ``analytics.effect_estimates``.

Estimand (counts and harm): the **rate ratio** of DA incidents (or harm) per person in the ``k`` blocks
after the anchor against the ``k`` blocks before it. For the matched design the effect is the ratio of
those ratios, treated over comparison (a Poisson difference-in-differences on the log scale):

    RR_DiD = (Σ treated post / Σ treated pre) / (Σ w·comparison post / Σ w·comparison pre)

so ``RR_DiD − 1`` is the proportional change caused by the programme (``1 + effect`` when the programme
thins a person's later incidents by ``effect``). Its interval is a cluster bootstrap over matched sets
(each treated person with their comparisons), which respects both the matching and the repeated blocks of
a person. The comparison group's own ratio is the regression-to-the-mean figure: the fall expected with no
programme. The treated group's ratio alone is the naive pre/post figure, which is not an effect.

For randomised arms the ITT effect is the post-randomisation rate ratio from a Poisson GLM with a
log(exposure) offset and a small-sample-corrected robust (HC3) variance with ``t`` quantiles, adjusted for
the pre-period count (adjustment does not change the estimand for a log-linear model and narrows the
interval); a negative binomial (NB2, α estimated) fit is reported beside it, and heavy-tailed harm gets a
permutation p-value and the interval found by inverting that permutation test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight

from ml.estimability import NotEstimable

Z95 = 1.959963984540054


def _bootstrap_counts(n: int, reps: int, rng: np.random.Generator, chunk: int = 200):
    """Yield (chunk, n) arrays of multinomial resampling counts."""
    done = 0
    while done < reps:
        m = min(chunk, reps - done)
        idx = rng.integers(0, n, size=(m, n))
        counts = np.zeros((m, n))
        np.add.at(counts, (np.repeat(np.arange(m), n), idx.ravel()), 1.0)
        yield counts
        done += m


def _interval_from_log_draws(point: float, log_draws: np.ndarray) -> tuple[float, float, float, str]:
    """Percentile interval and Wald-type p-value from bootstrap draws of the log ratio, and a reason when
    there is no interval to stand behind (too few finite draws, or one that misses the point estimate:
    both signs that the data are too few for a bootstrap)."""
    draws = log_draws[np.isfinite(log_draws)]
    if not np.isfinite(point) or point <= 0:
        return np.nan, np.nan, np.nan, "the ratio is zero or undefined on this data: no interval"
    if len(draws) < 10:
        return np.nan, np.nan, np.nan, "too few people for a bootstrap interval"
    lo, hi = np.quantile(draws, [0.025, 0.975])
    if not lo <= np.log(point) <= hi:
        return np.nan, np.nan, np.nan, "the bootstrap interval does not contain the estimate (too few people)"
    se = draws.std(ddof=1)
    p = float(2 * stats.norm.sf(abs(np.log(point)) / se)) if se > 0 else np.nan
    # exp(log(x)) may miss x by a rounding error: the interval contains the point on the log scale
    return min(float(np.exp(lo)), point), max(float(np.exp(hi)), point), p, ""


def _people(n: int, who: str = "") -> str:
    return f"{n} {who + ' ' if who else ''}{'person' if n == 1 else 'people'}"


def _ratio_preconditions(post_sum: float, pre_sum: float, n: int, who: str, events: str, anchor: str):
    """Raise ``NotEstimable`` when an after/before ratio has nothing to divide by."""
    if n == 0:
        raise NotEstimable(
            f"no {who + ' ' if who else ''}people with days observed before and after {anchor}"
        )
    if pre_sum <= 0:
        raise NotEstimable(f"{_people(n, who)}, none with {events} before {anchor}: no rate to compare with")
    if post_sum <= 0:
        raise NotEstimable(f"{_people(n, who)}, all with zero {events} after {anchor}")
    if n < 2:
        raise NotEstimable(f"{_people(n, who)}: too few for an interval")


def _rate_ratio(post, post_days, pre, pre_days):
    with np.errstate(divide="ignore", invalid="ignore"):
        return (post / post_days) / (pre / pre_days)


def ratio_with_bootstrap(
    post: np.ndarray,
    pre: np.ndarray,
    reps: int = 999,
    seed: int = 0,
    post_days: np.ndarray | None = None,
    pre_days: np.ndarray | None = None,
    *,
    who: str = "",
    events: str = "events",
    anchor: str = "the anchor",
) -> dict:
    """Rate after / rate before over people (Σpost/Σpost_days ÷ Σpre/Σpre_days; equal windows when the
    days are not given), with a person-level percentile bootstrap interval. Not estimable (``NotEstimable``)
    with no people, no ``events`` before the anchor or a single person; ``who``, ``events`` and ``anchor``
    only word that reason."""
    post, pre = np.asarray(post, float), np.asarray(pre, float)
    post_days = np.ones(len(post)) if post_days is None else np.asarray(post_days, float)
    pre_days = np.ones(len(pre)) if pre_days is None else np.asarray(pre_days, float)
    keep = (post_days > 0) & (pre_days > 0)
    post, pre, post_days, pre_days = post[keep], pre[keep], post_days[keep], pre_days[keep]
    _ratio_preconditions(post.sum(), pre.sum(), len(post), who, events, anchor)
    point = float(_rate_ratio(post.sum(), post_days.sum(), pre.sum(), pre_days.sum()))
    rng = np.random.default_rng(seed)
    draws = []
    for counts in _bootstrap_counts(len(post), reps, rng):
        with np.errstate(divide="ignore", invalid="ignore"):
            draws.append(
                np.log(_rate_ratio(counts @ post, counts @ post_days, counts @ pre, counts @ pre_days))
            )
    lo, hi, p, reason = _interval_from_log_draws(point, np.concatenate(draws))
    return {
        "estimate": point,
        "ci_low": lo,
        "ci_high": hi,
        "p_value": p,
        "n_people": int(len(post)),
        "reason": reason,
    }


def naive_pre_post(
    pre: np.ndarray,
    post: np.ndarray,
    reps: int = 999,
    seed: int = 0,
    pre_days: np.ndarray | None = None,
    post_days: np.ndarray | None = None,
    **words: str,
) -> dict:
    """The single-group after/before ratio the seeds report. Labelled as *not* an effect estimate.
    ``words`` (who, events, anchor) word the reason when it is not estimable."""
    out = ratio_with_bootstrap(post, pre, reps, seed, post_days, pre_days, **{"who": "treated", **words})
    out.update(
        {
            "n_treated": out.pop("n_people"),
            "n_comparison": 0,
            "estimand": "rate ratio (after / before)",
            "note": "not an effect estimate: includes regression to the mean",
        }
    )
    return out


def matched_did(
    set_id: np.ndarray,
    is_treated: np.ndarray,
    weight: np.ndarray,
    pre: np.ndarray,
    post: np.ndarray,
    reps: int = 999,
    seed: int = 0,
    pre_days: np.ndarray | None = None,
    post_days: np.ndarray | None = None,
    *,
    events: str = "events",
    anchor: str = "the anchor",
    n_treated: int | None = None,
) -> dict[str, dict]:
    """Ratio-of-rate-ratios DiD with a cluster bootstrap over matched sets. Returns three results:
    ``did`` (the effect), ``comparison`` (the regression-to-the-mean ratio) and ``treated`` (naive).
    Observed days weight each person's contribution, so a comparison person censored early (e.g. joining
    a programme later) contributes only the days observed. Not estimable (``NotEstimable``) without a
    matched set; a part whose ratio has nothing to divide by carries its own ``reason``. ``n_treated``
    (the cohort before matching) and ``events``/``anchor`` only word the reasons."""
    n = len(set_id)
    pre_days = np.ones(n) if pre_days is None else np.asarray(pre_days, float)
    post_days = np.ones(n) if post_days is None else np.asarray(post_days, float)
    frame = pd.DataFrame({"set_id": set_id, "t": np.asarray(is_treated, bool)})
    w = np.asarray(weight, float)
    for name, values in (("pre", pre), ("pre_days", pre_days), ("post", post), ("post_days", post_days)):
        frame[name] = w * np.asarray(values, float)
    roles = frame.groupby("set_id")["t"].agg(["any", "all"])
    matched_sets = roles.index[roles["any"] & ~roles["all"]]
    if len(matched_sets) == 0:
        cohort = int(roles["any"].sum()) if n_treated is None else n_treated
        raise NotEstimable(
            f"{_people(cohort, 'treated')}, none with a matched comparison"
            if cohort
            else "no treated person with a matched comparison"
        )
    sums = (
        frame.loc[frame["set_id"].isin(matched_sets)]
        .groupby(["set_id", "t"])[["pre", "pre_days", "post", "post_days"]]
        .sum()
        .unstack("t", fill_value=0.0)
    )
    parts = {
        (name, t): sums[(name, t)].to_numpy()
        for name in ("pre", "pre_days", "post", "post_days")
        for t in (True, False)
    }
    n_sets = len(sums)
    n_comparison = int((~frame["t"]).sum())

    def ratios(agg):
        rt = _rate_ratio(
            agg[("post", True)], agg[("post_days", True)], agg[("pre", True)], agg[("pre_days", True)]
        )
        rc = _rate_ratio(
            agg[("post", False)], agg[("post_days", False)], agg[("pre", False)], agg[("pre_days", False)]
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            return rt / rc, rc, rt

    totals = {k: v.sum() for k, v in parts.items()}
    with np.errstate(divide="ignore", invalid="ignore"):
        point = ratios(totals)
    draws = [[], [], []]
    rng = np.random.default_rng(seed)
    if n_sets > 1:
        for counts in _bootstrap_counts(n_sets, reps, rng):
            with np.errstate(divide="ignore", invalid="ignore"):
                for i, r in enumerate(ratios({k: counts @ v for k, v in parts.items()})):
                    draws[i].append(np.log(r))
    none = {(name, t): totals[(name, t)] <= 0 for name in ("pre", "post") for t in (True, False)}
    treated_people = _people(n_sets, "treated")
    reasons = {
        "treated": f"{treated_people}, none with {events} before {anchor}"
        if none[("pre", True)]
        else f"{treated_people}, none with {events} after {anchor}"
        if none[("post", True)]
        else "",
        "comparison": f"the matched comparison group has no {events} before {anchor}"
        if none[("pre", False)]
        else f"the matched comparison group has no {events} after {anchor}"
        if none[("post", False)]
        else "",
    }
    reasons["did"] = reasons["treated"] or reasons["comparison"]
    if n_sets < 2:
        too_few = f"{treated_people} matched: too few for an interval"
        reasons = {part: why or too_few for part, why in reasons.items()}
    out = {}
    for i, name in enumerate(("did", "comparison", "treated")):
        lo, hi, p, why = _interval_from_log_draws(
            point[i], np.concatenate(draws[i]) if draws[i] else np.array([])
        )
        out[name] = {
            "estimate": float(point[i]),
            "ci_low": lo,
            "ci_high": hi,
            "p_value": p,
            "n_treated": int(n_sets),
            "n_comparison": n_comparison,
            "reason": reasons[name] or why,
        }
    out["did"]["estimand"] = "rate ratio (difference-in-differences, treated vs matched comparison)"
    out["comparison"]["estimand"] = "rate ratio (after / before) in the matched comparison group"
    out["comparison"]["note"] = "regression to the mean: the change seen with no programme"
    out["treated"]["estimand"] = "rate ratio (after / before)"
    out["treated"]["note"] = "not an effect estimate: includes regression to the mean"
    return out


def rct_rate_ratio(
    y: np.ndarray,
    exposure_days: np.ndarray,
    treated: np.ndarray,
    baseline: np.ndarray | None = None,
    family: str = "poisson",
    *,
    events: str = "events",
    anchor: str = "randomisation",
    variance: str = "HC3",
) -> dict:
    """Rate ratio of the treated arm from a count GLM with a log(exposure) offset.

    ``family='poisson'`` uses a sandwich (robust) variance with a small-sample correction, ``variance``
    (default HC3, see :func:`poisson_robust_se`), and ``t`` quantiles on ``n − k`` degrees of freedom;
    ``variance='HC0'`` gives the uncorrected sandwich with normal quantiles (the earlier interval, which
    excludes "no effect" too often in small trials: docs/evaluation.md); ``'negbin'`` fits NB2 (variance μ + αμ²) as a GLM at the
    α that maximises the profile likelihood (:func:`negbin_alpha`), with model-based errors given α (as
    R's ``MASS::glm.nb``). A baseline with no variation is left out (it would alias the intercept).
    Not estimable (``NotEstimable``) when an arm is empty or has no ``events`` at all (the rate ratio is
    then zero or infinite), or when the fit does not converge."""
    if family not in ("poisson", "negbin"):
        raise ValueError("family must be 'poisson' or 'negbin'")
    y = np.asarray(y, float)
    exposure = np.asarray(exposure_days, float)
    treated = np.asarray(treated, bool)
    ok = exposure > 0
    y, exposure, treated = y[ok], exposure[ok], treated[ok]
    n_t, n_c = int(treated.sum()), int((~treated).sum())
    _two_per_arm(n_t, n_c)
    for who, arm, n_arm in (("treated", treated, n_t), ("control", ~treated, n_c)):
        if y[arm].sum() <= 0:
            raise NotEstimable(f"{_people(n_arm, who)}, all with zero {events} after {anchor}")
    cols = [np.ones(len(y)), treated.astype(float)]
    if baseline is not None:
        b = np.log1p(np.asarray(baseline, float)[ok])
        if np.ptp(b) > 0:
            cols.append(b)
    x = np.column_stack(cols)
    if len(y) <= x.shape[1] + (family == "negbin"):
        raise NotEstimable(
            f"{_people(len(y))} for {x.shape[1]} parameters: too few to fit the {family} model"
        )
    offset = np.log(exposure)
    result = {"n_treated": n_t, "n_comparison": n_c}
    if family == "poisson":
        fit = _fit_glm(y, x, offset, sm.families.Poisson())
    else:
        alpha = negbin_alpha(y, x, offset)
        fit = _fit_glm(y, x, offset, sm.families.NegativeBinomial(alpha=alpha))
        result["alpha"] = alpha
    if not fit.converged:
        raise NotEstimable(f"the {family} model did not converge")
    beta = float(fit.params[1])
    if family == "poisson":
        se, df = poisson_robust_se(y, x, fit.mu, variance)
        se = float(se[1])
    else:
        se, df = float(fit.bse[1]), np.inf
    if not (np.isfinite(beta) and np.isfinite(se) and se > 0):
        raise NotEstimable(f"the {family} model gives no standard error for the arm on this data")
    crit = Z95 if np.isinf(df) else float(stats.t.ppf(0.975, df))
    tail = stats.norm.sf if np.isinf(df) else lambda q: stats.t.sf(q, df)
    return {
        **result,
        "estimate": float(np.exp(beta)),
        "ci_low": float(np.exp(beta - crit * se)),
        "ci_high": float(np.exp(beta + crit * se)),
        "p_value": float(2 * tail(abs(beta / se))),
    }


POISSON_VARIANCES = ("HC0", "HC1", "HC2", "HC3")


def poisson_robust_se(y, x, mu, variance: str = "HC3") -> tuple[np.ndarray, float]:
    """Sandwich standard errors of a log-link Poisson GLM's coefficients, and the degrees of freedom of the
    reference distribution for its interval.

    With ``W = diag(μ)``, bread ``B = (XᵀWX)⁻¹``, residuals ``r = y − μ`` and leverages
    ``h_i = μ_i · x_iᵀ B x_i`` (the diagonal of ``W^½ X B Xᵀ W^½``)::

        V = B · Σ_i x_i x_iᵀ r_i² / c_i · B

    with ``c_i = 1`` (HC0), ``1`` and ``V`` scaled by ``n / (n − k)`` (HC1), ``1 − h_i`` (HC2) or
    ``(1 − h_i)²`` (HC3: the jackknife-like correction of MacKinnon & White, for GLMs Mancl & DeRouen's
    bias-corrected sandwich). HC0 is referred to the normal (``df = inf``), the corrected ones to ``t`` on
    ``n − k`` degrees of freedom: HC0 with normal quantiles is too narrow in small trials."""
    if variance not in POISSON_VARIANCES:
        raise ValueError(f"variance must be one of {POISSON_VARIANCES}, not {variance!r}")
    y, x, mu = np.asarray(y, float), np.asarray(x, float), np.asarray(mu, float)
    n, k = x.shape
    with np.errstate(all="ignore"):
        bread = np.linalg.pinv(x.T @ (mu[:, None] * x))
        h = np.clip(mu * np.einsum("ij,jk,ik->i", x, bread, x), 0.0, 1.0 - 1e-12)
        r2 = (y - mu) ** 2
        if variance == "HC2":
            r2 = r2 / (1.0 - h)
        elif variance == "HC3":
            r2 = r2 / (1.0 - h) ** 2
        meat = x.T @ (r2[:, None] * x)
        cov = bread @ meat @ bread
        if variance == "HC1":
            cov = cov * n / (n - k)
        se = np.sqrt(np.diag(cov))
    return se, (np.inf if variance == "HC0" else float(n - k))


NEGBIN_ALPHA_BOUNDS = (1e-6, 1e3)


def _fit_glm(y, x, offset, family, **fit_options):
    """A statsmodels GLM fit by IRLS; the weights overflowing (statsmodels: "estimation infeasible") on
    extreme counts and exposures is a fact about the data, so it becomes ``NotEstimable``."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return sm.GLM(y, x, family=family, offset=offset).fit(**fit_options)
        except ValueError as error:
            if "infeasible" not in str(error):
                raise
            raise NotEstimable(
                f"the {type(family).__name__} model is numerically infeasible on this data"
            ) from error


def negbin_alpha(y: np.ndarray, x: np.ndarray, offset: np.ndarray) -> float:
    """The NB2 dispersion α that maximises the profile log-likelihood (the GLM refitted at each α; a
    bounded one-dimensional search on log α). Each inner fit is IRLS with α fixed, which stays stable
    where the joint Newton fit of ``statsmodels.discrete.NegativeBinomial`` meets a singular Hessian.
    α at the lower bound means no overdispersion: the fit is then Poisson."""
    from scipy.optimize import minimize_scalar

    def negative_profile(log_alpha: float) -> float:
        try:
            fit = _fit_glm(y, x, offset, sm.families.NegativeBinomial(alpha=float(np.exp(log_alpha))))
        except NotEstimable:  # IRLS infeasible at this α: not the maximum
            return np.inf
        return -float(fit.llf) if np.isfinite(fit.llf) else np.inf

    low, high = np.log(NEGBIN_ALPHA_BOUNDS[0]), np.log(NEGBIN_ALPHA_BOUNDS[1])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        found = minimize_scalar(
            negative_profile, bounds=(low, high), method="bounded", options={"xatol": 1e-3}
        )
    return float(np.exp(found.x))


def rct_rate_difference(
    y,
    exposure_days,
    treated,
    reps: int = 999,
    seed: int = 0,
    *,
    events: str = "events",
    anchor: str = "randomisation",
) -> dict:
    """Difference in rates per person-year (treated − control), bootstrap within arms. Not estimable with
    fewer than two people in an arm (no interval) or with no ``events`` in either arm (a difference of
    zero with an interval of zero width says nothing)."""
    y, e, t = np.asarray(y, float), np.asarray(exposure_days, float) / 365.25, np.asarray(treated, bool)
    ok = e > 0
    y, e, t = y[ok], e[ok], t[ok]
    _two_per_arm(int(t.sum()), int((~t).sum()))
    if y.sum() <= 0:
        raise NotEstimable(f"{_people(len(y))}, all with zero {events} after {anchor}")

    def diff(yt, et, yc, ec):
        return yt / et - yc / ec

    point = diff(y[t].sum(), e[t].sum(), y[~t].sum(), e[~t].sum())
    rng = np.random.default_rng(seed)
    draws = []
    if t.sum() > 1 and (~t).sum() > 1:
        gt, gc = _bootstrap_counts(int(t.sum()), reps, rng), _bootstrap_counts(int((~t).sum()), reps, rng)
        for ct, cc in zip(gt, gc, strict=True):
            draws.append(diff(ct @ y[t], ct @ e[t], cc @ y[~t], cc @ e[~t]))
    draws = np.concatenate(draws) if draws else np.array([np.nan])
    lo, hi = np.nanquantile(draws, [0.025, 0.975]) if np.isfinite(draws).any() else (np.nan, np.nan)
    se = np.nanstd(draws, ddof=1) if np.isfinite(draws).sum() > 2 else np.nan
    p = float(2 * stats.norm.sf(abs(point) / se)) if se and se > 0 else np.nan
    reason = (
        "" if lo <= point <= hi else "the bootstrap interval does not contain the estimate (too few people)"
    )
    return {
        "reason": reason,
        "estimate": float(point),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "p_value": p,
        "n_treated": int(t.sum()),
        "n_comparison": int((~t).sum()),
        "estimand": "rate difference per person-year (treatment − control)",
    }


def _two_per_arm(n_treated: int, n_control: int) -> None:
    if n_treated < 2 or n_control < 2:
        raise NotEstimable(
            f"{_people(n_treated, 'treated')} and {_people(n_control, 'control')} with follow-up: "
            "too few for an interval (two per arm at least)"
        )


def harm_ratio_permutation(
    harm,
    exposure_days,
    treated,
    reps: int = 999,
    seed: int = 0,
    *,
    events: str = "harm",
    anchor: str = "randomisation",
    interval: str = "inversion",
) -> dict:
    """Ratio of harm per person-year between arms, ``(Σ harm_t / Σ days_t) / (Σ harm_c / Σ days_c)``, with
    a randomisation-based interval and p-value, since harm is zero-inflated and heavy-tailed.

    ``interval='inversion'`` (default): the p-value is the equal-tailed permutation p-value of the log
    ratio (``reps`` relabellings of the arms), and the interval is the set of ratios ρ that the same
    permutation test does not reject at 5% once the treated arm's harm is divided by ρ (inversion of the
    test under a multiplicative effect: :func:`permutation_shift_interval`). The interval excludes 1
    exactly when the p-value is at most 0.05, and with no effect its rate of excluding 1 is at most 5%
    whatever the tails. ``interval='bootstrap'`` gives the earlier percentile bootstrap within arms (too
    narrow with few people per arm: docs/evaluation.md) beside the two-sided permutation p-value of
    ``|log ratio|``.

    Not estimable with fewer than two people in an arm or no ``events`` in an arm (the ratio is then zero
    or infinite); an interval that does not close (too few people with harm) is left empty with a reason."""
    if interval not in ("inversion", "bootstrap"):
        raise ValueError("interval must be 'inversion' or 'bootstrap'")
    h, e, t = np.asarray(harm, float), np.asarray(exposure_days, float), np.asarray(treated, bool)
    ok = e > 0
    h, e, t = h[ok], e[ok], t[ok]
    _two_per_arm(int(t.sum()), int((~t).sum()))
    for who, arm in (("treated", t), ("control", ~t)):
        if h[arm].sum() <= 0:
            raise NotEstimable(f"{_people(int(arm.sum()), who)}, all with zero {events} after {anchor}")

    def ratio(ht, et, hc, ec):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (ht / et) / (hc / ec)

    point = ratio(h[t].sum(), e[t].sum(), h[~t].sum(), e[~t].sum())
    rng = np.random.default_rng(seed)
    result = {
        "n_treated": int(t.sum()),
        "n_comparison": int((~t).sum()),
        "estimand": "harm ratio per person-year (treatment / control)",
    }
    if interval == "inversion":
        lo, hi, p, reason = permutation_shift_interval(h, e, t, reps, rng)
        if reason:
            return {**result, "estimate": float(point), "p_value": p, "reason": reason}
        return {
            **result,
            "estimate": float(point),
            "ci_low": min(lo, float(point)),
            "ci_high": max(hi, float(point)),
            "p_value": p,
        }
    draws = []
    for ct, cc in zip(
        _bootstrap_counts(int(t.sum()), reps, rng), _bootstrap_counts(int((~t).sum()), reps, rng), strict=True
    ):
        draws.append(np.log(ratio(ct @ h[t], ct @ e[t], cc @ h[~t], cc @ e[~t])))
    draws = np.concatenate(draws)
    draws = draws[np.isfinite(draws)]
    if len(draws) < 10:
        return {
            **result,
            "estimate": float(point),
            "reason": "too few people with harm for a bootstrap interval",
        }
    lo, hi = np.exp(np.quantile(draws, [0.025, 0.975]))
    if not lo <= point <= hi:
        return {
            **result,
            "estimate": float(point),
            "reason": "the bootstrap interval does not contain the estimate",
        }
    observed = abs(np.log(point))
    perm = np.empty(reps)
    n_t = int(t.sum())
    for i in range(reps):
        shuffled = rng.permutation(len(h))
        pt, pc = shuffled[:n_t], shuffled[n_t:]
        r = ratio(h[pt].sum(), e[pt].sum(), h[pc].sum(), e[pc].sum())
        perm[i] = abs(np.log(r)) if r > 0 and np.isfinite(r) else np.inf
    p = (1 + np.sum(perm >= observed)) / (reps + 1)
    return {
        **result,
        "estimate": float(point),
        "ci_low": float(lo),
        "ci_high": float(hi),
        "p_value": float(p),
    }


def _relabelled_sums(h, e, t, reps: int, rng: np.random.Generator, chunk: int = 256):
    """For ``reps`` random relabellings (as many "treated" as in ``t``), the sums over the relabelled
    treated arm of the treated people's harm, the control people's harm and the days: three (reps,)
    arrays (the relabelled control sums are the totals minus these)."""
    n, n_t = len(h), int(t.sum())
    h_treated, h_control = np.where(t, h, 0.0), np.where(t, 0.0, h)
    out = np.empty((3, reps))
    for start in range(0, reps, chunk):
        m = min(chunk, reps - start)
        # the n_t smallest of n uniforms: a uniformly random subset of size n_t
        keys = rng.random((m, n))
        chosen = np.argpartition(keys, n_t - 1, axis=1)[:, :n_t] if n_t < n else np.tile(np.arange(n), (m, 1))
        member = np.zeros((m, n))
        np.put_along_axis(member, chosen, 1.0, axis=1)
        out[:, start : start + m] = (member @ np.column_stack([h_treated, h_control, e])).T
    return out


def permutation_shift_interval(
    h, e, t, reps: int, rng: np.random.Generator, alpha: float = 0.05, tol: float = 1e-4
) -> tuple[float, float, float, str]:
    """Interval for the harm ratio by inverting a permutation test over a multiplicative shift.

    Hypothesis ρ: the treated arm's harm divided by ρ is exchangeable with the control arm's (ρ = 1 is
    "no effect", exact in a randomised trial). The statistic is the log harm-rate ratio of the relabelled
    arms after the division, ``T(ρ) = log(Σ_t h̃/Σ_t e) − log(Σ_c h̃/Σ_c e)``; its observed value is
    ``log(point) − log ρ``. One set of relabellings serves every ρ (each relabelled arm's sum is
    ``A + B/ρ``: its control-arm harm plus its treated-arm harm divided by ρ), and the relabelled
    statistic moves with log ρ at a slope in [−1, 1] while the observed one moves at −1, so each
    one-sided p-value is monotone in ρ and the bounds are found by bisection on log ρ:
    ``low = inf{ρ : P(T_perm ≥ T_obs) > α/2}``, ``high = sup{ρ : P(T_perm ≤ T_obs) > α/2}`` with
    p-values ``(1 + #)/(reps + 1)``. Returns (low, high, p at ρ = 1, reason); the two-sided p-value is
    ``min(1, 2·min(one-sided))``, so the interval excludes 1 exactly when p ≤ α (up to ``tol``)."""
    h_t_total, h_c_total, e_total = h[t].sum(), h[~t].sum(), e.sum()
    e_t = e[t].sum()
    log_point = np.log(h_t_total / e_t) - np.log(h_c_total / (e_total - e_t))
    a_t, b_c, e_perm = _relabelled_sums(
        h, e, t, reps, rng
    )  # treated-harm, control-harm, days in relabelled t

    def one_sided(log_rho: float) -> tuple[float, float]:
        shrink = np.exp(-log_rho)
        with np.errstate(divide="ignore", invalid="ignore"):
            in_t = b_c + a_t * shrink
            in_c = h_c_total - b_c + (h_t_total - a_t) * shrink
            stat = np.log(in_t / e_perm) - np.log(in_c / (e_total - e_perm))
        observed = log_point - log_rho
        stat = np.where(np.isnan(stat), 0.0, stat)
        eps = 1e-10 * max(1.0, abs(observed))
        upper = (1 + np.sum(stat >= observed - eps)) / (reps + 1)
        lower = (1 + np.sum(stat <= observed + eps)) / (reps + 1)
        return upper, lower

    up1, low1 = one_sided(0.0)
    p = float(min(1.0, 2 * min(up1, low1)))
    if 1 / (reps + 1) > alpha / 2:
        return np.nan, np.nan, p, f"too few relabellings ({reps}) for a 95% interval"
    span = 30.0  # ratios e^±30 around the estimate: beyond that the interval does not close

    def bound(side: str) -> float:
        inside, outside = log_point, log_point + (span if side == "high" else -span)
        k = 0 if side == "low" else 1  # low: the upper-tail p-value; high: the lower-tail one
        if one_sided(outside)[k] > alpha / 2:
            return np.nan
        while abs(outside - inside) > tol:
            mid = (inside + outside) / 2
            if one_sided(mid)[k] > alpha / 2:
                inside = mid
            else:
                outside = mid
        return float(np.exp((inside + outside) / 2))

    low, high = bound("low"), bound("high")
    if not (np.isfinite(low) and np.isfinite(high)):
        return (
            np.nan,
            np.nan,
            p,
            "the permutation interval does not close on this data (too few people with harm)",
        )
    return low, high, p, ""


def kaplan_meier(time, event, group, weights=None) -> pd.DataFrame:
    """Kaplan–Meier survival (no DA reoffence) step points per group: group, time, survival, n_at_risk."""
    time, event, group = np.asarray(time, float), np.asarray(event, bool), np.asarray(group, object)
    weights = np.ones(len(time)) if weights is None else np.asarray(weights, float)
    frames = []
    for g in pd.unique(group):
        m = group == g
        if m.sum() == 0:
            continue
        sf = SurvfuncRight(time[m], event[m].astype(int), freq_weights=weights[m])
        frames.append(
            pd.DataFrame(
                {
                    "group": g,
                    "time": np.concatenate([[0.0], sf.surv_times]),
                    "survival": np.concatenate([[1.0], sf.surv_prob]),
                    "n_people": int(m.sum()),
                }
            )
        )
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["group", "time", "survival", "n_people"])
    )


def _cox_robust_se(model, fit, clusters: np.ndarray) -> float:
    """Lin–Wei sandwich standard error clustered by ``clusters``: H⁻¹ (Σ_g U_g U_gᵀ) H⁻¹ from the score
    residuals (statsmodels leaves NaN for a row after the last event of its stratum, whose residual is 0)."""
    residuals = np.nan_to_num(np.asarray(fit.score_residuals, float))
    _, group = np.unique(clusters, return_inverse=True)
    per_cluster = np.zeros((group.max() + 1, residuals.shape[1]))
    np.add.at(per_cluster, group, residuals)
    bread = np.linalg.inv(-model.hessian(fit.params))
    cov = bread @ (per_cluster.T @ per_cluster) @ bread
    return float(np.sqrt(cov[0, 0]))


def cox_hazard_ratio(time, event, treated, strata=None, clusters=None) -> dict:
    """Cox hazard ratio of time to first DA reoffence for the treated group (statsmodels PHReg), stratified
    by matched set when ``strata`` is given, with cluster-robust (Lin–Wei sandwich) errors when
    ``clusters`` is given — by person, so a comparison reused in several matched sets counts once."""
    time, event, treated = np.asarray(time, float), np.asarray(event, bool), np.asarray(treated, bool)
    result = {
        "n_treated": int(treated.sum()),
        "n_comparison": int((~treated).sum()),
        "estimand": "hazard ratio (time to first DA incident after the anchor)",
    }
    n_t, n_c = int(treated.sum()), int((~treated).sum())
    if n_t == 0 or n_c == 0:
        raise NotEstimable(
            f"{_people(n_t, 'treated')} and {_people(n_c, 'comparison')} with follow-up: a group is empty"
        )
    for who, group, n_group in (("treated", treated, n_t), ("comparison", ~treated, n_c)):
        if not event[group].any():
            raise NotEstimable(f"{_people(n_group, who)}, none with a DA incident in the follow-up")
    time = np.maximum(time, 0.5)  # an incident on the anchor day counts at half a day
    if strata is not None:
        # Strata without an event add nothing to the partial likelihood, and their NaN score residuals
        # would spoil the robust (sandwich) variance: leave them out.
        strata = np.asarray(strata)
        with_event = np.isin(strata, np.unique(strata[event]))
        time, event, treated, strata = (
            time[with_event],
            event[with_event],
            treated[with_event],
            strata[with_event],
        )
        clusters = None if clusters is None else np.asarray(clusters)[with_event]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = PHReg(
            time,
            treated.astype(float)[:, None],
            status=event.astype(int),
            strata=None if strata is None else np.asarray(strata),
            ties="efron",
        )
        fit = model.fit()
        beta, se = float(fit.params[0]), float(fit.bse[0])
        if clusters is not None and np.isfinite(beta):
            se = _cox_robust_se(model, fit, np.asarray(clusters))
    if not (getattr(fit, "mle_retvals", None) or {}).get("converged", True):
        raise NotEstimable("the Cox model did not converge (too few events to separate the groups)")
    if not (np.isfinite(beta) and np.isfinite(se) and se > 0 and np.isfinite(np.exp(beta + Z95 * se))):
        raise NotEstimable(
            "the Cox model gives no finite interval on this data (too few events within strata)"
        )
    p = float(2 * stats.norm.sf(abs(beta / se)))
    return {
        **result,
        "estimate": float(np.exp(beta)),
        "ci_low": float(np.exp(beta - Z95 * se)),
        "ci_high": float(np.exp(beta + Z95 * se)),
        "p_value": p,
    }
