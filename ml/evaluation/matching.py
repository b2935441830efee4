"""A matched comparison group for a non-randomised cohort, anchored at each treated person's own date.

For every distinct selection date ``d`` the eligible pool is scored with the same RFG rules as the cohort
(people with a DA incident in the lookback before ``d`` who are on no programme). Candidates near the top of
that ranking (rank ≤ max(``candidate_pool_top_n``, 2 × the worst treated rank that day)) get the full set
of pre-period covariates: the RFG components and raw inputs, the DA incident count in each of the
``pre_blocks`` six-month blocks before ``d`` (the pre-period trajectory), the harm in the two most recent
blocks, years since the first DA incident and age at ``d``. A logistic propensity model is fitted on the
stacked (treated + candidates) rows; each treated person is matched, with replacement, to the
``n_matches`` candidates anchored at the *same date* whose logit propensity is nearest, within a caliper of
``caliper_sd`` pooled standard deviations (Austin 2011's 0.2). A comparison person anchored at ``d`` is
given the treated person's anchor ``d``, so staggered selection is handled by stacking matched sets.

Sex and ethnicity are never used here (they are only in equality monitoring).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from ml.evaluation.incidents import IncidentIndex
from ml.evaluation.rfg import RFGConfig, components_at, gravity_thresholds_for


@dataclass(frozen=True)
class MatchingConfig:
    n_matches: int = 3
    caliper_sd: float = 0.2
    pre_blocks: int = 4
    block_days: int = 183
    candidate_pool_top_n: int = 2000


@dataclass
class MatchResult:
    matches: pd.DataFrame  # set_id, code, offender_id, anchor_day, role, weight, logit_ps
    covariates: pd.DataFrame  # stacked treated + candidates with role, anchor_day and covariates
    balance: pd.DataFrame
    n_treated: int
    n_matched_treated: int
    caliper: float
    covariate_names: list[str]
    model: LogisticRegression | None = None
    centre: np.ndarray | None = None
    scale: np.ndarray | None = None
    thresholds: dict | None = None
    selection_day_by_code: np.ndarray | None = None
    age_at_first_da_by_code: np.ndarray | None = None
    rfg: RFGConfig | None = None
    config: MatchingConfig | None = None


def matching_covariates(
    index: IncidentIndex,
    codes,
    anchor_days,
    rfg: RFGConfig,
    thresholds_by_day: dict[int, list[float]],
    pre_blocks: int,
    block_days: int,
    age_at_first_da: np.ndarray | None = None,
) -> pd.DataFrame:
    """Pre-period covariates at each person's anchor (history strictly before the anchor)."""
    codes = np.asarray(codes, dtype=np.int64)
    anchors = np.asarray(anchor_days, dtype=float)
    comp = components_at(index, codes, anchors, rfg, thresholds_by_day)
    since = np.where(np.isnan(comp.days_since_last_da), rfg.lookback_days + 1, comp.days_since_last_da)
    out = {
        "days_since_last_da": since,
        "n_da_incidents_lookback": comp.n_da_lookback,
        "gravity_lookback": comp.harm_lookback,
        "recency_score": comp.recency_score.astype(float),
        "frequency_score": comp.frequency_score.astype(float),
        "gravity_score": comp.gravity_score.astype(float),
        "rfg_score": comp.rfg_score.astype(float),
    }
    for b in range(1, pre_blocks + 1):
        start, end = anchors - b * block_days, anchors - (b - 1) * block_days
        out[f"da_incidents_block_-{b}"] = index.window_sum(codes, start, end, "da_incidents")
        if b <= 2:
            out[f"{rfg.measure()}_block_-{b}"] = index.window_sum(codes, start, end, rfg.measure())
    first, _ = index.first_two(codes)
    years = (anchors - first) / 365.25
    out["years_since_first_da"] = np.where(np.isnan(years), 0.0, np.clip(years, 0, None))
    if age_at_first_da is not None:
        age = np.asarray(age_at_first_da, dtype=float) + out["years_since_first_da"]
        out["age_missing"] = np.isnan(age).astype(float)
        out["age_at_anchor"] = np.where(
            np.isnan(age), np.nanmedian(age) if np.isfinite(age).any() else 0.0, age
        )
    return pd.DataFrame(out)


_LOG_COLUMNS = ("days_since_last_da", "n_da_incidents_lookback", "gravity_lookback")


def _design(cov: pd.DataFrame, centre: np.ndarray | None = None, scale: np.ndarray | None = None):
    """Model matrix: log1p of counts, harm and days, standardised (with the given centre/scale if any)."""
    cols = []
    for name in cov.columns:
        values = cov[name].to_numpy(dtype=float)
        if name in _LOG_COLUMNS or name.startswith(("da_incidents_block", "harm_")):
            values = np.log1p(np.clip(values, 0, None))
        cols.append(values)
    x = np.column_stack(cols) if cols else np.empty((len(cov), 0))
    if centre is None:
        centre, scale = x.mean(0), x.std(0)
        scale[scale == 0] = 1.0
    return (x - centre) / scale, centre, scale


def standardised_differences(
    cov: pd.DataFrame,
    treated: np.ndarray,
    comparison_before: np.ndarray,
    comparison_after: np.ndarray,
    weights_after: np.ndarray,
    treated_after: np.ndarray,
) -> pd.DataFrame:
    """SMD = (mean treated − mean comparison) / sqrt((var treated + var comparison) / 2), the denominator
    taken before matching so before and after are on the same scale."""
    rows = []
    for name in cov.columns:
        x = cov[name].to_numpy(dtype=float)
        t, c = x[treated], x[comparison_before]
        denom = np.sqrt((t.var(ddof=1) + c.var(ddof=1)) / 2) if len(t) > 1 and len(c) > 1 else np.nan
        ta = x[treated_after]
        ca = x[comparison_after]
        w = weights_after
        mean_ca = np.average(ca, weights=w) if len(ca) else np.nan
        var_ca = np.average((ca - mean_ca) ** 2, weights=w) if len(ca) else np.nan
        mean_ta = ta.mean() if len(ta) else np.nan
        rows.append(
            {
                "covariate": name,
                "mean_treated": float(t.mean()) if len(t) else np.nan,
                "mean_pool_before": float(c.mean()) if len(c) else np.nan,
                "smd_before": float((t.mean() - c.mean()) / denom) if denom and denom > 0 else 0.0,
                "mean_treated_matched": float(mean_ta),
                "mean_comparison_matched": float(mean_ca),
                "smd_after": float((mean_ta - mean_ca) / denom) if denom and denom > 0 else 0.0,
                "variance_ratio_after": float(ta.var(ddof=1) / var_ca)
                if len(ta) > 1 and var_ca and var_ca > 0
                else np.nan,
            }
        )
    return pd.DataFrame(rows)


def match_cohort(
    index: IncidentIndex,
    treated_codes,
    treated_anchor_days,
    selection_day_by_code=None,
    rfg: RFGConfig | None = None,
    config: MatchingConfig | None = None,
    age_at_first_da_by_code: np.ndarray | None = None,
) -> MatchResult:
    """Match each treated person to eligible people anchored at the same date who are not yet on any
    programme. ``selection_day_by_code`` (per offender code; NaN = never selected) is each person's first
    selection into any programme: people selected on or before the anchor are not candidates, and a
    comparison person selected later is censored at that date (``censor_day`` in the matches) — excluding
    them altogether would condition on their future offending."""
    rfg = rfg or RFGConfig()
    config = config or MatchingConfig()
    treated_codes = np.asarray(treated_codes, dtype=np.int64)
    treated_anchor = np.asarray(treated_anchor_days, dtype=float)
    if selection_day_by_code is None:
        selection_day_by_code = np.full(len(index.offender_ids), np.nan)
        selection_day_by_code[treated_codes] = treated_anchor
    selection_day_by_code = np.asarray(selection_day_by_code, dtype=float)

    stacked_codes, stacked_days, stacked_role, stacked_treated_row = [], [], [], []
    thresholds: dict[int, list[float]] = {}
    for day in np.unique(treated_anchor):
        t_rows = np.flatnonzero(treated_anchor == day)
        pool = index.active_between(int(day) - rfg.lookback_days, int(day))
        comp = components_at(index, pool, np.full(len(pool), day), rfg)
        thresholds[int(day)] = comp.gravity_thresholds.get(
            int(day), gravity_thresholds_for(np.array([]), rfg)
        )
        t_comp = components_at(index, treated_codes[t_rows], np.full(len(t_rows), day), rfg, thresholds)
        # Rank of each treated person within the pool's score distribution (higher score = better rank).
        sorted_scores = np.sort(comp.rfg_score)[::-1]
        worst_rank = (
            int(np.searchsorted(-sorted_scores, -t_comp.rfg_score.min(), side="right")) if len(t_rows) else 0
        )
        keep_n = max(config.candidate_pool_top_n, 2 * worst_rank)
        available = ~(selection_day_by_code[pool] <= day)  # NaN (never selected) stays available
        available &= ~np.isin(pool, treated_codes[t_rows])
        candidates = pool[available]
        cand_scores = comp.rfg_score[available]
        if len(candidates) > keep_n:
            top = np.argsort(-cand_scores, kind="stable")[:keep_n]
            candidates = candidates[np.sort(top)]
        stacked_codes += [treated_codes[t_rows], candidates]
        stacked_days += [np.full(len(t_rows), day), np.full(len(candidates), day)]
        stacked_role += [np.ones(len(t_rows), bool), np.zeros(len(candidates), bool)]
        stacked_treated_row += [t_rows, np.full(len(candidates), -1)]

    codes = np.concatenate(stacked_codes) if stacked_codes else np.array([], np.int64)
    days = np.concatenate(stacked_days) if stacked_days else np.array([])
    is_treated = np.concatenate(stacked_role) if stacked_role else np.array([], bool)
    treated_row = np.concatenate(stacked_treated_row) if stacked_treated_row else np.array([], np.int64)
    age = None if age_at_first_da_by_code is None else np.asarray(age_at_first_da_by_code, float)[codes]
    cov = matching_covariates(index, codes, days, rfg, thresholds, config.pre_blocks, config.block_days, age)
    names = list(cov.columns)

    logit = np.zeros(len(codes))
    model, centre, scale = None, None, None
    if is_treated.any() and (~is_treated).any():
        x, centre, scale = _design(cov)
        model = LogisticRegression(C=1e4, max_iter=2000)
        model.fit(x, is_treated.astype(int))
        logit = model.decision_function(x)
    sd_t = logit[is_treated].var(ddof=1) if is_treated.sum() > 1 else 0.0
    sd_c = logit[~is_treated].var(ddof=1) if (~is_treated).sum() > 1 else 0.0
    caliper = config.caliper_sd * float(np.sqrt((sd_t + sd_c) / 2))

    set_ids, m_rows, distances = [], [], []
    for day in np.unique(days):
        on_day = days == day
        c_idx = np.flatnonzero(on_day & ~is_treated)
        t_idx = np.flatnonzero(on_day & is_treated)
        if len(c_idx) == 0 or len(t_idx) == 0:
            continue
        order = np.argsort(logit[c_idx], kind="stable")
        c_sorted, c_logit = c_idx[order], logit[c_idx][order]
        k = config.n_matches
        pos = np.searchsorted(c_logit, logit[t_idx])
        window = pos[:, None] + np.arange(-k, k)[None, :]
        valid = (window >= 0) & (window < len(c_sorted))
        window = np.clip(window, 0, len(c_sorted) - 1)
        dist = np.abs(c_logit[window] - logit[t_idx][:, None])
        dist[~valid] = np.inf
        nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]
        chosen = np.take_along_axis(window, nearest, 1)
        chosen_dist = np.take_along_axis(dist, nearest, 1)
        ok = chosen_dist <= caliper
        rows_t, cols = np.nonzero(ok)
        set_ids.append(t_idx[rows_t])
        m_rows.append(c_sorted[chosen[rows_t, cols]])
        distances.append(chosen_dist[rows_t, cols])
    set_ids = np.concatenate(set_ids) if set_ids else np.array([], np.int64)
    m_rows = np.concatenate(m_rows) if m_rows else np.array([], np.int64)
    distances = np.concatenate(distances) if distances else np.array([])

    matched_treated = np.unique(set_ids)
    n_per_set = pd.Series(set_ids).value_counts()
    ids = index.offender_ids.to_numpy()
    treated_part = pd.DataFrame(
        {"set_id": matched_treated, "row": matched_treated, "role": "treated", "weight": 1.0, "distance": 0.0}
    )
    comp_part = pd.DataFrame(
        {
            "set_id": set_ids,
            "row": m_rows,
            "role": "comparison",
            "weight": 1.0 / n_per_set.reindex(set_ids).to_numpy(dtype=float),
            "distance": distances,
        }
    )
    matches = pd.concat([treated_part, comp_part], ignore_index=True)
    matches["code"] = codes[matches["row"].to_numpy()]
    matches["offender_id"] = ids[matches["code"].to_numpy()] if len(matches) else []
    matches["anchor_day"] = days[matches["row"].to_numpy()]
    matches["logit_ps"] = logit[matches["row"].to_numpy()]
    matches["treated_row"] = treated_row[matches["set_id"].to_numpy()] if len(matches) else []
    later = selection_day_by_code[matches["code"].to_numpy()] if len(matches) else np.array([])
    matches["censor_day"] = np.where(
        (matches["role"] == "comparison") & (later > matches["anchor_day"]), later, np.nan
    )

    comp_after_rows = m_rows
    balance = standardised_differences(
        cov,
        treated=is_treated,
        comparison_before=~is_treated,
        comparison_after=comp_after_rows,
        weights_after=matches.loc[matches["role"] == "comparison", "weight"].to_numpy(),
        treated_after=matched_treated,
    )
    cov = cov.assign(code=codes, anchor_day=days, is_treated=is_treated, logit_ps=logit)
    return MatchResult(
        matches,
        cov,
        balance,
        int(len(treated_codes)),
        int(len(matched_treated)),
        caliper,
        names,
        model,
        centre,
        scale,
        thresholds,
        selection_day_by_code,
        age_at_first_da_by_code,
        rfg,
        config,
    )


def censoring_weighted_post(
    index: IncidentIndex, match: MatchResult, window_days: int, measures: list[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Post-period sums and days for every matched row, with comparison people who are selected later
    censored at that date and the rest up-weighted by the inverse probability of remaining unselected
    (IPCW). At each later selection date ``p`` inside a comparison person's window, the propensity model
    fitted for matching gives P(selected at p | history before p); surviving people carry the weight
    Π 1 / (1 − P) from then on. Selection depends only on the recorded history (the assumption the whole
    matched design rests on), so this removes both the dilution from later treatment and the bias of
    dropping the people whose offending got them selected. Returns measure → (post sums, post days)."""
    mt = match.matches
    codes = mt["code"].to_numpy()
    anchors = mt["anchor_day"].to_numpy(dtype=float)
    end = np.minimum(anchors + window_days, index.last_day + 1)
    is_comp = (mt["role"] == "comparison").to_numpy()
    selected_on = (
        match.selection_day_by_code[codes]
        if match.selection_day_by_code is not None
        else np.full(len(codes), np.nan)
    )
    panel_days = np.array(sorted(match.thresholds or {}), dtype=float)

    # Segment boundaries per row: the anchor, every panel date strictly inside (anchor, end), then end.
    rows, cuts = [], []
    for p in panel_days:
        inside = is_comp & (p > anchors) & (p < end)
        rows.append(np.flatnonzero(inside))
        cuts.append(np.full(inside.sum(), p))
    row_idx = np.concatenate(rows) if rows else np.array([], np.int64)
    cut_day = np.concatenate(cuts) if cuts else np.array([])
    modelled = np.ones(len(row_idx), bool)
    # Selection into another programme on a date that is not one of this programme's panels: censor there
    # (no model for that selection, so no re-weighting).
    other = is_comp & (selected_on > anchors) & (selected_on < end) & ~np.isin(selected_on, panel_days)
    row_idx = np.concatenate([row_idx, np.flatnonzero(other)])
    cut_day = np.concatenate([cut_day, selected_on[other]])
    modelled = np.concatenate([modelled, np.zeros(other.sum(), bool)])
    prob = np.zeros(len(row_idx))
    if modelled.any() and match.model is not None:
        r, c = row_idx[modelled], cut_day[modelled]
        age = (
            None
            if match.age_at_first_da_by_code is None
            else np.asarray(match.age_at_first_da_by_code, float)[codes[r]]
        )
        cov = matching_covariates(
            index,
            codes[r],
            c,
            match.rfg,
            match.thresholds,
            match.config.pre_blocks,
            match.config.block_days,
            age,
        )
        x, _, _ = _design(cov[match.covariate_names], match.centre, match.scale)
        prob[modelled] = match.model.predict_proba(x)[:, 1]
    order = np.lexsort((cut_day, row_idx))
    row_idx, cut_day, prob = row_idx[order], cut_day[order], prob[order]

    out = {}
    starts_all = np.concatenate([anchors, cut_day])
    owner = np.concatenate([np.arange(len(codes)), row_idx])
    ends_all = np.empty_like(starts_all)
    # Each segment ends at the next cut of the same row, or at the row's end.
    seg_order = np.lexsort((starts_all, owner))
    o_sorted, s_sorted = owner[seg_order], starts_all[seg_order]
    next_same = np.r_[o_sorted[1:] == o_sorted[:-1], False]
    e_sorted = np.where(next_same, np.r_[s_sorted[1:], 0.0], end[o_sorted])
    ends_all[seg_order] = e_sorted
    # Weight of a segment: 1/(1-P) multiplied over the cuts up to and including its start; zero once the
    # person has been selected (their selection date is one of the cuts at or before the segment start).
    p_all = np.concatenate([np.zeros(len(codes)), prob])
    log_w = -np.log1p(-np.clip(p_all, 0, 0.99))
    cum = np.zeros(len(seg_order))
    lw_sorted = log_w[seg_order]
    group_start = np.r_[True, o_sorted[1:] != o_sorted[:-1]]
    csum = np.cumsum(lw_sorted)
    base = np.maximum.accumulate(np.where(group_start, np.arange(len(csum)), 0))
    cum = csum - np.r_[0.0, csum][base]
    weight_sorted = np.exp(cum)
    sel_sorted = selected_on[o_sorted]
    censored = is_comp[o_sorted] & (sel_sorted > anchors[o_sorted]) & (sel_sorted <= s_sorted)
    weight_sorted = np.where(censored, 0.0, weight_sorted)
    weight = np.empty_like(weight_sorted)
    weight[seg_order] = weight_sorted
    days = np.clip(ends_all - starts_all, 0, None)
    seg_codes = codes[owner]
    for m in measures:
        sums = index.window_sum(seg_codes, starts_all, ends_all, m) * weight
        out[m] = (
            np.bincount(owner, sums, minlength=len(codes)),
            np.bincount(owner, days * weight, minlength=len(codes)),
        )
    return out
