"""The whole outcome evaluation in one call: marts in, every evaluation table out.

``run_evaluation(incidents, offenders, participants, config)`` takes frames with the columns of
marts.fct_incidents, marts.dim_offenders and marts.dim_programme_participants (or an evaluator's own
``programme_participants`` table) and returns an ``EvaluationResult`` holding each analytics table.
With no participants it still scores RFG and computes the population reoffending rate, and says what it
could not compute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ml.estimability import estimate_row, estimate_rows
from ml.evaluation import estimators as est
from ml.evaluation.equality import equality_monitoring
from ml.evaluation.incidents import MEASURE_LABELS, IncidentIndex, from_days, to_days
from ml.evaluation.matching import MatchingConfig
from ml.evaluation.outcomes import (
    block_days_for,
    block_panel,
    participation_rates,
    pre_post_window,
    reoffending_around,
    reoffending_population,
    stage_funnel,
    summarise_blocks,
)
from ml.evaluation.participants import arm_group, is_randomised, validate_participants
from ml.evaluation.rfg import RFGConfig, concentration, power_few, score_rfg

STAGE_ANCHORS = {  # anchor label → participants column (day)
    "selection": "selected_day",
    "disruption start": "disruption_started_day",
    "full engagement": "full_engagement_day",
    "completion": "completed_day",
}
EFFECT_COLUMNS = [
    "programme",
    "design",
    "outcome",
    "estimand",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "n_treated",
    "n_comparison",
    "window",
    "anchor",
    "note",
    "status",
    "reason",
]
# An effect row is estimated only with its interval; otherwise it says why not (ml.estimability).
EFFECT_REQUIRED = ("estimate", "ci_low", "ci_high")


@dataclass(frozen=True)
class EvaluationConfig:
    rfg: RFGConfig = field(default_factory=RFGConfig)
    matching: MatchingConfig = field(default_factory=MatchingConfig)
    window_days: int = 365
    block_months: int = 6
    n_blocks: int = 4  # six-month blocks shown each side of an anchor in harm_blocks
    did_blocks: int = 2  # blocks each side entering the effect estimates (2 × 6 = 12 months)
    bootstrap_reps: int = 999
    seed: int = 12345
    as_of_dates: tuple[str, ...] = ()  # extra RFG snapshots; the extract's last day is always scored
    snapshot_selection_dates: bool = True
    power_few_top_n: int = 100
    concentration_top_ns: tuple[int, ...] = (100, 200)
    outcome_measures: tuple[str, ...] = ("da_incidents", "harm_css", "harm_cchi")
    per_protocol_stage: str = "full_engagement_on"
    invalid_participants: str = "fail"  # 'fail' raises ParticipantError; 'exclude' drops and reports
    # Comparison people selected into a programme after their anchor: 'ipcw' censors them at that date and
    # re-weights those still unselected by 1 / P(not selected | recorded history) (default); 'keep' keeps
    # their outcomes (comparison = "not selected at the as-of date"; biased towards no effect); 'censor'
    # censors without re-weighting (biased when selection follows a rise in offending).
    later_selection: str = "ipcw"
    small_cell_threshold: int = 5

    @property
    def block_days(self) -> int:
        return block_days_for(self.block_months)


@dataclass
class ProgrammeSummary:
    programme: str
    design: str  # 'randomised' or 'matched'
    n_participants: int
    n_treated: int
    n_comparison: int
    n_unmatched: int = 0
    caliper: float = float("nan")
    first_selected: str = ""
    last_selected: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class EvaluationResult:
    rfg_scores: pd.DataFrame
    power_few: pd.DataFrame
    concentration: pd.DataFrame
    reoffending_rates: pd.DataFrame
    harm_blocks: pd.DataFrame
    effect_estimates: pd.DataFrame
    balance: pd.DataFrame
    equality_monitoring: pd.DataFrame
    stage_funnel: pd.DataFrame
    participation_rates: pd.DataFrame
    survival_curves: pd.DataFrame
    participant_problems: pd.DataFrame
    programmes: dict[str, ProgrammeSummary]
    messages: list[str]
    extract_window: tuple[str, str]

    def tables(self) -> dict[str, pd.DataFrame]:
        names = [
            "rfg_scores",
            "power_few",
            "concentration",
            "reoffending_rates",
            "harm_blocks",
            "effect_estimates",
            "balance",
            "equality_monitoring",
            "stage_funnel",
            "participation_rates",
            "survival_curves",
        ]
        return {n: getattr(self, n) for n in names}


def build_index(
    incidents: pd.DataFrame, offenders: pd.DataFrame | None, config: EvaluationConfig
) -> IncidentIndex:
    extra = {"harm_gravity": "gravity"} if "gravity" in incidents.columns else None
    ids = offenders["offender_id"] if offenders is not None and "offender_id" in offenders else None
    return IncidentIndex.build(incidents, offender_ids=ids, extra_measures=extra)


def _window_label(config: EvaluationConfig, anchor: str) -> str:
    months = config.did_blocks * config.block_months
    return f"{months} months before vs {months} months after {anchor} ({config.did_blocks} × {config.block_months}-month blocks)"


def _age_at_first_da(index: IncidentIndex, offenders: pd.DataFrame | None) -> np.ndarray | None:
    if offenders is None or "age_at_first_da_incident" not in offenders:
        return None
    age = pd.Series(np.nan, index=index.offender_ids)
    values = pd.to_numeric(offenders["age_at_first_da_incident"], errors="coerce").to_numpy()
    age.loc[offenders["offender_id"].astype(str).to_numpy()] = values
    return age.to_numpy()


def run_evaluation(
    incidents: pd.DataFrame,
    offenders: pd.DataFrame | None = None,
    participants: pd.DataFrame | None = None,
    config: EvaluationConfig | None = None,
    index: IncidentIndex | None = None,
) -> EvaluationResult:
    config = config or EvaluationConfig()
    index = index or build_index(incidents, offenders, config)
    messages: list[str] = []

    # ---- participants --------------------------------------------------------------------------
    has_participants = participants is not None and len(participants) > 0
    problems = pd.DataFrame(columns=["person_id", "programme", "problem"])
    if has_participants:
        participants, problems = validate_participants(
            participants,
            known_offender_ids=index.offender_ids,
            raise_on_error=config.invalid_participants == "fail",
        )
        if len(problems):
            messages.append(f"{len(problems)} participant row(s) excluded: {problems['problem'].iloc[0]} …")
        participants["code"] = index.code_of(participants["offender_id"])
    else:
        messages.append(
            "No programme_participants rows: cohort reoffending, harm blocks, effect estimates, "
            "balance, equality monitoring and the stage funnel could not be computed."
        )

    # ---- RFG snapshots -----------------------------------------------------------------------------
    as_of = list(config.as_of_dates) + [str(from_days([index.last_day + 1]).iloc[0].date())]
    if has_participants and config.snapshot_selection_dates:
        as_of += [str(d.date()) for d in from_days(np.unique(participants["selected_day"].dropna()))]
    scores = score_rfg(index, as_of, config.rfg)
    top = power_few(scores, config.power_few_top_n)
    conc = concentration(scores, top_ns=config.concentration_top_ns)

    # ---- population reoffending --------------------------------------------------------------------
    rates = [reoffending_population(index, config.window_days, programme="all")]

    effects, blocks, balances, equality, funnels, prates, curves = [], [], [], [], [], [], []
    summaries: dict[str, ProgrammeSummary] = {}
    if has_participants:
        funnels.append(stage_funnel(participants))
        first_selection = participants.groupby("code")["selected_day"].min()
        every_participant = np.full(len(index.offender_ids), np.nan)
        known = first_selection.index.to_numpy() >= 0
        every_participant[first_selection.index.to_numpy()[known]] = first_selection.to_numpy()[known]
        age_first = _age_at_first_da(index, offenders)
        for programme, rows in participants.groupby("programme", sort=True):
            rows = rows.reset_index(drop=True)
            summary = _evaluate_programme(
                programme,
                rows,
                index,
                config,
                every_participant,
                age_first,
                offenders,
                rates,
                effects,
                blocks,
                balances,
                equality,
                prates,
                curves,
            )
            summaries[programme] = summary

    effect_frame = pd.DataFrame(effects, columns=EFFECT_COLUMNS)
    threshold = config.small_cell_threshold
    rate_frame = pd.DataFrame(rates)
    rate_frame["is_small_cell"] = (rate_frame["n_people"] > 0) & (rate_frame["n_people"] < threshold)
    block_frame = (
        pd.concat(blocks, ignore_index=True)
        if blocks
        else pd.DataFrame(
            columns=["programme", "anchor", "group", "block", "measure", "n_people", "total", "mean"]
        )
    )
    block_frame["is_small_cell"] = (block_frame["n_people"] > 0) & (block_frame["n_people"] < threshold)
    eq_frame = (
        pd.concat(equality, ignore_index=True)
        if equality
        else pd.DataFrame(
            columns=["programme", "characteristic", "category", "group", "n_people", "group_size", "share"]
        )
    )
    eq_frame["is_small_cell"] = (eq_frame["n_people"] > 0) & (eq_frame["n_people"] < threshold)
    funnel_frame = (
        pd.concat(funnels, ignore_index=True)
        if funnels
        else pd.DataFrame(columns=["programme", "arm", "order", "stage", "n_people", "share_of_selected"])
    )
    funnel_frame["is_small_cell"] = (funnel_frame["n_people"] > 0) & (funnel_frame["n_people"] < threshold)
    return EvaluationResult(
        rfg_scores=scores,
        power_few=top,
        concentration=conc,
        reoffending_rates=rate_frame,
        harm_blocks=block_frame,
        effect_estimates=effect_frame,
        balance=pd.concat(balances, ignore_index=True)
        if balances
        else pd.DataFrame(columns=["programme", "covariate", "smd_before", "smd_after"]),
        equality_monitoring=eq_frame,
        stage_funnel=funnel_frame,
        participation_rates=pd.concat(prates, ignore_index=True)
        if prates
        else pd.DataFrame(
            columns=[
                "programme",
                "group",
                "period",
                "measure",
                "n_people",
                "person_years",
                "total",
                "rate_per_person_year",
            ]
        ),
        survival_curves=pd.concat(curves, ignore_index=True)
        if curves
        else pd.DataFrame(columns=["programme", "group", "time", "survival", "n_people"]),
        participant_problems=problems,
        programmes=summaries,
        messages=messages,
        extract_window=(
            str(from_days([index.first_day]).iloc[0].date()),
            str(from_days([index.last_day]).iloc[0].date()),
        ),
    )


def _events(measure: str) -> str:
    """The measure in a reason's words: "3 treated people, all with zero DA incidents after selection"."""
    return "DA incidents" if measure.startswith("da_") else "recorded harm"


def _effect(
    effects: list,
    programme: str,
    design: str,
    outcome: str,
    result: dict,
    window: str,
    anchor: str,
    note: str = "",
    estimand: str | None = None,
    sizes: tuple[int, int] | None = None,
) -> None:
    """One row of effect_estimates from an ``estimate_row`` result (``sizes``: the group sizes to show
    when the estimator stopped before counting them)."""
    if sizes is not None:
        result = {
            "n_treated": sizes[0],
            "n_comparison": sizes[1],
            **{k: v for k, v in result.items() if v is not None},
        }
    effects.append(
        {
            "programme": programme,
            "design": design,
            "outcome": outcome,
            "estimand": estimand or result.get("estimand", ""),
            "estimate": result.get("estimate"),
            "ci_low": result.get("ci_low"),
            "ci_high": result.get("ci_high"),
            "p_value": result.get("p_value"),
            "n_treated": result.get("n_treated"),
            "n_comparison": result.get("n_comparison"),
            "window": window,
            "anchor": anchor,
            "note": note or result.get("note", ""),
            "status": result["status"],
            "reason": result["reason"],
        }
    )


def _survival_inputs(index: IncidentIndex, codes, anchors, window_days: int, censor_days=None):
    first = index.first_on_or_after(codes, anchors)
    gap = first - anchors
    follow = np.minimum(window_days, index.last_day + 1 - anchors)
    if censor_days is not None:
        follow = np.where(np.isnan(censor_days), follow, np.minimum(follow, censor_days - anchors))
    event = ~np.isnan(gap) & (gap < follow)
    time = np.where(event, gap, follow)
    return time, event, follow > 0


def _evaluate_programme(
    programme,
    rows,
    index,
    config,
    every_participant,
    age_first,
    offenders,
    rates,
    effects,
    blocks,
    balances,
    equality,
    prates,
    curves,
) -> ProgrammeSummary:
    reps, seed, k = config.bootstrap_reps, config.seed, config.did_blocks

    def estimate(design: str, measure: str, estimator, *args, **kwargs) -> dict:
        """Every estimator of the programme is reached through the estimability wrapper."""
        return estimate_row(
            f"{programme}: {design}, {measure}", estimator, *args, required=EFFECT_REQUIRED, **kwargs
        )

    window = _window_label(config, "selection")
    sel = rows["selected_day"].to_numpy(dtype=float)
    codes = rows["code"].to_numpy()
    randomised = is_randomised(rows)
    notes = []
    beyond = sel > index.last_day
    if beyond.any():
        notes.append(
            f"{int(beyond.sum())} participant(s) selected after the last day of the extract: no follow-up."
        )

    summary = ProgrammeSummary(
        programme,
        "randomised" if randomised else "matched",
        len(rows),
        0,
        0,
        first_selected=str(from_days([np.nanmin(sel)]).iloc[0].date()),
        last_selected=str(from_days([np.nanmax(sel)]).iloc[0].date()),
        notes=notes,
    )
    measures = [m for m in config.outcome_measures if m in index.measures]

    # ---- descriptive reoffending per stage ------------------------------------------------------------
    def rate_rows(population, mask, arm_label=None):
        rates.append(
            reoffending_around(
                index,
                codes[mask],
                sel[mask],
                config.window_days,
                "before",
                population,
                "before selection",
                programme=programme,
            )
        )
        for label, column in STAGE_ANCHORS.items():
            days = rows[column].to_numpy(dtype=float)[mask]
            if np.isfinite(days).any():
                rates.append(
                    reoffending_around(
                        index,
                        codes[mask],
                        days,
                        config.window_days,
                        "after",
                        population,
                        f"after {label}",
                        programme=programme,
                    )
                )

    if randomised:
        arms = arm_group(rows)
        for arm in ("treatment", "control"):
            rate_rows(f"{programme}: {arm} arm", arms == arm)
    else:
        rate_rows(f"{programme}: cohort", np.ones(len(rows), bool))

    # ---- stage harm blocks (treated / whole cohort) ---------------------------------------------------
    group_all = arm_group(rows) if randomised else np.full(len(rows), "treated", dtype=object)
    for label, column in STAGE_ANCHORS.items():
        days = rows[column].to_numpy(dtype=float)
        has = ~np.isnan(days)
        if label == "selection" and not randomised:
            continue  # written below with the matched comparison beside it
        if has.sum() == 0:
            continue
        panel = block_panel(index, codes[has], days[has], config.n_blocks, config.block_days)
        blocks.append(summarise_blocks(panel, group_all[has], programme=programme, anchor=label))

    # ---- participation rates (12 months before, during, after) ----------------------------------------
    end = rows["exited_day"].to_numpy(dtype=float)
    end = np.where(np.isnan(end), rows["completed_day"].to_numpy(dtype=float), end)
    for g in pd.unique(group_all):
        m = group_all == g
        prates.append(
            participation_rates(
                index, codes[m], sel[m], end[m], config.window_days, programme=programme, group=g
            )
        )

    # ---- effect estimates ------------------------------------------------------------------------------
    if randomised:
        arms = arm_group(rows)
        t, c = arms == "treatment", arms == "control"
        ok = ~beyond & (t | c)
        summary.n_treated, summary.n_comparison = int((t & ok).sum()), int((c & ok).sum())
        treat_ok = t[ok]
        follow = np.clip(np.minimum(config.window_days, index.last_day + 1 - sel[ok]), 0, None)
        did_days = k * config.block_days
        arm_sizes = (int(treat_ok.sum()), int((~treat_ok).sum()))
        for m in measures:
            words = {"events": _events(m), "anchor": "randomisation"}
            pp = pre_post_window(index, codes[ok], sel[ok], did_days, m)
            _effect(
                effects,
                programme,
                "naive_pre_post",
                m,
                estimate(
                    "naive_pre_post",
                    m,
                    est.naive_pre_post,
                    pp.pre[treat_ok],
                    pp.post[treat_ok],
                    reps,
                    seed,
                    pp.pre_days[treat_ok],
                    pp.post_days[treat_ok],
                    **words,
                ),
                window,
                "selection",
                note="treatment arm only; not an effect estimate: includes regression to the mean",
                estimand="rate ratio (after / before)",
                sizes=(arm_sizes[0], 0),
            )
            rtm = estimate(
                "rtm_comparison_fall",
                m,
                est.ratio_with_bootstrap,
                pp.post[~treat_ok],
                pp.pre[~treat_ok],
                reps,
                seed,
                pp.post_days[~treat_ok],
                pp.pre_days[~treat_ok],
                who="control",
                **words,
            )
            rtm.update(
                n_treated=0,
                n_comparison=rtm.pop("n_people", arm_sizes[1]),
                estimand="rate ratio (after / before) in the control arm",
            )
            _effect(
                effects,
                programme,
                "rtm_comparison_fall",
                m,
                rtm,
                window,
                "selection",
                note="regression to the mean: the change in the randomised control arm",
            )
            y = index.window_sum(codes[ok], sel[ok], sel[ok] + follow, m)
            base = index.window_sum(codes[ok], sel[ok] - config.window_days, sel[ok], m)
            itt_window = f"{config.window_days} days after randomisation (censored at the extract end)"
            if m.startswith("harm"):
                _effect(
                    effects,
                    programme,
                    "rct_itt",
                    m,
                    estimate(
                        "rct_itt", m, est.harm_ratio_permutation, y, follow, treat_ok, reps, seed, **words
                    ),
                    itt_window,
                    "selection",
                    estimand="harm ratio per person-year (treatment / control)",
                    note="bootstrap interval; permutation p-value",
                    sizes=arm_sizes,
                )
            else:
                _effect(
                    effects,
                    programme,
                    "rct_itt",
                    m,
                    estimate("rct_itt", m, est.rct_rate_ratio, y, follow, treat_ok, base, "poisson", **words),
                    itt_window,
                    "selection",
                    estimand="rate ratio (Poisson, robust SE, adjusted for prior-year count)",
                    note="intention to treat: primary",
                    sizes=arm_sizes,
                )
                _effect(
                    effects,
                    programme,
                    "rct_itt_negbin",
                    m,
                    estimate(
                        "rct_itt_negbin", m, est.rct_rate_ratio, y, follow, treat_ok, base, "negbin", **words
                    ),
                    itt_window,
                    "selection",
                    estimand="rate ratio (negative binomial NB2, α by profile likelihood, adjusted for prior-year count)",
                    note="intention to treat: sensitivity",
                    sizes=arm_sizes,
                )
                _effect(
                    effects,
                    programme,
                    "rct_itt",
                    m,
                    estimate("rct_itt", m, est.rct_rate_difference, y, follow, treat_ok, reps, seed),
                    itt_window,
                    "selection",
                    estimand="rate difference per person-year (treatment − control)",
                    note="intention to treat",
                    sizes=arm_sizes,
                )
                received = (
                    rows[config.per_protocol_stage].notna().to_numpy()[ok]
                    if config.per_protocol_stage in rows
                    else treat_ok
                )
                pp = treat_ok & received | ~treat_ok
                _effect(
                    effects,
                    programme,
                    "rct_per_protocol",
                    m,
                    estimate(
                        "rct_per_protocol",
                        m,
                        est.rct_rate_ratio,
                        y[pp],
                        follow[pp],
                        treat_ok[pp],
                        base[pp],
                        "poisson",
                        **words,
                    ),
                    itt_window,
                    "selection",
                    estimand="rate ratio (Poisson, robust SE)",
                    sizes=(int((treat_ok & pp).sum()), int((~treat_ok).sum())),
                    note=f"treatment arm restricted to those with {config.per_protocol_stage}: not randomised, secondary",
                )
        time, event, has_follow = _survival_inputs(index, codes[ok], sel[ok], config.window_days)
        group = np.where(treat_ok, "treatment", "control")
        curves.append(
            est.kaplan_meier(time[has_follow], event[has_follow], group[has_follow]).assign(
                programme=programme
            )
        )
        _effect(
            effects,
            programme,
            "survival_cox",
            "time_to_da_reoffence",
            estimate(
                "survival_cox",
                "time_to_da_reoffence",
                est.cox_hazard_ratio,
                time[has_follow],
                event[has_follow],
                treat_ok[has_follow],
            ),
            f"up to {config.window_days} days after randomisation",
            "selection",
            note="randomised arms",
            estimand="hazard ratio (time to first DA incident after the anchor)",
            sizes=(int(treat_ok[has_follow].sum()), int((~treat_ok[has_follow]).sum())),
        )
        cohort_codes = codes
        eligible_codes = _eligible_union(index, sel, config)
    else:
        treated = ~beyond
        match = match_cohort(
            index, codes[treated], sel[treated], every_participant, config.rfg, config.matching, age_first
        )
        summary.n_treated = match.n_matched_treated
        summary.n_unmatched = match.n_treated - match.n_matched_treated
        summary.caliper = match.caliper
        mt = match.matches
        is_t = (mt["role"] == "treated").to_numpy()
        summary.n_comparison = int(mt.loc[~is_t, "code"].nunique())
        if summary.n_unmatched:
            summary.notes.append(
                f"{summary.n_unmatched} treated person(s) had no comparison within the caliper "
                "and are left out of the matched estimates."
            )
        balances.append(
            match.balance.assign(
                programme=programme, n_treated=match.n_matched_treated, n_comparison=summary.n_comparison
            )
        )
        later = ~np.isnan(mt["censor_day"].to_numpy())
        if later.any():
            summary.notes.append(
                f"{int(mt.loc[later, 'code'].nunique())} comparison person(s) joined a programme after their anchor; "
                + {
                    "ipcw": "they are censored at that date and the comparisons still unselected are re-weighted by "
                    "the inverse probability of remaining unselected (IPCW).",
                    "censor": "their follow-up is censored at that date (informative if selection follows offending).",
                    "keep": "their later outcomes are kept (comparison = not selected at the as-of date), which "
                    "biases the estimate towards no effect.",
                }[config.later_selection]
            )
        censor = mt["censor_day"].to_numpy() if config.later_selection != "keep" else np.full(len(mt), np.nan)
        weighted_post = (
            censoring_weighted_post(index, match, k * config.block_days, measures)
            if config.later_selection == "ipcw"
            else {}
        )
        panel = block_panel(
            index,
            mt["code"].to_numpy(),
            mt["anchor_day"].to_numpy(),
            config.n_blocks,
            config.block_days,
            censor_days=censor,
        )
        blocks.append(
            summarise_blocks(
                panel,
                np.where(is_t, "treated", "comparison"),
                mt["weight"].to_numpy(),
                programme=programme,
                anchor="selection",
            )
        )
        did_days = k * config.block_days
        for m in measures:
            words = {"events": _events(m), "anchor": "selection"}
            everyone = pre_post_window(index, codes[treated], sel[treated], did_days, m)
            _effect(
                effects,
                programme,
                "naive_pre_post",
                m,
                estimate(
                    "naive_pre_post",
                    m,
                    est.naive_pre_post,
                    everyone.pre,
                    everyone.post,
                    reps,
                    seed,
                    everyone.pre_days,
                    everyone.post_days,
                    **words,
                ),
                window,
                "selection",
                estimand="rate ratio (after / before)",
                sizes=(int(treated.sum()), 0),
            )
            pp = pre_post_window(
                index, mt["code"].to_numpy(), mt["anchor_day"].to_numpy(), did_days, m, censor
            )
            if m in weighted_post:
                pp.post, pp.post_days = weighted_post[m]
            did = estimate_rows(
                f"{programme}: matched_did, {m}",
                est.matched_did,
                mt["set_id"].to_numpy(),
                is_t,
                mt["weight"].to_numpy(),
                pp.pre,
                pp.post,
                reps,
                seed,
                pp.pre_days,
                pp.post_days,
                parts=("did", "comparison"),
                required=EFFECT_REQUIRED,
                **words,
            )
            for part in ("did", "comparison"):
                did[part]["n_treated"] = did[part].get("n_treated", summary.n_treated)
                did[part]["n_comparison"] = summary.n_comparison
            _effect(
                effects,
                programme,
                "matched_did",
                m,
                did["did"],
                window,
                "selection",
                note=f"{config.matching.n_matches} nearest neighbours on the logit propensity, caliper "
                f"{config.matching.caliper_sd} SD, same as-of date; cluster bootstrap over matched sets",
                estimand="rate ratio (difference-in-differences, treated vs matched comparison)",
            )
            _effect(
                effects,
                programme,
                "rtm_comparison_fall",
                m,
                did["comparison"],
                window,
                "selection",
                estimand="rate ratio (after / before) in the matched comparison group",
                note=did["comparison"].get("note")
                or "regression to the mean: the change seen with no programme",
            )
        time, event, has_follow = _survival_inputs(
            index, mt["code"].to_numpy(), mt["anchor_day"].to_numpy(), config.window_days, censor
        )
        group = np.where(is_t, "treated", "comparison")
        w = mt["weight"].to_numpy()
        curves.append(
            est.kaplan_meier(time[has_follow], event[has_follow], group[has_follow], w[has_follow]).assign(
                programme=programme
            )
        )
        _effect(
            effects,
            programme,
            "survival_cox",
            "time_to_da_reoffence",
            estimate(
                "survival_cox",
                "time_to_da_reoffence",
                est.cox_hazard_ratio,
                time[has_follow],
                event[has_follow],
                is_t[has_follow],
                strata=mt["set_id"].to_numpy()[has_follow],
                clusters=mt["code"].to_numpy()[has_follow],
            ),
            f"up to {config.window_days} days after selection",
            "selection",
            note="Cox model stratified by matched set",
            estimand="hazard ratio (time to first DA incident after the anchor)",
            sizes=(int(is_t[has_follow].sum()), int((~is_t[has_follow]).sum())),
        )
        comp_rows = ~is_t
        rates.append(
            reoffending_around(
                index,
                mt.loc[comp_rows, "code"].to_numpy(),
                mt.loc[comp_rows, "anchor_day"].to_numpy(),
                config.window_days,
                "before",
                f"{programme}: matched comparison",
                "before selection",
                programme=programme,
            )
        )
        rates.append(
            reoffending_around(
                index,
                mt.loc[comp_rows, "code"].to_numpy(),
                mt.loc[comp_rows, "anchor_day"].to_numpy(),
                config.window_days,
                "after",
                f"{programme}: matched comparison",
                "after selection",
                censor_days=censor[comp_rows],
                programme=programme,
            )
        )
        cohort_codes = codes
        eligible_codes = _eligible_union(index, sel, config)

    # ---- equality monitoring -----------------------------------------------------------------------------
    if offenders is not None and len(offenders):
        ref_day = float(np.nanmedian(sel))
        people = offenders.copy()
        people["offender_id"] = people["offender_id"].astype(str)
        if "age_at_first_da_incident" in people and "first_da_on" in people:
            people["age"] = (
                pd.to_numeric(people["age_at_first_da_incident"], errors="coerce")
                + (ref_day - to_days(people["first_da_on"])) / 365.25
            )
        elif "mean_age" in people:
            people["age"] = pd.to_numeric(people["mean_age"], errors="coerce")
        ids = index.offender_ids.to_numpy()
        groups = {
            "cohort": ids[cohort_codes[cohort_codes >= 0]],
            "eligible pool": ids[eligible_codes],
            "all DA perpetrators": ids[index.da_offender_codes()],
        }
        equality.append(equality_monitoring(people, groups).assign(programme=programme))
    return summary


def _eligible_union(index: IncidentIndex, selection_days: np.ndarray, config: EvaluationConfig) -> np.ndarray:
    """Everyone eligible (a DA incident in the RFG lookback) at any of the programme's selection dates."""
    pools = [
        index.active_between(int(d) - config.rfg.lookback_days, int(d))
        for d in np.unique(selection_days[~np.isnan(selection_days)])
    ]
    return np.unique(np.concatenate(pools)) if pools else np.array([], np.int64)


__all__ = [
    "EvaluationConfig",
    "EvaluationResult",
    "ProgrammeSummary",
    "run_evaluation",
    "build_index",
    "MEASURE_LABELS",
]


def summary_table(result: EvaluationResult) -> pd.DataFrame:
    """One row per programme (plus a row for the extract) so a report can be rebuilt from the warehouse."""
    rows = [
        {
            "programme": "",
            "design": "",
            "n_participants": 0,
            "n_treated": 0,
            "n_comparison": 0,
            "n_unmatched": 0,
            "caliper": np.nan,
            "first_selected": "",
            "last_selected": "",
            "notes": "",
            "extract_start": result.extract_window[0],
            "extract_end": result.extract_window[1],
            "messages": "\n".join(result.messages),
        }
    ]
    for s in result.programmes.values():
        rows.append(
            {
                "programme": s.programme,
                "design": s.design,
                "n_participants": s.n_participants,
                "n_treated": s.n_treated,
                "n_comparison": s.n_comparison,
                "n_unmatched": s.n_unmatched,
                "caliper": s.caliper,
                "first_selected": s.first_selected,
                "last_selected": s.last_selected,
                "notes": "\n".join(s.notes),
                "extract_start": result.extract_window[0],
                "extract_end": result.extract_window[1],
                "messages": "",
            }
        )
    return pd.DataFrame(rows)


def result_from_tables(tables: dict[str, pd.DataFrame]) -> EvaluationResult:
    """Rebuild an ``EvaluationResult`` from the stored tables (``summary`` = ``summary_table``)."""
    summary = tables["summary"]
    extract = summary.loc[summary["programme"] == ""].iloc[0]
    programmes = {
        r.programme: ProgrammeSummary(
            r.programme,
            r.design,
            int(r.n_participants),
            int(r.n_treated),
            int(r.n_comparison),
            int(r.n_unmatched),
            float(r.caliper),
            r.first_selected,
            r.last_selected,
            [n for n in str(r.notes or "").split("\n") if n],
        )
        for r in summary.loc[summary["programme"] != ""].itertuples(index=False)
    }
    empty = pd.DataFrame()
    return EvaluationResult(
        **{
            name: tables.get(name, empty)
            for name in (
                "rfg_scores",
                "power_few",
                "concentration",
                "reoffending_rates",
                "harm_blocks",
                "effect_estimates",
                "balance",
                "equality_monitoring",
                "stage_funnel",
                "participation_rates",
                "survival_curves",
            )
        },
        participant_problems=tables.get(
            "participant_problems", pd.DataFrame(columns=["person_id", "programme", "problem"])
        ),
        programmes=programmes,
        messages=[m for m in str(extract["messages"] or "").split("\n") if m],
        extract_window=(str(extract["extract_start"]), str(extract["extract_end"])),
    )
