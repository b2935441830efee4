"""Effect estimates for one programme: the named steps the pipeline and the simulation study both run.

``matched_effects`` (no randomisation): naive before/after, the matched DiD with its interval from
half-samples drawn without replacement (each re-runs matching, the propensity model, the IPCW weights and
the outcome models; ``matched_interval='bootstrap'`` gives the plain bootstrap), the comparison group's own fall
(regression to the mean), the placebo DiD shifted into the pre-period, the library estimator
(Callaway–Sant'Anna, ``ml.evaluation.staggered``) and its placebo, and the stratified Cox model.
``randomised_effects``: the intention-to-treat contrasts. Every estimate is written through
``ml.estimability`` so an analysis this data cannot support is a row with a reason, never a crash.

Knowledge time: pre-periods count incidents reported before the anchor; post-periods count incidents
committed in the window and reported within ``reporting_lag_days`` of its close, and a window that has not
closed (plus the lag) by the end of the extract is cut there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ml.estimability import NotEstimable, attempt, estimate_row
from ml.evaluation import estimators as est
from ml.evaluation import staggered
from ml.evaluation.matching import (
    MatchedDesign,
    MatchingConfig,
    Replicate,
    Sources,
    balance_table,
    bootstrap,
    build_design,
    half_samples,
    run_replicate,
    weight_diagnostics,
)
from ml.evaluation.outcomes import PrePost
from ml.evaluation.rfg import RFGConfig

REQUIRED = ("estimate", "ci_low", "ci_high")  # an estimate is published only with its interval


@dataclass(frozen=True)
class EffectSettings:
    """The subset of the evaluation configuration the effect estimates need."""

    rfg: RFGConfig = field(default_factory=RFGConfig)
    matching: MatchingConfig = field(default_factory=MatchingConfig)
    did_days: int = 366
    block_days: int = 183
    window_days: int = 365
    reporting_lag_days: int = 90
    bootstrap_reps: int = 199
    # The matched estimates' interval: "half_sample" (delete-half jackknife: half-samples without
    # replacement, everything re-run; valid for matching with replacement) or "bootstrap" (the plain
    # bootstrap of people, which re-runs everything too but is too narrow for nearest-neighbour matching).
    matched_interval: str = "half_sample"
    # The share of each stratum a half-sample keeps (0.5: the delete-half jackknife).
    half_sample_fraction: float = 0.5
    naive_bootstrap_reps: int = 999
    seed: int = 12345
    later_selection: str = "ipcw"
    library_estimator: bool = True
    library_pool_top_n: int = 500
    # The library's estimator in each cell (reg, dr or ipw) and the resamples of its bootstrap-t (0: the
    # library's normal interval).
    library_method: str = "dr"
    library_bootstrap_reps: int = 99
    survival: bool = True


@dataclass
class MatchedAnalysis:
    rows: list[dict]
    design: MatchedDesign | None = None
    point: Replicate | None = None
    matches: pd.DataFrame | None = None
    balance: pd.DataFrame | None = None
    diagnostics: dict = field(default_factory=dict)
    n_treated: int = 0
    n_matched: int = 0
    notes: list[str] = field(default_factory=list)
    survival: tuple | None = None  # (time, event, has follow-up) per matched row


def knowledge_pre_post(index, codes, anchors, window_days: int, measure: str, lag: int, censor_days=None):
    """Pre: committed in ``[a − w, a)`` and reported before ``a``. Post: committed in ``[a, a + w)``, cut at
    the extract's end less the lag (and at ``censor_days``), reported before ``a + w + lag``."""
    codes = np.asarray(codes, np.int64)
    anchors = np.asarray(anchors, float)
    pre_start = np.maximum(anchors - window_days, index.first_day)
    post_end = np.minimum(anchors + window_days, index.last_day + 1 - lag)
    if censor_days is not None:
        censor = np.asarray(censor_days, float)
        post_end = np.where(np.isnan(censor), post_end, np.minimum(post_end, censor))
    post_end = np.maximum(post_end, anchors)
    known_post = np.minimum(anchors + window_days + lag, index.last_day + 1)
    return PrePost(
        index.window_sum(codes, pre_start, anchors, measure, anchors),
        np.clip(anchors - pre_start, 0, None),
        index.window_sum(codes, anchors, post_end, measure, known_post),
        np.clip(post_end - anchors, 0, None),
    )


def _bootstrap_row(point_log: float, draws: np.ndarray) -> dict:
    draws = draws[np.isfinite(draws)]
    if not np.isfinite(point_log):
        raise NotEstimable("the ratio is not defined (a zero total before or after)")
    if len(draws) < 10:
        raise NotEstimable(f"only {len(draws)} bootstrap replicates gave a finite estimate")
    lo, hi = np.quantile(draws, [0.025, 0.975])
    if not lo <= point_log <= hi:
        raise NotEstimable("the bootstrap interval does not contain the estimate (too few people)")
    se = float(draws.std(ddof=1))
    from scipy import stats

    return {
        "estimate": float(np.exp(point_log)),
        "ci_low": float(np.exp(lo)),
        "ci_high": float(np.exp(hi)),
        "p_value": float(2 * stats.norm.sf(abs(point_log) / se)) if se > 0 else np.nan,
        "std_error": se,
    }


def _half_sample_row(point_log: float, draws: np.ndarray, factor: float) -> dict:
    """Wald interval on the log scale from the half-samples' variance times the delete-d factor."""
    draws = draws[np.isfinite(draws)]
    if not np.isfinite(point_log):
        raise NotEstimable("the ratio is not defined (a zero total before or after)")
    if len(draws) < 10:
        raise NotEstimable(f"only {len(draws)} half-samples gave a finite estimate")
    se = float(np.sqrt(factor) * draws.std(ddof=1))
    from scipy import stats

    half_width = float(stats.norm.ppf(0.975)) * se
    return {
        "estimate": float(np.exp(point_log)),
        "ci_low": float(np.exp(point_log - half_width)),
        "ci_high": float(np.exp(point_log + half_width)),
        "p_value": float(2 * stats.norm.sf(abs(point_log) / se)) if se > 0 else np.nan,
        "std_error": se,
    }


def _fails(reason: str):
    def row(*_):
        raise NotEstimable(reason)

    return row


def _words(measure: str, anchor: str) -> dict:
    """How a reason names the measure and the anchor ("3 treated people, all with zero DA incidents
    after selection")."""
    return {"events": "DA incidents" if measure.startswith("da_") else "recorded harm", "anchor": anchor}


def _row(programme, design, outcome, window, anchor="selection", **fields) -> dict:
    return {
        "programme": programme,
        "design": design,
        "outcome": outcome,
        "window": window,
        "anchor": anchor,
    } | fields


def _one_thread(function):
    """Run with one BLAS thread: the matrices here are small, and on a shared machine threads only add
    synchronisation (measured: a 2-step logistic refit 13× faster)."""
    from functools import wraps

    @wraps(function)
    def wrapper(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return function(*args, **kwargs)

    return wrapper


@_one_thread
def matched_effects(
    sources: Sources,
    codes: np.ndarray,
    selected_days: np.ndarray,
    every_participant: np.ndarray,
    measures: list[str],
    settings: EffectSettings,
    programme: str = "programme",
    window_label: str = "",
) -> MatchedAnalysis:
    """Every observational estimate for one programme (see the module docstring)."""
    index = sources.index
    lag = settings.reporting_lag_days
    rows: list[dict] = []
    analysis = MatchedAnalysis(rows)
    name = f"{programme}:"

    # ---- naive before/after (all selected people, not only the matched) ----------------------------
    for m in measures:
        pp = knowledge_pre_post(index, codes, selected_days, settings.did_days, m, lag)
        rows.append(
            _row(programme, "naive_pre_post", m, window_label)
            | estimate_row(
                f"{name} naive_pre_post, {m}",
                est.naive_pre_post,
                pp.pre,
                pp.post,
                settings.naive_bootstrap_reps,
                settings.seed,
                pp.pre_days,
                pp.post_days,
                **_words(m, "selection"),
            )
        )

    # ---- the matched design and its bootstrap ------------------------------------------------------
    built = attempt(
        f"{name} matched design",
        build_design,
        sources,
        codes,
        selected_days,
        every_participant,
        measures,
        settings.did_days,
        lag,
        settings.rfg,
        settings.matching,
        settings.later_selection,
    )
    analysis.n_treated = len(codes)
    matched_designs = ("matched_did", "rtm_comparison_fall", "matched_post", "placebo_did")
    if not built.ok:
        for m in measures:
            for d in matched_designs:
                rows.append(_row(programme, d, m, window_label) | _not_estimable(built.reason))
    else:
        design = built.value
        analysis.design = design
        point = run_replicate(design, None, design.beta, keep_sets=True)
        analysis.point = point
        analysis.n_matched = point.n_matched_treated
        if point.n_matched_treated == 0:
            reason = "no selected person had a comparison within the caliper"
            for m in measures:
                for d in matched_designs:
                    rows.append(_row(programme, d, m, window_label) | _not_estimable(reason))
        else:
            if settings.matched_interval == "bootstrap":
                reps = bootstrap(design, settings.bootstrap_reps, settings.seed)
                interval, extra = _bootstrap_row, ()
                how = f"bootstrap ({settings.bootstrap_reps} replicates, people resampled)"
            else:
                drawn = attempt(
                    f"{name} half-samples",
                    half_samples,
                    design,
                    settings.bootstrap_reps,
                    settings.seed,
                    settings.half_sample_fraction,
                )
                reps, factor = drawn.value if drawn.ok else ([], np.nan)
                interval, extra = (_half_sample_row, (factor,)) if drawn.ok else (_fails(drawn.reason), ())
                how = (
                    f"interval from {settings.bootstrap_reps} half-samples of people drawn without "
                    "replacement (delete-half jackknife)"
                )
            analysis.balance = balance_table(design, point)
            analysis.diagnostics = weight_diagnostics(design, point)
            analysis.matches = _matches_frame(design, point, index, every_participant)
            n_comp = int(analysis.diagnostics["n_comparison_people"])
            sizes = {"n_treated": point.n_matched_treated, "n_comparison": n_comp}
            note = (
                f"{settings.matching.n_matches} nearest neighbours on the logit propensity, caliper "
                f"{settings.matching.caliper_sd} SD, same as-of date; {point.n_matched_treated} of "
                f"{len(codes)} selected people matched; {how}, each re-running the propensity model, "
                "matching, IPCW weights and outcome models"
            )
            parts = {
                "matched_did": (
                    "log_did",
                    "rate ratio (difference-in-differences, treated vs matched comparison)",
                    note,
                ),
                "rtm_comparison_fall": (
                    "log_comparison",
                    "rate ratio (after / before) in the matched comparison group",
                    "regression to the mean: the change seen with no programme",
                ),
                "matched_post": (
                    "log_post",
                    "rate ratio (after selection, treated vs matched comparison)",
                    "the matched groups compared after selection only (no differencing of the pre-period)",
                ),
                "placebo_did": (
                    "log_placebo",
                    "rate ratio (DiD of the year before selection vs the year before that)",
                    "placebo: the same DiD shifted into the pre-period, when there was no programme (expect 1)",
                ),
            }
            for m in measures:
                for d, (attr, estimand, text) in parts.items():
                    draws = np.array([getattr(r, attr)[m] for r in reps], float)
                    rows.append(
                        _row(programme, d, m, window_label, estimand=estimand, note=text)
                        | estimate_row(
                            f"{name} {d}, {m}",
                            interval,
                            getattr(point, attr)[m],
                            draws,
                            *extra,
                            required=REQUIRED,
                        )
                        | sizes
                    )

    # ---- the library estimator ---------------------------------------------------------------------
    if settings.library_estimator:
        panel = attempt(
            f"{name} library panel",
            staggered.build_panel,
            sources,
            codes,
            selected_days,
            every_participant,
            measures,
            settings.block_days,
            lag,
            settings.rfg,
            settings.matching,
            settings.library_pool_top_n,
        )
        for m in measures:
            if not panel.ok:
                rows.append(_row(programme, "library_did", m, window_label) | _not_estimable(panel.reason))
                continue
            fitted = attempt(
                f"{name} library_did, {m}",
                staggered.callaway_santanna,
                panel.value,
                m,
                settings.library_method,
                settings.library_bootstrap_reps,
                settings.seed,
            )
            result = dict(fitted.value or {})
            placebo = result.pop("placebo", None)
            rows.append(
                _row(programme, "library_did", m, window_label)
                | estimate_row(
                    f"{name} library_did, {m}", lambda r=result, f=fitted: _checked(r, f), required=REQUIRED
                )
            )
            if placebo is not None:
                rows.append(
                    _row(
                        programme,
                        "library_placebo",
                        m,
                        window_label,
                        estimand="rate ratio (period before selection vs the one before it)",
                        note="the library's pre-period cell: people were selected on that very period "
                        "(recency), so it measures the selection, not a pre-trend: expect it away from 1",
                        n_treated=result.get("n_treated"),
                        n_comparison=result.get("n_comparison"),
                    )
                    | estimate_row(f"{name} library_placebo, {m}", lambda p=placebo: p, required=REQUIRED)
                )

    # ---- time to first reoffence (Cox, stratified by matched set, robust by person) ----------------
    if settings.survival and analysis.matches is not None and "da_incidents" in index.measures:
        mt = analysis.matches
        time, event, has = survival_inputs(
            index,
            mt["code"].to_numpy(),
            mt["anchor_day"].to_numpy(),
            settings.window_days,
            lag,
            mt["censor_day"].to_numpy(),
        )
        analysis.survival = (time, event, has)
        rows.append(
            _row(
                programme,
                "survival_cox",
                "time_to_da_reoffence",
                f"up to {settings.window_days} days after selection",
                note="Cox model stratified by matched set; robust (sandwich) errors clustered by person",
            )
            | estimate_row(
                f"{name} survival_cox",
                est.cox_hazard_ratio,
                time[has],
                event[has],
                (mt["role"] == "treated").to_numpy()[has],
                strata=mt["set_id"].to_numpy()[has],
                clusters=mt["code"].to_numpy()[has],
            )
            | {
                "n_treated": analysis.n_matched,
                "n_comparison": int(mt.loc[mt["role"] != "treated", "code"].nunique()),
            }
        )
    return analysis


def _checked(result: dict, fitted) -> dict:
    if not fitted.ok:
        raise NotEstimable(fitted.reason)
    return result


def _not_estimable(reason: str) -> dict:
    return {
        "estimate": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "p_value": np.nan,
        "status": "not estimable",
        "reason": reason,
    }


def survival_inputs(index, codes, anchors, window_days: int, lag: int, censor_days=None):
    """Time to the first DA incident committed on or after the anchor (reported within the lag of the
    window's close), follow-up cut at the extract's end less the lag and at ``censor_days``."""
    anchors = np.asarray(anchors, float)
    known = np.minimum(anchors + window_days + lag, index.last_day + 1)
    first = index.first_on_or_after(codes, anchors, known_by=known)
    gap = first - anchors
    follow = np.minimum(window_days, index.last_day + 1 - lag - anchors)
    if censor_days is not None:
        follow = np.where(np.isnan(censor_days), follow, np.minimum(follow, censor_days - anchors))
    event = ~np.isnan(gap) & (gap < follow)
    time = np.where(event, gap, follow)
    return time, event, follow > 0


def _matches_frame(design: MatchedDesign, point: Replicate, index, every_participant) -> pd.DataFrame:
    t_rows = np.unique(point.set_treated)
    treated = pd.DataFrame({"set_id": t_rows, "row": t_rows, "role": "treated", "weight": 1.0})
    comps = pd.DataFrame(
        {
            "set_id": point.set_treated,
            "row": point.set_comparison,
            "role": "comparison",
            "weight": point.set_weight,
        }
    )
    mt = pd.concat([treated, comps], ignore_index=True)
    rows = mt["row"].to_numpy()
    mt["code"] = design.codes[rows]
    mt["offender_id"] = index.offender_ids.to_numpy()[mt["code"].to_numpy()]
    mt["anchor_day"] = design.anchors[rows]
    later = np.asarray(every_participant, float)[mt["code"].to_numpy()]
    mt["censor_day"] = np.where(
        (mt["role"] == "comparison") & (later > mt["anchor_day"]) & (design.later_selection != "keep"),
        later,
        np.nan,
    )
    return mt


@_one_thread
def randomised_effects(
    index,
    codes: np.ndarray,
    selected_days: np.ndarray,
    treated: np.ndarray,
    received: np.ndarray | None,
    measures: list[str],
    settings: EffectSettings,
    programme: str = "programme",
    window_label: str = "",
) -> list[dict]:
    """Intention to treat (and per protocol, secondary) for randomised arms, on the knowledge-time rule."""
    lag = settings.reporting_lag_days
    reps, seed = settings.naive_bootstrap_reps, settings.seed
    treated = np.asarray(treated, bool)
    sel = np.asarray(selected_days, float)
    follow = np.clip(np.minimum(settings.window_days, index.last_day + 1 - lag - sel), 0, None)
    known = np.minimum(sel + settings.window_days + lag, index.last_day + 1)
    itt_window = f"{settings.window_days} days after randomisation (reported within {lag} days of its close)"
    rows: list[dict] = []
    name = f"{programme}:"
    for m in measures:
        pp = knowledge_pre_post(index, codes, sel, settings.did_days, m, lag)
        rows.append(
            _row(
                programme,
                "naive_pre_post",
                m,
                window_label,
                note="treatment arm only; not an effect estimate: includes regression to the mean",
            )
            | estimate_row(
                f"{name} naive_pre_post, {m}",
                est.naive_pre_post,
                pp.pre[treated],
                pp.post[treated],
                reps,
                seed,
                pp.pre_days[treated],
                pp.post_days[treated],
                **_words(m, "randomisation"),
            )
        )
        words = _words(m, "randomisation")

        def control_fall(pp=pp, words=words):
            out = est.ratio_with_bootstrap(
                pp.post[~treated],
                pp.pre[~treated],
                reps,
                seed,
                pp.post_days[~treated],
                pp.pre_days[~treated],
                who="control",
                **words,
            )
            out.update(n_treated=0, n_comparison=out.pop("n_people"))
            return out

        rows.append(
            _row(
                programme,
                "rtm_comparison_fall",
                m,
                window_label,
                estimand="rate ratio (after / before) in the control arm",
                note="regression to the mean: the change in the randomised control arm",
            )
            | estimate_row(f"{name} rtm_comparison_fall, {m}", control_fall)
        )
        y = index.window_sum(codes, sel, sel + follow, m, known)
        base = index.window_sum(codes, sel - settings.window_days, sel, m, sel)
        if m.startswith("harm"):
            rows.append(
                _row(
                    programme,
                    "rct_itt",
                    m,
                    itt_window,
                    note="permutation-test interval (inverted over a multiplicative effect) and p-value",
                )
                | estimate_row(
                    f"{name} rct_itt, {m}",
                    est.harm_ratio_permutation,
                    y,
                    follow,
                    treated,
                    reps,
                    seed,
                    **words,
                )
            )
            continue
        rows.append(
            _row(
                programme,
                "rct_itt",
                m,
                itt_window,
                estimand="rate ratio (Poisson, robust SE HC3 with t, adjusted for prior-year count)",
                note="intention to treat: primary",
            )
            | estimate_row(
                f"{name} rct_itt, {m}", est.rct_rate_ratio, y, follow, treated, base, "poisson", **words
            )
        )
        rows.append(
            _row(
                programme,
                "rct_itt_negbin",
                m,
                itt_window,
                estimand="rate ratio (negative binomial NB2, adjusted for prior-year count)",
                note="intention to treat: sensitivity",
            )
            | estimate_row(
                f"{name} rct_itt_negbin, {m}", est.rct_rate_ratio, y, follow, treated, base, "negbin", **words
            )
        )
        rows.append(
            _row(programme, "rct_itt", m, itt_window, note="intention to treat")
            | estimate_row(
                f"{name} rct_itt rate difference, {m}",
                est.rct_rate_difference,
                y,
                follow,
                treated,
                reps,
                seed,
                **words,
            )
        )
        if received is not None:
            pp_mask = treated & np.asarray(received, bool) | ~treated
            rows.append(
                _row(
                    programme,
                    "rct_per_protocol",
                    m,
                    itt_window,
                    estimand="rate ratio (Poisson, robust SE HC3 with t)",
                    note="treatment arm restricted to those who received it: not randomised, secondary",
                )
                | estimate_row(
                    f"{name} rct_per_protocol, {m}",
                    est.rct_rate_ratio,
                    y[pp_mask],
                    follow[pp_mask],
                    treated[pp_mask],
                    base[pp_mask],
                    "poisson",
                    **words,
                )
            )
    if settings.survival:
        time, event, has = survival_inputs(index, codes, sel, settings.window_days, lag)
        rows.append(
            _row(
                programme,
                "survival_cox",
                "time_to_da_reoffence",
                f"up to {settings.window_days} days after randomisation",
                note="randomised arms",
            )
            | estimate_row(f"{name} survival_cox", est.cox_hazard_ratio, time[has], event[has], treated[has])
        )
    return rows
