"""The whole outcome evaluation in one call: marts in, every evaluation table out.

``run_evaluation(incidents, offenders, participants, config)`` takes frames with the columns of
marts.fct_incidents, marts.dim_offenders and marts.dim_programme_participants (or an evaluator's own
``programme_participants`` table) and returns an ``EvaluationResult`` holding each analytics table.
With no participants it still scores RFG and computes the population reoffending rate, and says what it
could not compute.

The steps, each a function of this module: ``build_sources`` (the incident indexes, knowledge time
included), ``snapshot_dates`` + ``score_snapshots`` (RFG, scored once: the ``rfg_scores`` asset and
``run_evaluation`` share them), then per programme ``_descriptive`` (reoffending rates, stage blocks,
participation), ``_randomised`` or ``_matched`` (effect estimates, ``ml.evaluation.effects``) and
``_equality``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ml.evaluation.effects import EffectSettings, matched_effects, randomised_effects
from ml.evaluation.equality import equality_monitoring
from ml.evaluation.estimators import kaplan_meier
from ml.evaluation.incidents import MEASURE_LABELS, IncidentIndex, VictimIndex, from_days, to_days
from ml.evaluation.matching import MatchingConfig, Sources
from ml.evaluation.outcomes import (
    block_days_for,
    block_panel,
    participation_rates,
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


MATCHED_INTERVALS = ("half_sample", "bootstrap")


@dataclass(frozen=True)
class EvaluationConfig:
    rfg: RFGConfig = field(default_factory=RFGConfig)
    matching: MatchingConfig = field(default_factory=MatchingConfig)
    window_days: int = 365
    block_months: int = 6
    n_blocks: int = 4  # six-month blocks shown each side of an anchor in harm_blocks
    did_blocks: int = 2  # blocks each side entering the effect estimates (2 × 6 = 12 months)
    bootstrap_reps: int = 999  # the naive, RCT and control-arm bootstraps (cheap)
    matched_bootstrap_reps: int = 199  # replicates behind the matched interval (each re-runs the matching)
    # The matched estimates' interval: 'half_sample' (delete-half jackknife, valid for matching with
    # replacement; default) or 'bootstrap' (plain bootstrap of people; too narrow for matching).
    matched_interval: str = "half_sample"
    seed: int = 12345
    # Outcomes count incidents committed in their window and reported within this many days of its close;
    # windows closing later than the extract's end less this lag are cut there (knowledge time).
    reporting_lag_days: int = 90
    library_estimator: bool = True  # Callaway–Sant'Anna (diff-diff) beside the matched DiD
    library_pool_top_n: int = 500
    library_method: str = "dr"  # the library's estimator in each cell: dr, reg or ipw
    library_bootstrap_reps: int = 99  # resamples behind its bootstrap-t interval (0: the library's own)
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

    def __post_init__(self):
        if self.matched_interval not in MATCHED_INTERVALS:
            raise ValueError(
                f"matched_interval={self.matched_interval!r}: choose one of {list(MATCHED_INTERVALS)}"
            )

    @property
    def block_days(self) -> int:
        return block_days_for(self.block_months)

    def effect_settings(self) -> EffectSettings:
        return EffectSettings(
            rfg=self.rfg,
            matching=self.matching,
            did_days=self.did_blocks * self.block_days,
            block_days=self.block_days,
            window_days=self.window_days,
            reporting_lag_days=self.reporting_lag_days,
            bootstrap_reps=self.matched_bootstrap_reps,
            matched_interval=self.matched_interval,
            naive_bootstrap_reps=self.bootstrap_reps,
            seed=self.seed,
            later_selection=self.later_selection,
            library_estimator=self.library_estimator,
            library_pool_top_n=self.library_pool_top_n,
            library_method=self.library_method,
            library_bootstrap_reps=self.library_bootstrap_reps,
        )


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
    diagnostics: dict = field(default_factory=dict)  # weights (ESS, largest), covariates used, lag


# The evaluation's output tables, in the order they are written (the fields of EvaluationResult).
TABLE_NAMES = (
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
        return {n: getattr(self, n) for n in TABLE_NAMES}


def build_index(
    incidents: pd.DataFrame, offenders: pd.DataFrame | None, config: EvaluationConfig | None = None
) -> IncidentIndex:
    extra = {"harm_gravity": "gravity"} if "gravity" in incidents.columns else None
    ids = offenders["offender_id"] if offenders is not None and "offender_id" in offenders else None
    return IncidentIndex.build(incidents, offender_ids=ids, extra_measures=extra)


def build_sources(
    incidents: pd.DataFrame,
    offenders: pd.DataFrame | None = None,
    custody: pd.DataFrame | None = None,
    victims: pd.DataFrame | None = None,
    index: IncidentIndex | None = None,
) -> Sources:
    """Every index the evaluation reads, sharing one offender coding: DA incidents (with risk grades when
    ``risk_level`` is present), non-DA incidents, custody arrests (``offender_id``, ``arrested_on``) and
    DA victims (``offender_id``, ``victim_id``, ``started_on``, ``reported_at``) when given, and DA
    incidents dated by their report (a panel's list of recent reports includes historic disclosures)."""
    index = index or build_index(incidents, offenders)
    ids = index.offender_ids
    frame_ids = incidents["offender_id"].astype(str)
    non_da = None
    if "is_da" in incidents and (~incidents["is_da"].fillna(False).astype(bool)).any():
        non_da = IncidentIndex.build(
            incidents.loc[frame_ids.isin(ids)],
            offender_ids=ids,
            which="non_da",
            observation_start=str(from_days([index.first_day]).iloc[0].date()),
            observation_end=str(from_days([index.last_day]).iloc[0].date()),
        )
    custody_index = None
    if custody is not None and len(custody):
        events = custody.rename(columns={"arrested_on": "started_on"})
        events = events.loc[events["offender_id"].astype(str).isin(ids)]
        if len(events):
            custody_index = IncidentIndex.build(
                events[["offender_id", "started_on"]],
                offender_ids=ids,
                which="all",
                observation_start=str(from_days([index.first_day]).iloc[0].date()),
                observation_end=str(from_days([index.last_day]).iloc[0].date()),
            )
    reports = None
    if "reported_at" in incidents:
        committed, reported = to_days(incidents["started_on"]), to_days(incidents["reported_at"])
        if (reported > committed).any():
            by_report = incidents.loc[frame_ids.isin(ids)].assign(started_on=incidents["reported_at"])
            reports = IncidentIndex.build(
                by_report.drop(columns=["reported_at"]),
                offender_ids=ids,
                extra_measures={"harm_gravity": "gravity"} if "gravity" in incidents else None,
                observation_start=str(from_days([index.first_day]).iloc[0].date()),
                observation_end=str(from_days([index.last_day]).iloc[0].date()),
            )
    victim_index = None
    if victims is not None and len(victims):
        known = victims.loc[victims["offender_id"].astype(str).isin(ids)]
        if len(known):
            victim_index = VictimIndex.build(known, ids)
    return Sources(index, non_da, custody_index, victim_index, reports=reports)


def snapshot_dates(
    index: IncidentIndex, participants: pd.DataFrame | None, config: EvaluationConfig
) -> list[str]:
    """The as-of dates RFG is scored at: the configured ones, the day after the extract's last report and
    (by default) the selection date of every participant the evaluation keeps, so each past selection can
    be reproduced. Raw and validated participants give the same dates: rows the evaluation would exclude
    (``validate_participants``) are left out here too, so the ``rfg_scores`` asset and ``run_evaluation``
    score the same snapshots."""
    dates = list(config.as_of_dates) + [str(from_days([index.last_day + 1]).iloc[0].date())]
    if participants is not None and len(participants) and config.snapshot_selection_dates:
        valid, _ = validate_participants(
            participants, known_offender_ids=index.offender_ids, raise_on_error=False
        )
        days = pd.Series(valid["selected_day"]).dropna().unique()
        dates += [str(d.date()) for d in from_days(days)]
    return dates


def score_snapshots(
    sources: Sources, participants: pd.DataFrame | None, config: EvaluationConfig
) -> pd.DataFrame:
    """The RFG snapshots (``analytics.rfg_scores``): the one scoring of a run. The ``rfg_scores`` asset calls
    it on the marts; the programme evaluation reads the published table back (``run_evaluation(...,
    rfg_scores=...)``) and scores only when called without it, with the same dates (``snapshot_dates``)."""
    return score_rfg(
        sources.index, snapshot_dates(sources.index, participants, config), config.rfg, sources.victims
    )


def _window_label(config: EvaluationConfig, anchor: str) -> str:
    months = config.did_blocks * config.block_months
    return (
        f"{months} months before vs {months} months after {anchor} ({config.did_blocks} × "
        f"{config.block_months}-month blocks; before: reported by {anchor}; after: reported within "
        f"{config.reporting_lag_days} days of the window's close)"
    )


def _age_at_first_da(index: IncidentIndex, offenders: pd.DataFrame | None) -> np.ndarray | None:
    if offenders is None or "age_at_first_da_incident" not in offenders:
        return None
    age = pd.Series(np.nan, index=index.offender_ids)
    values = pd.to_numeric(offenders["age_at_first_da_incident"], errors="coerce").to_numpy()
    ids = offenders["offender_id"].astype(str).to_numpy()
    known = index.offender_ids.get_indexer(ids) >= 0
    age.loc[ids[known]] = values[known]
    return age.to_numpy()


def run_evaluation(
    incidents: pd.DataFrame | None,
    offenders: pd.DataFrame | None = None,
    participants: pd.DataFrame | None = None,
    config: EvaluationConfig | None = None,
    index: IncidentIndex | None = None,
    rfg_scores: pd.DataFrame | None = None,
    custody: pd.DataFrame | None = None,
    victims: pd.DataFrame | None = None,
    sources: Sources | None = None,
    rfg_summaries: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> EvaluationResult:
    """Every evaluation table. ``incidents`` may be None when ``sources`` are given (built from them).
    ``rfg_scores`` (from ``score_snapshots``) is reused when given, so RFG is scored once per run. ``rfg_summaries`` (power few, concentration), when given, stand for the snapshots:
    nothing else here reads them, so a caller holding them in a warehouse need not load every snapshot row
    (the result's ``rfg_scores`` is then ``rfg_scores`` or empty)."""
    config = config or EvaluationConfig()
    sources = sources or build_sources(incidents, offenders, custody, victims, index)
    index = sources.index
    sources.age_at_first_da = _age_at_first_da(index, offenders)
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

    if rfg_summaries is not None:
        scores = rfg_scores if rfg_scores is not None else pd.DataFrame()
        top, conc = rfg_summaries
    else:
        scores = rfg_scores if rfg_scores is not None else score_snapshots(sources, participants, config)
        top = power_few(scores, config.power_few_top_n)
        conc = concentration(scores, top_ns=config.concentration_top_ns)
    rates = [reoffending_population(index, config.window_days, programme="all")]

    out = _Collect()
    out.rates = rates
    summaries: dict[str, ProgrammeSummary] = {}
    if has_participants:
        out.funnels.append(stage_funnel(participants))
        first_selection = participants.groupby("code")["selected_day"].min()
        every_participant = np.full(len(index.offender_ids), np.nan)
        known = first_selection.index.to_numpy() >= 0
        every_participant[first_selection.index.to_numpy()[known]] = first_selection.to_numpy()[known]
        for programme, rows in participants.groupby("programme", sort=True):
            rows = rows.reset_index(drop=True)
            summaries[programme] = _evaluate_programme(
                programme, rows, sources, config, every_participant, offenders, out
            )
    return _result(config, index, scores, top, conc, out, problems, summaries, messages)


@dataclass
class _Collect:
    rates: list = field(default_factory=list)
    effects: list = field(default_factory=list)
    blocks: list = field(default_factory=list)
    balances: list = field(default_factory=list)
    equality: list = field(default_factory=list)
    funnels: list = field(default_factory=list)
    prates: list = field(default_factory=list)
    curves: list = field(default_factory=list)


def _result(
    config, index, scores, top, conc, out: _Collect, problems, summaries, messages
) -> EvaluationResult:
    threshold = config.small_cell_threshold
    effect_frame = pd.DataFrame(out.effects, columns=EFFECT_COLUMNS)
    rate_frame = pd.DataFrame(out.rates)
    rate_frame["is_small_cell"] = (rate_frame["n_people"] > 0) & (rate_frame["n_people"] < threshold)

    def frame(parts, columns):
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)

    block_frame = frame(
        out.blocks, ["programme", "anchor", "group", "block", "measure", "n_people", "total", "mean"]
    )
    block_frame["is_small_cell"] = (block_frame["n_people"] > 0) & (block_frame["n_people"] < threshold)
    eq_frame = frame(
        out.equality, ["programme", "characteristic", "category", "group", "n_people", "group_size", "share"]
    )
    eq_frame["is_small_cell"] = (eq_frame["n_people"] > 0) & (eq_frame["n_people"] < threshold)
    funnel_frame = frame(out.funnels, ["programme", "arm", "order", "stage", "n_people", "share_of_selected"])
    funnel_frame["is_small_cell"] = (funnel_frame["n_people"] > 0) & (funnel_frame["n_people"] < threshold)
    return EvaluationResult(
        rfg_scores=scores,
        power_few=top,
        concentration=conc,
        reoffending_rates=rate_frame,
        harm_blocks=block_frame,
        effect_estimates=effect_frame,
        balance=frame(out.balances, ["programme", "covariate", "smd_before", "smd_after"]),
        equality_monitoring=eq_frame,
        stage_funnel=funnel_frame,
        participation_rates=frame(
            out.prates,
            [
                "programme",
                "group",
                "period",
                "measure",
                "n_people",
                "person_years",
                "total",
                "rate_per_person_year",
            ],
        ),
        survival_curves=frame(out.curves, ["programme", "group", "time", "survival", "n_people"]),
        participant_problems=problems,
        programmes=summaries,
        messages=messages,
        extract_window=(
            str(from_days([index.first_day]).iloc[0].date()),
            str(from_days([index.last_day]).iloc[0].date()),
        ),
    )


def _effect_rows(rows: list[dict]) -> list[dict]:
    """Rows from ``ml.evaluation.effects`` → effect_estimates rows (required: estimate and interval)."""
    out = []
    for row in rows:
        record = {c: row.get(c) for c in EFFECT_COLUMNS}
        if record["status"] == "estimated" and not all(
            np.isfinite(float(record[c])) if record[c] is not None else False for c in EFFECT_REQUIRED
        ):
            missing = [c for c in EFFECT_REQUIRED if record[c] is None or not np.isfinite(float(record[c]))]
            record.update(status="not estimable", reason=f"{', '.join(missing)} not finite on this data")
            for c in ("estimate", "ci_low", "ci_high", "p_value"):
                record[c] = np.nan
        record["estimand"] = record["estimand"] or ""
        record["note"] = record["note"] or ""
        out.append(record)
    return out


def _evaluate_programme(
    programme, rows, sources, config, every_participant, offenders, out
) -> ProgrammeSummary:
    index = sources.index
    sel = rows["selected_day"].to_numpy(dtype=float)
    codes = rows["code"].to_numpy()
    randomised = is_randomised(rows)
    notes = []
    beyond = sel + config.did_blocks * config.block_days + config.reporting_lag_days > index.last_day + 1
    if beyond.any():
        notes.append(
            f"{int(beyond.sum())} participant(s) selected too late for a full "
            f"{config.did_blocks * config.block_months}-month follow-up plus the {config.reporting_lag_days}-day "
            "reporting lag: their follow-up is cut at the end of the extract."
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
    summary.diagnostics["reporting_lag_days"] = config.reporting_lag_days
    _descriptive(programme, rows, index, config, randomised, out)
    if randomised:
        eligible_codes = _randomised(programme, rows, index, config, summary, out)
    else:
        eligible_codes = _matched(programme, rows, sources, config, every_participant, summary, out)
    _equality(programme, codes, eligible_codes, sel, index, offenders, out)
    return summary


def _descriptive(programme, rows, index, config, randomised, out: _Collect) -> None:
    """Reoffending per stage, six-month blocks around the later stages, 12-month before/during/after."""
    sel = rows["selected_day"].to_numpy(dtype=float)
    codes = rows["code"].to_numpy()
    lag = config.reporting_lag_days

    def rate_rows(population, mask):
        out.rates.append(
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
                out.rates.append(
                    reoffending_around(
                        index,
                        codes[mask],
                        days,
                        config.window_days,
                        "after",
                        population,
                        f"after {label}",
                        reporting_lag_days=lag,
                        programme=programme,
                    )
                )

    if randomised:
        arms = arm_group(rows)
        for arm in ("treatment", "control"):
            rate_rows(f"{programme}: {arm} arm", arms == arm)
    else:
        rate_rows(f"{programme}: cohort", np.ones(len(rows), bool))

    group_all = arm_group(rows) if randomised else np.full(len(rows), "treated", dtype=object)
    for label, column in STAGE_ANCHORS.items():
        days = rows[column].to_numpy(dtype=float)
        has = ~np.isnan(days)
        if label == "selection" and not randomised:
            continue  # written with the matched comparison beside it
        if has.sum() == 0:
            continue
        panel = block_panel(
            index, codes[has], days[has], config.n_blocks, config.block_days, reporting_lag_days=lag
        )
        out.blocks.append(summarise_blocks(panel, group_all[has], programme=programme, anchor=label))

    end = rows["exited_day"].to_numpy(dtype=float)
    end = np.where(np.isnan(end), rows["completed_day"].to_numpy(dtype=float), end)
    for g in pd.unique(group_all):
        m = group_all == g
        out.prates.append(
            participation_rates(
                index, codes[m], sel[m], end[m], config.window_days, programme=programme, group=g
            )
        )


def _randomised(programme, rows, index, config, summary, out: _Collect) -> np.ndarray:
    sel = rows["selected_day"].to_numpy(dtype=float)
    codes = rows["code"].to_numpy()
    arms = arm_group(rows)
    ok = (arms == "treatment") | (arms == "control")
    treated = (arms == "treatment")[ok]
    summary.n_treated, summary.n_comparison = int(treated.sum()), int((~treated).sum())
    received = (
        rows[config.per_protocol_stage].notna().to_numpy()[ok] if config.per_protocol_stage in rows else None
    )
    measures = [m for m in config.outcome_measures if m in index.measures]
    effect_rows = randomised_effects(
        index,
        codes[ok],
        sel[ok],
        treated,
        received,
        measures,
        config.effect_settings(),
        programme,
        _window_label(config, "randomisation"),
    )
    out.effects += _effect_rows(effect_rows)
    from ml.evaluation.effects import survival_inputs

    time, event, has = survival_inputs(
        index, codes[ok], sel[ok], config.window_days, config.reporting_lag_days
    )
    group = np.where(treated, "treatment", "control")
    out.curves.append(kaplan_meier(time[has], event[has], group[has]).assign(programme=programme))
    return _eligible_union(index, sel, config)


def _matched(programme, rows, sources, config, every_participant, summary, out: _Collect) -> np.ndarray:
    index = sources.index
    sel = rows["selected_day"].to_numpy(dtype=float)
    codes = rows["code"].to_numpy()
    measures = [m for m in config.outcome_measures if m in index.measures]
    settings = config.effect_settings()
    analysis = matched_effects(
        sources,
        codes,
        sel,
        every_participant,
        measures,
        settings,
        programme,
        _window_label(config, "selection"),
    )
    out.effects += _effect_rows(analysis.rows)
    summary.n_treated = analysis.n_matched
    summary.n_unmatched = len(codes) - analysis.n_matched
    if analysis.design is not None:
        summary.diagnostics["covariates"] = analysis.design.covariate_names
        summary.diagnostics["covariate_groups_missing"] = analysis.design.missing_groups
        if analysis.design.missing_groups:
            summary.notes.append(
                "Not matched on (not in this extract): " + ", ".join(analysis.design.missing_groups) + "."
            )
    if analysis.point is not None:
        summary.caliper = analysis.point.caliper
        summary.diagnostics.update(analysis.diagnostics)
    if analysis.matches is None:
        return _eligible_union(index, sel, config)
    mt = analysis.matches
    is_t = (mt["role"] == "treated").to_numpy()
    summary.n_comparison = int(mt.loc[~is_t, "code"].nunique())
    if summary.n_unmatched:
        summary.notes.append(
            f"{summary.n_unmatched} of {len(codes)} selected people had no comparison within the caliper: the "
            f"matched estimates are about the {analysis.n_matched} matched."
        )
    out.balances.append(
        analysis.balance.assign(
            programme=programme, n_treated=analysis.n_matched, n_comparison=summary.n_comparison
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
    censor = mt["censor_day"].to_numpy()
    panel = block_panel(
        index,
        mt["code"].to_numpy(),
        mt["anchor_day"].to_numpy(),
        config.n_blocks,
        config.block_days,
        censor_days=censor,
        reporting_lag_days=config.reporting_lag_days,
    )
    out.blocks.append(
        summarise_blocks(
            panel,
            np.where(is_t, "treated", "comparison"),
            mt["weight"].to_numpy(),
            programme=programme,
            anchor="selection",
        )
    )
    if analysis.survival is not None:
        time, event, has = analysis.survival
        group = np.where(is_t, "treated", "comparison")
        out.curves.append(
            kaplan_meier(time[has], event[has], group[has], mt["weight"].to_numpy()[has]).assign(
                programme=programme
            )
        )
    comp = ~is_t
    out.rates.append(
        reoffending_around(
            index,
            mt.loc[comp, "code"].to_numpy(),
            mt.loc[comp, "anchor_day"].to_numpy(),
            config.window_days,
            "before",
            f"{programme}: matched comparison",
            "before selection",
            programme=programme,
        )
    )
    out.rates.append(
        reoffending_around(
            index,
            mt.loc[comp, "code"].to_numpy(),
            mt.loc[comp, "anchor_day"].to_numpy(),
            config.window_days,
            "after",
            f"{programme}: matched comparison",
            "after selection",
            censor_days=censor[comp],
            reporting_lag_days=config.reporting_lag_days,
            programme=programme,
        )
    )
    return _eligible_union(index, sel, config)


def _equality(programme, cohort_codes, eligible_codes, sel, index, offenders, out: _Collect) -> None:
    if offenders is None or not len(offenders):
        return
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
    out.equality.append(equality_monitoring(people, groups).assign(programme=programme))


def _eligible_union(index: IncidentIndex, selection_days: np.ndarray, config: EvaluationConfig) -> np.ndarray:
    """Everyone eligible (a DA incident in the RFG lookback, reported by then) at any selection date."""
    pools = [
        index.active_between(int(d) - config.rfg.lookback_days, int(d), known_by=int(d))
        for d in np.unique(selection_days[~np.isnan(selection_days)])
    ]
    return np.unique(np.concatenate(pools)) if pools else np.array([], np.int64)


__all__ = [
    "EvaluationConfig",
    "EvaluationResult",
    "ProgrammeSummary",
    "run_evaluation",
    "build_index",
    "build_sources",
    "score_snapshots",
    "snapshot_dates",
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
            "diagnostics": "{}",
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
                "diagnostics": json.dumps(s.diagnostics, default=float),
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
            json.loads(getattr(r, "diagnostics", "{}") or "{}"),
        )
        for r in summary.loc[summary["programme"] != ""].itertuples(index=False)
    }
    empty = pd.DataFrame()
    return EvaluationResult(
        **{name: tables.get(name, empty) for name in TABLE_NAMES},
        participant_problems=tables.get(
            "participant_problems", pd.DataFrame(columns=["person_id", "programme", "problem"])
        ),
        programmes=programmes,
        messages=[m for m in str(extract["messages"] or "").split("\n") if m],
        extract_window=(str(extract["extract_start"]), str(extract["extract_end"])),
    )
