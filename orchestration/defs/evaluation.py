"""Outcome evaluation as assets: read the incident, offender and participant marts, call ``ml.evaluation``,
write the ``analytics`` tables, render one HTML report per programme. The statistics live in ``ml/``.

Assets
  analytics/rfg_scores            as-of date × offender: RFG components, score and rank (snapshots)
  analytics/power_few             the top-N of each snapshot
  analytics/concentration         share of DA incidents and harm caused by the top 1%, 5%, 10%, top N
  analytics/reoffending_rates     population × anchor × window (n_people, n_reoffended, n_censored, rate, km_rate)
  analytics/harm_blocks           programme × anchor × group × six-month block × measure
  analytics/effect_estimates      programme × design × outcome × estimand, with CI, group sizes, window, note
  analytics/balance               programme × covariate: standardised mean differences before/after matching
  analytics/equality_monitoring   programme × characteristic × category × group, disparity ratios
  analytics/stage_funnel          programme × arm × stage
  analytics/participation_rates   12 months before, during, after participation (per person-year)
  analytics/survival_curves       Kaplan–Meier step points per programme and group
  analytics/evaluation_summary    one row per programme (design, sizes, caliper, notes) + the extract window
  reports/evaluation              <output>/evaluation/<programme>.html (or population.html without participants)
"""

import re

import dagster as dg
import numpy as np
import pandas as pd

from ml.estimability import ESTIMATED, NOT_ESTIMABLE, not_estimable
from ml.evaluation.matching import COVARIATE_GROUPS, MatchingConfig
from ml.evaluation.pipeline import (
    EvaluationConfig,
    build_sources,
    result_from_tables,
    run_evaluation,
    score_snapshots,
    summary_table,
)
from ml.evaluation.rfg import RFGConfig, concentration_by_snapshot, power_few
from orchestration.keys import analytics, mart, report
from orchestration.lib.code_version import source_version
from orchestration.lib.warehouse_io import read_table, table_exists, write_table
from orchestration.resources import PlatformResource

CODE_VERSION = source_version(__name__, "ml.evaluation", "ml.reporting")
GROUP = "evaluation"

RFG_SCORES = analytics("rfg_scores")
POWER_FEW = analytics("power_few")
CONCENTRATION = analytics("concentration")
PROGRAMME_TABLES = [
    "reoffending_rates",
    "harm_blocks",
    "effect_estimates",
    "balance",
    "equality_monitoring",
    "stage_funnel",
    "participation_rates",
    "survival_curves",
    "evaluation_summary",
]
REPORT = report("evaluation")
INPUTS = [mart("fct_incidents"), mart("dim_offenders"), mart("dim_programme_participants")]
# Custody arrests and DA victims (matching covariates, RFGV): read by every asset that builds the sources.
CONTEXT_INPUTS = [
    dg.AssetKey(["staging", "stg_wmp__custody"]),
    dg.AssetKey(["staging", "stg_wmp__victims"]),
    mart("fct_offences"),
]

# started_on = committed date; reported_at = when police knew (knowledge time); risk_level = the grade.
_INCIDENT_COLUMNS = [
    "offender_id",
    "is_da",
    "started_on",
    "reported_at",
    "severity",
    "cchi_days",
    "is_non_crime",
    "risk_level",
]
_OFFENDER_COLUMNS = [
    "offender_id",
    "modal_sex",
    "modal_ethnicity",
    "mean_age",
    "age_at_first_da_incident",
    "first_da_on",
]
_PARTICIPANT_COLUMNS = [
    "person_id",
    "offender_id",
    "programme",
    "cohort",
    "arm",
    "referred_on",
    "selected_on",
    "disruption_started_on",
    "full_engagement_on",
    "completed_on",
    "exited_on",
    "exit_reason",
]


class EvaluationAssetConfig(dg.Config):
    """How the evaluation is computed. No canonical RFG formula exists, so every choice is visible here."""

    as_of_dates: list[str] = []
    """Extra RFG snapshot dates (ISO). The day after the extract's last incident is always scored."""
    use_selection_dates: bool = True
    """Also snapshot RFG at every programme selection date, so each past selection can be reproduced."""
    rfg_lookback_days: int = 730
    """History scored for RFG: 24 months (the MATAC/IOM notion of recent serial offending)."""
    rfg_recency_band_days: list[int] = [90, 180, 365, 545]
    """Recency score 5 for ≤90 days since the last DA incident, 4 ≤180, 3 ≤365, 2 ≤545, else 1."""
    rfg_frequency_band_counts: list[int] = [2, 3, 5, 8]
    """Frequency score 1 for one incident in the lookback, 2 for 2, 3 for 3–4, 4 for 5–7, 5 for ≥8."""
    rfg_gravity_measure: str = "css"
    """`css` (ONS Crime Severity Score), `cchi` (Cambridge Crime Harm Index) or `bespoke` (a `gravity`
    column on the incidents)."""
    rfg_gravity_band_values: list[float] = []
    """Fixed gravity thresholds (4 values → scores 1–5). Empty = quintiles of the eligible pool at each
    as-of date (scale-free; the thresholds used are stored with the snapshot)."""
    rfg_weights: list[float] = [1.0, 1.0, 1.0]
    """Weights of recency, frequency and gravity in the RFG score."""
    rfg_ranking: str = "rfg"
    """`rfg`, or `rfgv` (MATAC): adds a victims term (distinct DA victims in three years; 1..5 for 1, 2, 3,
    4, ≥5). The ranking used is written into every snapshot."""
    reporting_lag_days: int = 90
    """Knowledge time: outcomes count incidents committed in their window and reported within this many
    days of its close; windows closing later than the extract's end less the lag are cut there. Everything
    "as of" a date (eligibility, RFG, matching covariates, pre-periods) uses what was reported by then."""
    matching_covariates: list[str] = list(COVARIATE_GROUPS)
    """Covariate groups matched on (those the extract lacks are skipped and named in the report): rfg,
    trajectory, harm_history, age, risk_grade, non_da, custody, victims."""
    outcome_adjustment: bool = True
    """Bias-corrected matching (Abadie & Imbens 2011): a ridge rate model on the matched comparisons moves each
    comparison's outcome to its treated person's covariates, re-fitted in every replicate of the interval. `false`
    gives the plain matched estimates. The placebo DiD is never adjusted (it checks the matching)."""
    outcome_ridge: float | None = None
    """Ridge penalty of that rate model; `null` (default) chooses it in every fit by generalised
    cross-validation, a number fixes it (1.0 was the default before)."""
    ipcw_max_weight: float = 10.0
    """Cap on a comparison person's inverse-probability-of-censoring weight."""
    matched_bootstrap_reps: int = 199
    """Replicates behind the matched interval (each re-runs propensity, matching, IPCW and outcome models)."""
    matched_interval: str = "half_sample"
    """`half_sample`: the matched interval from half-samples of people drawn without replacement (delete-half
    jackknife; valid for matching with replacement). `bootstrap`: the plain bootstrap of people (not valid
    for matching with replacement; too narrow on the generator's extracts), for comparison."""
    library_estimator: bool = True
    """Publish Callaway–Sant'Anna (diff-diff) beside the matched DiD."""
    library_method: str = "dr"
    """The library's estimator in each cell: `dr` (doubly robust; default), `reg` (outcome regression) or
    `ipw`. `reg` leaned towards a harm on the generator's extracts (docs/evaluation.md)."""
    library_bootstrap_reps: int = 99
    """Resamples of people behind the library estimate's bootstrap-t interval (each refits the library);
    0 gives the library's own normal interval (too narrow in the simulation study)."""
    power_few_top_n: int = 100
    concentration_top_ns: list[int] = [100, 200]
    window_days: int = 365
    """Reoffending window and the 12-month before/during/after periods."""
    block_months: int = 6
    """Length of a harm block (six months in seed 002)."""
    n_blocks: int = 4
    """Blocks shown each side of a stage anchor in harm_blocks."""
    did_blocks: int = 2
    """Blocks each side entering the effect estimates (2 × 6 months = 12 months before vs after)."""
    n_matches: int = 3
    """Comparison people per treated person (nearest neighbours on the logit propensity, with replacement)."""
    caliper_sd: float = 0.2
    """Caliper in pooled SDs of the logit propensity (Austin 2011)."""
    candidate_pool_top_n: int = 2000
    """Candidates per as-of date: at least this many of the top RFG ranks (more if a treated person ranks lower)."""
    pre_blocks: int = 4
    """Six-month blocks of pre-period DA incident counts matched on (the pre-period trajectory)."""
    later_selection: str = "ipcw"
    """Comparison people selected later: `ipcw` (censor at that date and re-weight those still unselected),
    `censor` (without re-weighting) or `keep` their outcomes (biased towards no effect)."""
    bootstrap_reps: int = 999
    seed: int = 12345
    per_protocol_stage: str = "full_engagement_on"
    """Stage that counts as 'received' for the RCT per-protocol contrast."""
    invalid_participants: str = "fail"
    """`fail`: a participant missing from the extract or with stage dates out of order stops the run with a
    message naming them. `exclude`: drop those rows, carry on, and fail the blocking check."""
    small_cell_threshold: int = 5
    """Cells under this many people are suppressed in the report (flagged `is_small_cell` in tables)."""

    def to_evaluation_config(self) -> EvaluationConfig:
        rfg = RFGConfig(
            lookback_days=self.rfg_lookback_days,
            recency_band_days=tuple(self.rfg_recency_band_days),
            frequency_band_counts=tuple(self.rfg_frequency_band_counts),
            gravity_measure=self.rfg_gravity_measure,
            gravity_band_values=tuple(self.rfg_gravity_band_values) if self.rfg_gravity_band_values else None,
            weights=tuple(self.rfg_weights),
            ranking=self.rfg_ranking,
        )
        matching = MatchingConfig(
            n_matches=self.n_matches,
            caliper_sd=self.caliper_sd,
            pre_blocks=self.pre_blocks,
            block_days=int(round(self.block_months * 30.4375)),
            candidate_pool_top_n=self.candidate_pool_top_n,
            covariates=tuple(self.matching_covariates),
            ipcw_max_weight=self.ipcw_max_weight,
            outcome_adjustment=self.outcome_adjustment,
            outcome_ridge=self.outcome_ridge,
        )
        return EvaluationConfig(
            rfg=rfg,
            matching=matching,
            window_days=self.window_days,
            block_months=self.block_months,
            n_blocks=self.n_blocks,
            did_blocks=self.did_blocks,
            bootstrap_reps=self.bootstrap_reps,
            matched_bootstrap_reps=self.matched_bootstrap_reps,
            matched_interval=self.matched_interval,
            reporting_lag_days=self.reporting_lag_days,
            library_estimator=self.library_estimator,
            library_method=self.library_method,
            library_bootstrap_reps=self.library_bootstrap_reps,
            seed=self.seed,
            as_of_dates=tuple(self.as_of_dates),
            snapshot_selection_dates=self.use_selection_dates,
            power_few_top_n=self.power_few_top_n,
            concentration_top_ns=tuple(self.concentration_top_ns),
            per_protocol_stage=self.per_protocol_stage,
            invalid_participants=self.invalid_participants,
            small_cell_threshold=self.small_cell_threshold,
            later_selection=self.later_selection,
        )


# Every offender known to the extract, sorted, with its position: incident, custody and victim rows are read
# with this integer code instead of a string per row (a national extract has tens of millions of rows).
_OFFENDER_CODES = """
    SELECT offender_id, (row_number() OVER (ORDER BY offender_id) - 1)::INTEGER AS _code
    FROM (SELECT offender_id FROM marts.dim_offenders UNION SELECT offender_id FROM marts.fct_incidents)
    WHERE offender_id IS NOT NULL
"""


def _offender_ids(con) -> pd.Index:
    ids = con.execute(f"SELECT offender_id FROM ({_OFFENDER_CODES}) ORDER BY _code").fetchnumpy()[
        "offender_id"
    ]
    return pd.Index(ids.astype(object))


def _coded(frame: pd.DataFrame, ids: pd.Index, column: str = "offender_id") -> pd.DataFrame:
    """Replace the integer ``_code`` column by ``column``, a categorical over ``ids`` (NaN where NULL)."""
    codes = frame.pop("_code").fillna(-1).to_numpy(dtype=np.int32)
    frame.insert(0, column, pd.Categorical.from_codes(codes, categories=ids))
    return frame


def _read_incidents(con, ids: pd.Index) -> pd.DataFrame:
    """The columns of marts.fct_incidents the evaluation uses, in compact types: ``offender_id`` and
    ``risk_level`` categorical, flags as booleans (NULL read as false, as the evaluation treats them), in
    the order ``read_table`` gives, so cumulative sums add in the same order. Only the rows' values are
    read; no Python string per row."""
    has = {c for c in [*_INCIDENT_COLUMNS, "gravity"] if _has_column(con, "marts.fct_incidents", c)}
    order = [c for c in [*_INCIDENT_COLUMNS, "gravity"] if c in has]
    if order[:1] != ["offender_id"]:
        raise ValueError("marts.fct_incidents has no offender_id column")
    select = ["c._code"]
    for name in order[1:]:
        if name in ("is_da", "is_non_crime"):
            select.append(f"coalesce(i.{name}, false) AS {name}")
        elif name == "risk_level":
            levels = [
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT risk_level FROM marts.fct_incidents WHERE risk_level IS NOT NULL ORDER BY 1"
                ).fetchall()
            ]
            select.append("(list_position(?, i.risk_level) - 1)::TINYINT AS _risk")
        else:
            select.append(f"i.{name}")
    sql = (
        f"SELECT {', '.join(select)} FROM marts.fct_incidents i "
        f"LEFT JOIN ({_OFFENDER_CODES}) c USING (offender_id) ORDER BY {', '.join(f'i.{c}' for c in order)}"
    )
    params = [levels] if "risk_level" in has else []
    frame = _coded(con.execute(sql, params).df(), ids)
    if "risk_level" in has:
        risk = frame.pop("_risk").fillna(-1).to_numpy(dtype=np.int8)
        frame["risk_level"] = pd.Categorical.from_codes(risk, categories=pd.Index(levels, dtype=object))
    return frame


def _read_inputs(con) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    incidents = _read_incidents(con, _offender_ids(con))
    offenders = read_table(
        con,
        "marts.dim_offenders",
        [c for c in _OFFENDER_COLUMNS if _has_column(con, "marts.dim_offenders", c)],
    )
    cols = [c for c in _PARTICIPANT_COLUMNS if _has_column(con, "marts.dim_programme_participants", c)]
    participants = read_table(con, "marts.dim_programme_participants", cols)
    return incidents, offenders, participants


def _read_context(con, ids: pd.Index | None = None) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Custody arrests and DA victims per incident, when the extract has them (optional inputs of the
    matching covariates and of RFGV), offenders coded as in ``_read_incidents`` and victims by their
    position in the sorted victim ids."""
    ids = _offender_ids(con) if ids is None else ids
    custody = None
    if _has_column(con, "staging.stg_wmp__custody", "arrested_at"):
        custody = _coded(
            con.execute(
                "SELECT c._code, CAST(a.arrested_at AS DATE) AS arrested_on FROM staging.stg_wmp__custody a "
                f"LEFT JOIN ({_OFFENDER_CODES}) c ON c.offender_id = a.person_id "
                "WHERE a.arrested_at IS NOT NULL ORDER BY a.person_id, arrested_on"
            ).df(),
            ids,
        )
    victims = None
    if _has_column(con, "staging.stg_wmp__victims", "person_id") and _has_column(
        con, "marts.fct_offences", "incident_id"
    ):
        victims = _coded(
            con.execute(
                "SELECT c._code, p.victim_id, p.started_on, p.reported_at FROM ("
                "SELECT DISTINCT o.offender_id, dense_rank() OVER (ORDER BY v.person_id)::INTEGER AS victim_id, "
                "i.started_on, i.reported_at "
                "FROM marts.fct_offences o JOIN staging.stg_wmp__victims v USING (crime_number) "
                "JOIN marts.fct_incidents i USING (incident_id) WHERE i.is_da AND v.person_id IS NOT NULL) p "
                f"LEFT JOIN ({_OFFENDER_CODES}) c USING (offender_id) WHERE p.offender_id IS NOT NULL ORDER BY ALL"
            ).df(),
            ids,
        )
    return custody, victims


def _sources(con, incidents, offenders):
    ids = incidents["offender_id"].cat.categories if len(incidents) else None
    custody, victims = _read_context(con, ids)
    return build_sources(incidents, offenders, custody, victims)


def _power_few_from_warehouse(con, top_n: int) -> pd.DataFrame:
    """``power_few`` of analytics.rfg_scores with only its top-N rows read (the same rows and order as
    ``power_few(read_table(con, "analytics.rfg_scores"), top_n)``)."""
    top = con.execute(
        "SELECT * FROM analytics.rfg_scores WHERE rfg_rank <= ? ORDER BY ALL", [int(top_n)]
    ).df()
    return power_few(top, top_n)


def _concentration_from_warehouse(con, top_ns) -> pd.DataFrame:
    """``concentration`` of analytics.rfg_scores, one as-of date at a time and only the four columns it
    sums, in the order ``read_table`` gives (offender_id within a date), so the figures are the same to the
    last bit as over the whole table read at once, which at national scale is gigabytes."""
    days = [
        r[0]
        for r in con.execute("SELECT DISTINCT as_of_date FROM analytics.rfg_scores ORDER BY 1").fetchall()
    ]

    def snapshots():
        for day in days:
            yield con.execute(
                "SELECT as_of_date, rfg_rank, n_da_incidents_lookback, gravity_lookback, gravity_measure "
                "FROM analytics.rfg_scores WHERE as_of_date = ? ORDER BY offender_id",
                [day],
            ).df()

    return concentration_by_snapshot(snapshots(), top_ns=top_ns)


def _has_column(con, relation: str, column: str) -> bool:
    schema, name = relation.split(".", 1)
    row = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = ? AND table_name = ? AND column_name = ?",
        [schema, name, column],
    ).fetchone()
    return bool(row and row[0])


def _input_hashes(con) -> dict[str, str]:
    if not table_exists(con, "raw._load_log"):
        return {}
    log = con.execute("SELECT table_name, sha256 FROM raw._load_log WHERE sha256 IS NOT NULL").df()
    return dict(zip(log["table_name"], log["sha256"], strict=True))


# --- RFG ------------------------------------------------------------------------------------------------
@dg.asset(
    key=RFG_SCORES,
    deps=[*INPUTS, *CONTEXT_INPUTS],
    code_version=CODE_VERSION,
    group_name=GROUP,
    description="RFG snapshots: every eligible DA perpetrator scored and ranked at each as-of date.",
)
def rfg_scores(
    context: dg.AssetExecutionContext, config: EvaluationAssetConfig, platform: PlatformResource
) -> dg.MaterializeResult:

    eval_config = config.to_evaluation_config()
    con = platform.connect()
    try:
        incidents, offenders, participants = _read_inputs(con)
        sources = _sources(con, incidents, offenders)
        del incidents  # the indexes hold what is read of it
        scores = score_snapshots(sources, participants, eval_config)
        rows = write_table(con, "analytics.rfg_scores", scores)
    finally:
        con.close()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "as_of_dates": dg.MetadataValue.json(sorted({str(d)[:10] for d in scores["as_of_date"]})),
            "config_fingerprint": eval_config.rfg.fingerprint(),
            "gravity_measure": eval_config.rfg.measure(),
            "ranking": str(scores["ranking"].iloc[0]) if len(scores) else eval_config.rfg.ranking.upper(),
        }
    )


@dg.asset(
    key=POWER_FEW,
    deps=[RFG_SCORES],
    code_version=CODE_VERSION,
    group_name=GROUP,
    description="The power few: the top-N of each RFG snapshot with every component visible.",
)
def power_few_list(config: EvaluationAssetConfig, platform: PlatformResource) -> dg.MaterializeResult:
    con = platform.connect()
    try:
        top = _power_few_from_warehouse(con, config.power_few_top_n)
        rows = write_table(con, "analytics.power_few", top)
    finally:
        con.close()
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "top_n": config.power_few_top_n})


@dg.asset(
    key=CONCENTRATION,
    deps=[RFG_SCORES],
    code_version=CODE_VERSION,
    group_name=GROUP,
    description="Share of DA incidents and harm in the lookback caused by the top 1%, 5%, 10% and top N.",
)
def concentration_figures(config: EvaluationAssetConfig, platform: PlatformResource) -> dg.MaterializeResult:
    con = platform.connect()
    try:
        conc = _concentration_from_warehouse(con, config.concentration_top_ns)
        rows = write_table(con, "analytics.concentration", conc)
    finally:
        con.close()
    latest = conc.loc[(conc["as_of_date"] == conc["as_of_date"].max()) & (conc["ranked_by"] == "harm")]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "latest_harm_shares": dg.MetadataValue.json(
                {r.group: round(float(r.share_of_harm), 3) for r in latest.itertuples(index=False)}
            ),
        }
    )


# --- The programme evaluation (one computation, many tables) --------------------------------------------
@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            analytics(name),
            deps=[*INPUTS, *CONTEXT_INPUTS, RFG_SCORES],
            code_version=CODE_VERSION,
            group_name=GROUP,
            description=f"Outcome evaluation: {name.replace('_', ' ')}.",
        )
        for name in PROGRAMME_TABLES
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "participants_valid",
            asset=analytics("effect_estimates"),
            blocking=True,
            description="Every participant is in the extract and has stage dates in order.",
        ),
        dg.AssetCheckSpec(
            "effect_estimates_valid",
            asset=analytics("effect_estimates"),
            blocking=True,
            description="Every estimated effect has a finite interval that contains it and a p-value in "
            "[0, 1]; every row has a status (blocking: otherwise a published number is wrong).",
        ),
        dg.AssetCheckSpec(
            "effect_estimates_estimable",
            asset=analytics("effect_estimates"),
            description="Every effect could be estimated on this data (WARN: names each one that could "
            "not, and why; its row is published without figures).",
        ),
        dg.AssetCheckSpec(
            "balance_smd_below_0_1",
            asset=analytics("balance"),
            description="All |SMD| < 0.1 after matching (WARN).",
        ),
        dg.AssetCheckSpec(
            "censoring_reported",
            asset=analytics("reoffending_rates"),
            description="Every reoffending rate states how many people were censored.",
        ),
    ],
)
def programme_evaluation(
    context: dg.AssetExecutionContext, config: EvaluationAssetConfig, platform: PlatformResource
):
    """Reoffending, harm blocks, effect estimates, balance, equality and the funnel for every programme."""
    eval_config = config.to_evaluation_config()
    con = platform.connect()
    try:
        incidents, offenders, participants = _read_inputs(con)
        sources = _sources(con, incidents, offenders)
        del incidents  # the indexes hold what the evaluation reads of it
        result = run_evaluation(
            None,
            offenders,
            participants,
            eval_config,
            # RFG is scored once, by the rfg_scores asset: only its two summaries are read back here
            rfg_summaries=(
                _power_few_from_warehouse(con, eval_config.power_few_top_n),
                _concentration_from_warehouse(con, eval_config.concentration_top_ns),
            ),
            sources=sources,
        )
        tables = result.tables()
        tables["evaluation_summary"] = summary_table(result)
        written = {name: write_table(con, f"analytics.{name}", tables[name]) for name in PROGRAMME_TABLES}
    finally:
        con.close()
    for name in PROGRAMME_TABLES:
        metadata = {"dagster/row_count": written[name]}
        if name == "effect_estimates":
            metadata["programmes"] = dg.MetadataValue.json(sorted(result.programmes))
            metadata["not_computed"] = dg.MetadataValue.json(result.messages)
            headline = tables[name].loc[
                tables[name]["design"].isin(["matched_did", "rct_itt", "naive_pre_post"])
                & (tables[name]["outcome"] == "da_incidents")
            ]
            metadata["headline"] = dg.MetadataValue.md(
                headline[["programme", "design", "estimand", "estimate", "ci_low", "ci_high"]].to_markdown(
                    index=False
                )
                if _has_tabulate()
                else headline.to_string(index=False)
            )
        if name == "reoffending_rates":
            metadata["n_censored_total"] = int(tables[name]["n_censored"].sum())
        yield dg.MaterializeResult(asset_key=analytics(name), metadata=metadata)

    problems = result.participant_problems
    yield dg.AssetCheckResult(
        check_name="participants_valid",
        asset_key=analytics("effect_estimates"),
        passed=bool(len(problems) == 0),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "n_problems": len(problems),
            "problems": dg.MetadataValue.json(problems.head(50).to_dict(orient="records")),
        },
    )
    effects = tables["effect_estimates"]
    invalid = invalid_effect_rows(effects)
    yield dg.AssetCheckResult(
        check_name="effect_estimates_valid",
        asset_key=analytics("effect_estimates"),
        passed=bool(invalid.empty),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "n_rows": len(effects),
            "n_invalid": len(invalid),
            "invalid": dg.MetadataValue.json(
                invalid[["programme", "design", "outcome", "estimate", "ci_low", "ci_high", "p_value"]]
                .head(20)
                .astype(str)
                .to_dict(orient="records")
            ),
        },
    )
    lines = not_estimable(effects, ("programme", "design", "outcome"))
    yield dg.AssetCheckResult(
        check_name="effect_estimates_estimable",
        asset_key=analytics("effect_estimates"),
        passed=not lines,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(lines) if lines else None,
        metadata={
            "n_rows": len(effects),
            "n_not_estimable": len(lines),
            "not_estimable": dg.MetadataValue.json(lines),
        },
    )
    balance = tables["balance"]
    worst = float(balance["smd_after"].abs().max()) if len(balance) else 0.0
    yield dg.AssetCheckResult(
        check_name="balance_smd_below_0_1",
        asset_key=analytics("balance"),
        passed=bool(worst < 0.1),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "worst_abs_smd_after": worst,
            "over_0_1": dg.MetadataValue.json(
                balance.loc[
                    balance["smd_after"].abs() >= 0.1, ["programme", "covariate", "smd_after"]
                ].to_dict(orient="records")
                if len(balance)
                else []
            ),
        },
    )
    rates = tables["reoffending_rates"]
    yield dg.AssetCheckResult(
        check_name="censoring_reported",
        asset_key=analytics("reoffending_rates"),
        passed=bool(len(rates) and rates["n_censored"].notna().all()),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "n_censored_total": int(rates["n_censored"].sum()) if len(rates) else 0,
            "share_censored_max": float(
                (rates["n_censored"] / (rates["n_people"] + rates["n_censored"]).where(lambda s: s > 0)).max()
            )
            if len(rates)
            else 0.0,
        },
    )


def invalid_effect_rows(effects: pd.DataFrame) -> pd.DataFrame:
    """Rows of effect_estimates that would publish a wrong number: an estimated row whose interval is not
    finite or does not contain its estimate, or whose p-value lies outside [0, 1]; or a row without a
    status."""
    status = effects["status"] if "status" in effects else pd.Series("", index=effects.index)
    estimated = status == ESTIMATED
    figures = effects[["estimate", "ci_low", "ci_high", "p_value"]].apply(pd.to_numeric, errors="coerce")
    slack = 1e-9 * figures["estimate"].abs()  # rounding, not a wrong number
    contains = (figures["ci_low"] <= figures["estimate"] + slack) & (
        figures["estimate"] <= figures["ci_high"] + slack
    )
    p_ok = figures["p_value"].isna() | figures["p_value"].between(0, 1)
    return effects.loc[(estimated & ~(contains & p_ok)) | ~status.isin([ESTIMATED, NOT_ESTIMABLE])]


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401

        return True
    except ImportError:
        return False


@dg.asset(
    key=REPORT,
    deps=[analytics(n) for n in PROGRAMME_TABLES] + [CONCENTRATION],
    code_version=CODE_VERSION,
    group_name=GROUP,
    description="One HTML evaluation report per programme (<output>/evaluation/<programme>.html).",
)
def evaluation_report(
    context: dg.AssetExecutionContext, config: EvaluationAssetConfig, platform: PlatformResource
) -> dg.MaterializeResult:
    from ml.evaluation.report import evaluation_report as programme_page
    from ml.evaluation.report import population_report
    from ml.reporting import Lineage

    con = platform.connect()
    try:
        names = PROGRAMME_TABLES + ["concentration"]
        tables = {n: read_table(con, f"analytics.{n}") for n in names}  # declared deps: each must exist
        tables["summary"] = tables.pop("evaluation_summary")
        lineage = Lineage(run_id=context.run_id, code_version=CODE_VERSION, input_hashes=_input_hashes(con))
    finally:
        con.close()
    result = result_from_tables(tables)
    paths = {}
    if result.programmes:
        for programme in result.programmes:
            page = programme_page(result, programme, lineage, config.small_cell_threshold)
            path = platform.output_path("evaluation", f"{_slug(programme)}.html")
            path.write_text(page, encoding="utf-8")
            paths[programme] = str(path)
    else:
        path = platform.output_path("evaluation", "population.html")
        path.write_text(population_report(result, lineage, config.small_cell_threshold), encoding="utf-8")
        paths["population"] = str(path)
    return dg.MaterializeResult(metadata={"reports": dg.MetadataValue.json(paths)})


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "programme"


ASSETS = [rfg_scores, power_few_list, concentration_figures, programme_evaluation, evaluation_report]
ASSET_CHECKS: list = []

defs = dg.Definitions(assets=ASSETS, asset_checks=ASSET_CHECKS)
