"""A second, independent effect estimator from a maintained library: Callaway–Sant'Anna.

``diff-diff``'s ``CallawaySantAnna`` (Callaway & Sant'Anna 2021, with Sant'Anna & Zhao's 2020 doubly-robust
DiD in each cell by default; outcome regression or inverse probability weighting as options) is run on a
panel built here, independently of the matching:

* **cohorts aligned and stacked.** For each selection date ``d``, the people selected that day and the
  eligible people not selected by then (the top ``pool_top_n`` of the RFG ranking at ``d``, from what was
  reported before ``d``) form one sub-panel with four periods of ``block_days``: two before ``d`` and two
  after (the matched DiD's 12 + 12 months). Sub-panels are stacked with the periods numbered 1..4 relative
  to their own ``d``, so every selected person is "first treated" in period 3. A comparison selected at a
  later date stays a comparison (an intention-to-treat view of later selection, which biases towards no
  effect by the part of the comparisons' time after it): treating them from that date, as the library's
  not-yet-treated rule does, removes them exactly when their recorded harm peaked and leaned the estimate
  towards a harm in the simulation study. Standard errors are clustered by person, so a person who is a
  comparison at several dates counts once;
* **outcomes on the knowledge-time rule.** The periods before ``d`` count incidents reported before ``d``;
  those after, incidents reported within ``reporting_lag_days`` of the window's close. Sub-panels whose
  window has not closed by the end of the extract are left out;
* **covariates** are a compact subset of the matching covariates, the selection drivers a panel sees (the
  RFG score and the person's place in that day's RFG list, recency, frequency and harm in the lookback, DA
  incidents in the two latest blocks, the recorded risk grades, and where the extract has them non-DA
  offending, custody and victims; for a harm outcome that harm scale in the two latest blocks), taken, as
  the library does, from each comparison's base period: the history known at the end of that period;
* **interval.** The library's own s.e. was too small for the spread of its estimates over the study's
  worlds and harm's heavy tail skews the t statistic, so the test and interval use a symmetric bootstrap-t:
  people resampled (``bootstrap_reps``), the library refitted on each, the 95th percentile of ``|t*|`` as
  the critical value (``bootstrap_t``);
* **effect scale.** The library's estimate is the ATT in incidents (or harm) per person per period. It is
  turned into the rate ratio the rest of the evaluation uses, ``a / (a − ATT)`` with ``a`` the treated
  people's observed mean after ``d``. ``a`` is estimated too, and correlated with the ATT, so the interval
  is Fieller's for the ratio of the two (``ratio_interval``): it excludes 1 exactly when the ATT's test
  rejects, and away from 1 it counts the noise in ``a`` that holding it fixed left out;
* **the pre-period cell** (``library_placebo``): the library's ATT for period 2 against period 1, from the
  same fit, with the library's normal interval. It is not a placebo for the headline: people were
  selected on their history up to ``d``, most of all the latest months (recency), i.e. on period 2 itself,
  and that cell conditions only on the history at the end of period 1. It measures the selection (far from
  1 by construction); the headline conditions on the history at ``d``. The matched placebo DiD is the
  design's placebo.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ml.estimability import NotEstimable, attempt
from ml.evaluation.matching import MatchingConfig, Sources, matching_covariates
from ml.evaluation.rfg import RFGConfig, components_at

LIBRARY = "diff-diff"


def library_version() -> str:
    try:
        from importlib.metadata import version

        return version(LIBRARY)
    except Exception:  # noqa: BLE001 - the version is a label only
        return "unknown"


@dataclass
class StaggeredPanel:
    frame: pd.DataFrame  # unit, period, first_treat, cluster, outcome columns, covariate columns
    covariates: list[str]
    measures: list[str]
    n_cohorts: int
    n_cohorts_dropped: int
    n_treated: int


def build_panel(
    sources: Sources,
    treated_codes,
    treated_anchor_days,
    selection_day_by_code,
    measures: list[str],
    block_days: int,
    reporting_lag_days: int,
    rfg: RFGConfig,
    matching: MatchingConfig,
    pool_top_n: int | None = None,
) -> StaggeredPanel:
    index = sources.index
    treated_codes = np.asarray(treated_codes, np.int64)
    anchors = np.asarray(treated_anchor_days, float)
    selection_day_by_code = np.asarray(selection_day_by_code, float)
    top_n = pool_top_n or matching.candidate_pool_top_n
    frames, dropped, n_cohorts, n_treated = [], 0, 0, 0
    unit_offset = 0
    for d in np.unique(anchors):
        if (
            d + 2 * block_days + reporting_lag_days > index.last_day + 1
            or d - 2 * block_days < index.first_day
        ):
            dropped += 1
            continue
        t_codes = treated_codes[anchors == d]
        pool = index.active_between(int(d) - rfg.lookback_days, int(d), known_by=int(d))
        available = ~(selection_day_by_code[pool] <= d) & ~np.isin(pool, t_codes)
        pool = pool[available]
        if len(pool) > top_n:
            score = components_at(index, pool, np.full(len(pool), d), rfg).rfg_score
            pool = np.sort(pool[np.argsort(-score, kind="stable")[:top_n]])
        if len(pool) == 0:
            dropped += 1
            continue
        codes = np.concatenate([t_codes, pool])
        n = len(codes)
        # Only the people selected on ``d`` are treated. A comparison selected at a later date stays a
        # comparison throughout: treating them from that date (the library's not-yet-treated rule) drops
        # them exactly when their recorded harm peaked (they were selected on it), which left the
        # comparisons' later periods too low and leaned the estimate towards a harm (docs/evaluation.md).
        first_treat = np.where(np.arange(n) < len(t_codes), 3, 0).astype(int)
        starts = d + np.array([-2, -1, 0, 1]) * block_days
        known = np.array(
            [d, d, d + 2 * block_days + reporting_lag_days, d + 2 * block_days + reporting_lag_days]
        )
        cov_at = {1: d - block_days, 2: d, 3: d + block_days, 4: d + block_days}
        cov_cache = {}
        for period in (1, 2, 3):
            cov = matching_covariates(sources, codes, np.full(n, cov_at[period]), rfg, {}, matching)
            cov_cache[period] = cov
        cov_cache[4] = cov_cache[3]
        for j, period in enumerate((1, 2, 3, 4)):
            part = {
                "unit": unit_offset + np.arange(n),
                "cluster": codes,
                "period": period,
                "first_treat": first_treat,
                "is_treated": np.arange(n) < len(t_codes),
            }
            for m in measures:
                part[m] = index.window_sum(
                    codes, np.full(n, starts[j]), np.full(n, starts[j] + block_days), m, np.full(n, known[j])
                )
            cov = cov_cache[period]
            x = cov.to_numpy(dtype=float)
            for k, name in enumerate(cov.columns):
                part[f"x_{name}"] = x[:, k]
            frames.append(pd.DataFrame(part))
        unit_offset += n
        n_cohorts += 1
        n_treated += len(t_codes)
    if not frames:
        raise NotEstimable(
            "no selection date with two six-month blocks observed on each side (plus the reporting lag)"
        )
    frame = pd.concat(frames, ignore_index=True)
    covariates = [c for c in frame.columns if c.startswith("x_")]
    # Drop covariates without variation (the library would drop them with a warning anyway).
    covariates = [c for c in covariates if frame[c].std() > 0]
    return StaggeredPanel(frame, covariates, list(measures), n_cohorts, dropped, n_treated)


BASE_COVARIATES = (
    # The selection drivers a panel sees, as the matching has them: the RFG list, recent DA volume, the
    # recorded risk grades and, where the extract has them, non-DA offending, custody and victims.
    "rfg_score",
    "rank_rfg_score",
    "rank_recency",
    "rank_frequency",
    "rank_harm",
    "days_since_last_da",
    "n_da_incidents_lookback",
    "gravity_lookback",
    "da_incidents_block_-1",
    "da_incidents_block_-2",
    "risk_high_lookback",
    "risk_medium_lookback",
    "non_da_incidents_lookback",
    "custody_arrests_lookback",
    "n_victims_3y",
)

#: The library's estimator in each cell. ``dr`` (doubly robust) is the default. ``reg`` (outcome regression)
#: was less biased on the simulation study's worlds but leaned towards a harm by +0.11 to +0.21 on the log
#: scale on the generator's extracts, where the selected sit beyond the comparisons' covariates and a
#: linear regression extrapolates (docs/evaluation.md).
LIBRARY_METHODS = ("dr", "reg", "ipw")


def covariates_for(panel: StaggeredPanel, measure: str) -> list[str]:
    names = list(BASE_COVARIATES)
    if measure.startswith("harm_"):
        names += [f"{measure}_block_-1", f"{measure}_block_-2"]
    return [f"x_{n}" for n in names if f"x_{n}" in panel.covariates]


def _fit(frame: pd.DataFrame, measure: str, covariates: list[str], method: str):
    from diff_diff import CallawaySantAnna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CallawaySantAnna(
            control_group="not_yet_treated",
            estimation_method=method,
            cluster="cluster",
            base_period="varying",
        ).fit(frame, measure, "unit", "period", "first_treat", covariates=covariates, aggregate="group")


def _cohort_att(fit) -> tuple[float, float]:
    group = fit.group_effects.get(3) if fit.group_effects else None
    if group is None or not np.isfinite(group["effect"]) or not np.isfinite(group["se"]) or group["se"] <= 0:
        raise NotEstimable("the library returned no estimate for the selected cohort")
    return float(group["effect"]), float(group["se"])


def bootstrap_t(
    frame: pd.DataFrame, measure: str, covariates: list[str], method: str, att: float, reps: int, seed: int
) -> np.ndarray:
    """Studentised statistics ``(ATT* − ATT) / s.e.*`` of ``reps`` resamples of people, each a refit of the
    library (its own s.e. in the denominator).

    People are resampled with replacement (every row of a drawn person, in every sub-panel they appear in,
    as a new unit and cluster), so the clustering by person is the resampling unit. Only the periods the
    headline uses (2–4) are refitted. A resample the library cannot estimate is left out."""
    part = frame.loc[frame["period"] >= 2].sort_values(["cluster", "unit", "period"], kind="stable")
    part = part.reset_index(drop=True)
    persons, start, count = np.unique(part["cluster"].to_numpy(), return_index=True, return_counts=True)
    unit = part["unit"].to_numpy(np.int64)
    span = int(unit.max()) + 1
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(reps):
        pick = rng.integers(0, len(persons), len(persons))
        sizes = count[pick]
        first = np.repeat(np.cumsum(sizes) - sizes, sizes)
        rows = np.repeat(start[pick], sizes) + (np.arange(int(sizes.sum())) - first)
        copy = np.repeat(np.arange(len(pick), dtype=np.int64), sizes)
        resample = part.iloc[rows].assign(unit=unit[rows] + copy * span, cluster=copy)
        if not resample["is_treated"].any():
            continue
        try:
            att_b, se_b = _cohort_att(_fit(resample, measure, covariates, method))
        except Exception:  # noqa: BLE001 - a resample the library cannot fit is left out and counted
            continue
        out.append((att_b - att) / se_b)
    return np.asarray(out, float)


#: Fewer usable resamples than this and the interval falls back to the library's normal one (said so).
MIN_BOOTSTRAP = 19


def callaway_santanna(
    panel: StaggeredPanel, measure: str, method: str = "dr", bootstrap_reps: int = 99, seed: int = 0
) -> dict:
    """The library's ATT for one measure, with the placebo and the rate-ratio view.

    ``bootstrap_reps > 0``: the test of "no effect" and the interval use the symmetric bootstrap-t
    (``bootstrap_t``): the critical value is the 95th percentile of ``|t*|`` instead of 1.96, and the
    p-value the share of ``|t*|`` at least the observed ``|t|``. The library's own s.e. was about 15% too
    small for the spread of its estimates over the study's worlds, and the heavy-tailed harm skews ``t``
    (docs/evaluation.md); the studentised bootstrap corrects both. 0: the library's normal interval."""
    if method not in LIBRARY_METHODS:
        raise ValueError(f"unknown library method {method!r}; choose from {list(LIBRARY_METHODS)}")
    frame = panel.frame
    treated_post = frame.loc[frame["is_treated"] & (frame["period"] >= 3), measure]
    treated_pre = frame.loc[frame["is_treated"] & (frame["period"] <= 2), measure]
    comparison = frame.loc[~frame["is_treated"], measure]
    if panel.n_treated < 2:
        raise NotEstimable(f"{panel.n_treated} selected person(s) with full windows: too few")
    if treated_post.sum() + treated_pre.sum() == 0 or comparison.sum() == 0:
        raise NotEstimable(f"no {measure} at all in the treated or the comparison rows")
    covs = covariates_for(panel, measure)
    fit = _fit(frame, measure, covs, method)
    att, se = _cohort_att(fit)
    a, var_a, cov_a_att = treated_mean_moments(frame, measure, covs, post=(3, 4), base=2)
    if a <= 0:
        raise NotEstimable(f"the selected people have no {measure} after selection: no rate ratio")
    crit, p_value, interval_note = Z95, None, "the library's normal interval"
    if bootstrap_reps > 0:
        t_star = bootstrap_t(frame, measure, covs, method, att, bootstrap_reps, seed)
        if len(t_star) >= MIN_BOOTSTRAP:
            crit = float(np.quantile(np.abs(t_star), 0.95, method="higher"))
            p_value = float((1 + np.sum(np.abs(t_star) >= abs(att) / se)) / (len(t_star) + 1))
            interval_note = (
                f"symmetric bootstrap-t ({len(t_star)} of {bootstrap_reps} resamples of people refitted; "
                f"critical value {crit:.2f})"
            )
        else:
            interval_note = (
                f"the library's normal interval (only {len(t_star)} of {bootstrap_reps} bootstrap "
                "resamples could be fitted)"
            )
    ratio = ratio_interval(a, var_a, att, se**2, cov_a_att, crit=crit)
    if p_value is not None:
        ratio["p_value"] = p_value
    placebo = fit.group_time_effects.get((3, 2)) if fit.group_time_effects else None
    out = {
        **ratio,
        "att": att,
        "att_se": se,
        "critical_value": crit,
        "treated_post_mean": a,
        "n_treated": int(panel.n_treated),
        "n_comparison": int(frame.loc[~frame["is_treated"], "cluster"].nunique()),
        "estimand": f"rate ratio from the ATT per person per six months (Callaway–Sant'Anna, {method})",
        "note": f"{LIBRARY} {library_version()}: estimation method {method}, comparisons not selected on the "
        f"date (a later selection kept as a comparison), cohorts aligned on their selection date, SEs "
        f"clustered by person; {panel.n_cohorts} selection date(s)"
        + (f", {panel.n_cohorts_dropped} left out (window not observed)" if panel.n_cohorts_dropped else "")
        + f"; ratio interval: Fieller's with {interval_note}, the selected people's own mean counted as "
        "estimated",
    }
    if placebo is not None and np.isfinite(placebo["effect"]) and np.isfinite(placebo["se"]):
        p_att, p_se = float(placebo["effect"]), float(placebo["se"])
        pre, var_pre, cov_pre = treated_mean_moments(frame, measure, covs, post=(2,), base=1)
        # The pre-period cell failing on its own (e.g. an unbounded ratio) must not take the headline.
        cell = attempt("library pre-period cell", ratio_interval, pre, var_pre, p_att, p_se**2, cov_pre)
        out["placebo"] = cell.value if cell.ok else {"reason": cell.reason}
    return out


Z95 = 1.959963984540054


def ratio_interval(
    a: float, var_a: float, att: float, var_att: float, cov_a_att: float, crit: float = Z95
) -> dict:
    """The rate ratio ``R = a / c`` with ``c = a − ATT``, and its 95% interval by Fieller's theorem.

    ``a`` (the selected people's observed mean after selection) is itself estimated and correlated with
    the ATT (the same people's outcomes enter both), so both enter the interval. Fieller's interval is
    the set of ratios ``r`` that a Wald test of ``a − r·c = 0`` does not reject; at ``r = 1`` that
    statistic is ``ATT / s.e.(ATT)``, so the interval excludes 1 exactly when the library's own test
    of the ATT rejects "no effect" (the ratio's interval never changes that verdict). Away from 1 it
    counts ``var(a)`` and the covariance: holding ``a`` fixed (the earlier interval) is too short for a
    fall (``a < c``). ``std_error`` is the delta method's s.e. of ``log R``, for comparison only. ``crit``
    replaces 1.96 (a bootstrap-t critical value); the interval then excludes 1 exactly when
    ``|ATT| / s.e. > crit``."""
    c = a - att
    if not (a > 0 and c > 0):
        raise NotEstimable(
            f"the counterfactual mean ({c:.3g}) or the observed mean ({a:.3g}) is not positive: no rate ratio"
        )
    var_c = var_a + var_att - 2.0 * cov_a_att
    cov_ac = var_a - cov_a_att
    z2 = crit**2
    # (a − r c)² ≤ z² var(a − r c)  ⇔  A r² − 2 B r + C ≤ 0
    qa, qb, qc = c * c - z2 * var_c, a * c - z2 * cov_ac, a * a - z2 * var_a
    disc = qb * qb - qa * qc
    if qa <= 0 or disc < 0:
        raise NotEstimable(
            "the counterfactual mean is not distinguishable from zero: the rate ratio's interval is unbounded"
        )
    root = float(np.sqrt(disc))
    g_a, g_c = 1.0 / a, -1.0 / c
    se = float(np.sqrt(max(g_a**2 * var_a + g_c**2 * var_c + 2 * g_a * g_c * cov_ac, 0.0)))
    return {
        "estimate": float(a / c),
        "ci_low": float((qb - root) / qa),
        "ci_high": float((qb + root) / qa),
        "p_value": float(2 * stats.norm.sf(abs(att) / np.sqrt(var_att))) if var_att > 0 else np.nan,
        "std_error": se,
    }


def treated_mean_moments(frame: pd.DataFrame, measure: str, covariates: list[str], post, base: int):
    """The selected people's mean over the ``post`` periods, its variance, and its covariance with the ATT.

    The covariance uses the selected people's part of the doubly-robust ATT's influence function
    (Sant'Anna & Zhao 2020): each person's own change from ``base`` less the change the outcome
    regression (fitted on the comparisons, covariates from the base period) predicts for them. The
    comparisons' part of the ATT does not involve the selected people, and the propensity model's
    estimation effect on the selected part is left out (an approximation, labelled as such in the docs);
    so is the rare person who is selected at one date and a comparison at another."""
    wide = frame.pivot(index="unit", columns="period", values=measure)
    units = wide.index.to_numpy()
    info = frame.loc[frame["period"] == base].set_index("unit").loc[units]
    treated = info["is_treated"].to_numpy(bool)
    # Comparisons for every post period: never selected, or selected after the last of them.
    ft = info["first_treat"].to_numpy()
    control = ~treated & ((ft == 0) | (ft > max(post)))
    y_post = wide[list(post)].to_numpy(float).mean(axis=1)
    change = y_post - wide[base].to_numpy(float)
    x = info[covariates].to_numpy(float) if covariates else np.zeros((len(units), 0))
    x = np.column_stack([np.ones(len(units)), x])
    beta = np.linalg.lstsq(x[control], change[control], rcond=None)[0]
    residual = change[treated] - x[treated] @ beta
    y_t = y_post[treated]
    n = len(y_t)
    a = float(y_t.mean())
    if n < 2:
        return a, np.nan, np.nan
    var_a = float(y_t.var(ddof=1) / n)
    cov = float(np.cov(y_t, residual, ddof=1)[0, 1] / n)
    return a, var_a, cov
