"""A second, independent effect estimator from a maintained library: Callaway–Sant'Anna (doubly robust).

``diff-diff``'s ``CallawaySantAnna`` (Callaway & Sant'Anna 2021, with Sant'Anna & Zhao's 2020 doubly-robust
DiD in each cell) is run on a panel built here, independently of the matching:

* **cohorts aligned and stacked.** For each selection date ``d``, the people selected that day and the
  eligible people not yet selected (the top ``pool_top_n`` of the RFG ranking at ``d``, from what was
  reported before ``d``) form one sub-panel with four periods of ``block_days``: two before ``d`` and two
  after (the matched DiD's 12 + 12 months). Sub-panels are stacked with the periods numbered 1..4 relative
  to their own ``d``, so every selected person is "first treated" in period 3; a comparison person selected
  later is "first treated" in the period after the one that contains that date (a not-yet-treated
  comparison until
  then; the part of the period after that date is kept, which biases slightly towards no effect).
  Standard errors are clustered by person, so a person who is a comparison at several dates counts
  once;
* **outcomes on the knowledge-time rule.** The periods before ``d`` count incidents reported before ``d``;
  those after, incidents reported within ``reporting_lag_days`` of the window's close. Sub-panels whose
  window has not closed by the end of the extract are left out;
* **covariates** are a compact subset of the matching covariates (the RFG score and the person's place
  in that day's RFG list, recency, frequency and harm in the lookback, DA incidents in the two latest
  blocks and, for a harm outcome, that harm scale in the two latest blocks), taken, as the library does,
  from each comparison's base period: the history known at the end of that period (the library fits a
  logistic and a regression per cell, so a short list keeps it fast and stable);
* **effect scale.** The library's estimate is the ATT in incidents (or harm) per person per period. It is
  turned into the rate ratio the rest of the evaluation uses, ``a / (a − ATT)`` with ``a`` the treated
  people's observed mean after ``d``; the interval maps the ATT's interval the same way (``a`` held fixed).
  A placebo from the same fit: the library's ATT for period 2 against period 1 (no programme yet).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ml.estimability import NotEstimable
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
        later = selection_day_by_code[codes]
        # Selected later: a not-yet-treated comparison up to the end of the period of that selection
        # (the rest of that period is kept, as with later_selection='keep'), treated from the next period.
        period_of_later = np.floor((later - d) / block_days) + 4
        first_treat = np.where(
            np.arange(n) < len(t_codes),
            3,
            np.where((later > d) & (period_of_later <= 4), period_of_later, 0),
        ).astype(int)
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
)


def covariates_for(panel: StaggeredPanel, measure: str) -> list[str]:
    names = list(BASE_COVARIATES)
    if measure.startswith("harm_"):
        names += [f"{measure}_block_-1", f"{measure}_block_-2"]
    return [f"x_{n}" for n in names if f"x_{n}" in panel.covariates]


def callaway_santanna(panel: StaggeredPanel, measure: str) -> dict:
    """The library's doubly-robust ATT for one measure, with the placebo and the rate-ratio view."""
    from diff_diff import CallawaySantAnna

    frame = panel.frame
    treated_post = frame.loc[frame["is_treated"] & (frame["period"] >= 3), measure]
    treated_pre = frame.loc[frame["is_treated"] & (frame["period"] <= 2), measure]
    comparison = frame.loc[~frame["is_treated"], measure]
    if panel.n_treated < 2:
        raise NotEstimable(f"{panel.n_treated} selected person(s) with full windows: too few")
    if treated_post.sum() + treated_pre.sum() == 0 or comparison.sum() == 0:
        raise NotEstimable(f"no {measure} at all in the treated or the comparison rows")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = CallawaySantAnna(
            control_group="not_yet_treated",
            estimation_method="dr",
            cluster="cluster",
            base_period="varying",
        ).fit(
            frame,
            measure,
            "unit",
            "period",
            "first_treat",
            covariates=covariates_for(panel, measure),
            aggregate="group",
        )
    group = fit.group_effects.get(3) if fit.group_effects else None
    if group is None or not np.isfinite(group["effect"]) or not np.isfinite(group["se"]):
        raise NotEstimable("the library returned no estimate for the selected cohort")
    att, se = float(group["effect"]), float(group["se"])
    a = float(treated_post.mean())
    lo_att, hi_att = att - 1.959963984540054 * se, att + 1.959963984540054 * se

    def ratio(tau):
        counterfactual = a - tau
        return a / counterfactual if counterfactual > 0 else np.inf

    if a <= 0:
        raise NotEstimable(f"the selected people have no {measure} after selection: no rate ratio")
    placebo = fit.group_time_effects.get((3, 2)) if fit.group_time_effects else None
    out = {
        "estimate": float(ratio(att)),
        "ci_low": float(ratio(lo_att)),
        "ci_high": float(ratio(hi_att)),
        "p_value": float(2 * stats.norm.sf(abs(att / se))) if se > 0 else np.nan,
        "att": att,
        "att_se": se,
        "treated_post_mean": a,
        "n_treated": int(panel.n_treated),
        "n_comparison": int(frame.loc[~frame["is_treated"], "cluster"].nunique()),
        "estimand": "rate ratio from the ATT per person per six months (Callaway–Sant'Anna, doubly robust)",
        "note": f"{LIBRARY} {library_version()}: not-yet-treated comparisons, cohorts aligned on their "
        f"selection date, SEs clustered by person; {panel.n_cohorts} selection date(s)"
        + (f", {panel.n_cohorts_dropped} left out (window not observed)" if panel.n_cohorts_dropped else ""),
    }
    if placebo is not None and np.isfinite(placebo["effect"]) and np.isfinite(placebo["se"]):
        pre_mean = float(frame.loc[frame["is_treated"] & (frame["period"] == 2), measure].mean())
        p_att, p_se = float(placebo["effect"]), float(placebo["se"])

        def p_ratio(tau):
            cf = pre_mean - tau
            return pre_mean / cf if cf > 0 and pre_mean > 0 else np.nan

        out["placebo"] = {
            "estimate": p_ratio(p_att),
            "ci_low": p_ratio(p_att - 1.959963984540054 * p_se),
            "ci_high": p_ratio(p_att + 1.959963984540054 * p_se),
            "p_value": float(2 * stats.norm.sf(abs(p_att / p_se))) if p_se > 0 else np.nan,
        }
    return out
