"""Section C regressions as assets: read the offender and offence marts, call ``ml.regression``, write the
``analytics`` tables, render the report section. Thin on purpose: the statistics live in ``ml/``.

Population: DA perpetrators (``n_da_incidents > 0`` in ``marts.dim_offenders``). Models: the report's
headline (unadjusted), the adjusted and heavy-tail sensitivity fits and the time-ordered variant (from
``marts.dim_da_onset`` and ``marts.fct_pre_da_offences``), and the risk models (``ml/regression``).

Assets
  analytics/regression_results            model × term (architecture spec columns + classical SEs beside,
                                          role, status and reason)
  analytics/regression_model_fit          model: role, status, n, R², residual diagnostics, controls, threshold
  analytics/regression_residual_sample    a sample of (fitted, residual, leverage) per OLS model, no ids
  analytics/risk_assessment_validation    first-grade descriptives (section, group, measure, value, n)
  reports/regression                      the HTML report section (``<output>/regression.html``)
"""

import dagster as dg
import numpy as np
import pandas as pd

from ml import regression as reg
from ml.estimability import ESTIMATED, not_estimable
from orchestration.keys import analytics, mart, report
from orchestration.lib.code_version import source_version
from orchestration.lib.warehouse_io import read_table, write_table
from orchestration.resources import PlatformResource

CODE_VERSION = source_version(__name__, "ml.regression", "ml.regression_report", "ml.reporting")

RESULTS = analytics("regression_results")
MODEL_FIT = analytics("regression_model_fit")
RESIDUALS = analytics("regression_residual_sample")
VALIDATION = analytics("risk_assessment_validation")
REPORT = report("regression")

_OFFENDER_COLUMNS = [
    "offender_id", "total_da_severity", "first_da_risk_level", "first_da_incident_severity",
    "first_non_crime_da_risk_level", "n_risk_assessments", "share_high_risk", "ever_high_risk",
    "n_non_da_incidents", "non_da_volume_band", "n_da_incidents",
]  # fmt: skip
_ONSET_COLUMNS = ["offender_id", "years_observed_from_first_da"]
_INPUTS = [mart("dim_offenders"), mart("fct_offences"), mart("dim_da_onset"), mart("fct_pre_da_offences")]


class RegressionConfig(dg.Config):
    """How Section C is fitted. Defaults reproduce the report's choices where it made one."""

    adjusted_controls: list[str] = list(reg.DEFAULT_CONTROLS)
    """Controls of the adjusted sensitivity models (`<view>_adjusted`); the headline models have none, as
    the report's. Default `non_da_volume_steps` (a step function of the number of non-DA incidents: none, 1,
    2, 3-4, 5-9, 10-19, 20-49, 50+); also `has_non_da_history`, `log1p_n_non_da_incidents`,
    `has_high_non_da_volume` or any numeric dim_offenders column. Never sex or ethnicity."""
    fit_adjusted: bool = True
    fit_time_ordered: bool = True
    """The time-ordered models (`<view>_pre_da`): non-DA offences reported before the first DA incident,
    with the years observed from it as the exposure term."""
    se_type: str = "HC3"
    """`HC3` (default), `HC3max` (larger of HC3 and classical, conservative for rare terms), `HC1`, `HC0`,
    `nonrobust`. Classical standard errors are always published beside. A term held by one offender
    (leverage 1) is not estimable on its own; the rest of its model keeps its standard errors."""
    alpha: float = reg.DEFAULT_ALPHA
    min_offenders: int | None = None
    """Presentation threshold; None = `min_offenders_base` × DA perpetrators / 145,392."""
    min_offenders_base: int = reg.REPORT_MIN_OFFENDERS
    min_offenders_to_fit_type: int = 1
    min_offenders_to_fit_code: int = 10
    """Specific offences held by fewer offenders are not fitted (their estimates would rest on a handful)."""
    sensitivity: str = "both"
    """Heavy-tail sensitivity fits of the headline design: `both` (Tweedie GLM and log1p OLS), `tweedie`,
    `log1p`, `none`."""
    tweedie_power: float = 1.5
    residual_sample_size: int = 2_000


class RiskValidationConfig(dg.Config):
    high_harm_threshold: float = reg.HIGH_HARM_THRESHOLD
    """Total DA severity counted as 'reaching' high harm (the report: 500, about one indecent assault)."""


class RegressionReportConfig(dg.Config):
    top_k: int = 10
    significance_column: str = reg.DEFAULT_SIGNIFICANCE
    """`q_value` (Benjamini–Hochberg across each model's offence terms; default, as 600+ codes are tested) or
    `p_value` (the report's own filter) for the tables' significance filter. Raw p is printed either way."""
    high_harm_threshold: float = reg.HIGH_HARM_THRESHOLD


def _read_offenders(con) -> pd.DataFrame:
    return read_table(con, "marts.dim_offenders", _OFFENDER_COLUMNS)


# The designs are offender × offence indicators (ml.regression.design.indicator_design): they read only the
# distinct (offender, offence) rows, so each is read once (DISTINCT in DuckDB), not once per crime record.
def _read_non_da_offences(con) -> pd.DataFrame:
    return con.execute(
        "SELECT DISTINCT offender_id, offence_code, offence_description, offence_type, is_da "
        "FROM marts.fct_offences WHERE NOT coalesce(is_da, false) ORDER BY ALL"
    ).df()


def _read_time_ordered(con) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``marts.dim_da_onset`` and ``marts.fct_pre_da_offences``: declared inputs, so a missing one is an
    error (it names the table), not a quietly thinner set of models."""
    onset = read_table(con, "marts.dim_da_onset", _ONSET_COLUMNS)
    pre = con.execute(
        "SELECT DISTINCT offender_id, offence_code, offence_description, offence_type "
        "FROM marts.fct_pre_da_offences ORDER BY ALL"
    ).df()
    return onset, pre


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            RESULTS,
            deps=_INPUTS,
            code_version=CODE_VERSION,
            description="Section C coefficients among DA perpetrators: the report's headline models "
            "(offence types, specific offences), adjusted, heavy-tail and time-ordered "
            "fits, risk grades; robust and classical SEs, BH q-values, status and reason.",
        ),
        dg.AssetSpec(
            MODEL_FIT,
            deps=_INPUTS,
            code_version=CODE_VERSION,
            description="One row per Section C model: role, status, n, R², residual diagnostics.",
        ),
        dg.AssetSpec(
            RESIDUALS,
            deps=_INPUTS,
            code_version=CODE_VERSION,
            description="A sample of fitted values and residuals per OLS model (no ids).",
        ),
    ],
    group_name="regression",
)
def regression_results(
    context: dg.AssetExecutionContext, config: RegressionConfig, platform: PlatformResource
):
    """Fit every Section C model and publish the coefficients, model fits and a residual sample."""
    con = platform.connect()
    try:
        offenders = _read_offenders(con)
        offences = _read_non_da_offences(con)
        onset, pre_da = _read_time_ordered(con) if config.fit_time_ordered else (None, None)
        extra = [
            c
            for c in config.adjusted_controls
            if c not in offenders.columns and c not in reg.DERIVED_CONTROLS
        ]
        if extra:
            offenders = offenders.merge(
                read_table(con, "marts.dim_offenders", ["offender_id", *extra]), on="offender_id"
            )
        section = reg.fit_section_c(
            offenders,
            offences,
            onset=onset,
            pre_da_offences=pre_da,
            adjusted_controls=config.adjusted_controls,
            fit_adjusted=config.fit_adjusted,
            fit_time_ordered=config.fit_time_ordered,
            se_type=config.se_type,
            alpha=config.alpha,
            min_offenders=config.min_offenders,
            min_offenders_base=config.min_offenders_base,
            min_offenders_to_fit_type=config.min_offenders_to_fit_type,
            min_offenders_to_fit_code=config.min_offenders_to_fit_code,
            sensitivity=config.sensitivity,
            tweedie_power=config.tweedie_power,
        )
        residuals = reg.residual_sample(section.fits, config.residual_sample_size)
        write_table(con, "analytics.regression_results", section.results)
        write_table(con, "analytics.regression_model_fit", section.model_fit)
        write_table(con, "analytics.regression_residual_sample", residuals)
    finally:
        con.close()
    fit = section.model_fit.set_index("model")
    meta: dict = {**section.population}
    for model in (
        "offence_type",
        "offence_code",
        "offence_type_adjusted",
        "offence_code_adjusted",
        "offence_type_pre_da",
        "offence_code_pre_da",
    ):
        rows = section.results.loc[section.results["model"] == model]
        if model not in fit.index or fit.loc[model, "status"] != "estimated" or rows.empty:
            continue
        summary = reg.significance_summary(rows, config.alpha)
        meta[f"{model}_n_obs"] = int(fit.loc[model, "n_obs"])
        meta[f"{model}_r_squared"] = float(fit.loc[model, "r_squared"])
        meta[f"{model}_n_terms"] = summary["n_terms"]
        meta[f"{model}_n_p_lt_alpha"] = summary["n_significant"]
        meta[f"{model}_n_q_lt_alpha"] = summary["n_q_lt_alpha"]
        meta[f"{model}_n_shown"] = len(reg.presentation_filter(rows, section.min_offenders, config.alpha))
    for model in ("risk_first_non_crime", "risk_first_da", "risk_share_high"):
        if model in fit.index and fit.loc[model, "status"] == "estimated":
            meta[f"{model}_n_obs"] = int(fit.loc[model, "n_obs"])
            meta[f"{model}_r_squared"] = float(fit.loc[model, "r_squared"])
    meta["models_not_estimable"] = ", ".join(m for m, _, _ in section.failed) or "none"
    meta["terms_not_estimable"] = int((section.results["status"] != "estimated").sum())
    meta["min_offenders_presentation"] = section.min_offenders
    meta["adjusted_controls"] = ", ".join(section.controls)
    meta["se_type"] = config.se_type
    context.log.info(
        f"Section C: {len(section.fits)} models fitted among {section.population['n_da_perpetrators']:,} DA "
        f"perpetrators ({section.population['n_without_da_incident']:,} people without a DA incident left "
        f"out); {len(section.failed)} not estimable; {len(section.results)} coefficient rows"
    )
    yield dg.MaterializeResult(
        asset_key=RESULTS,
        metadata={
            **meta,
            "dagster/row_count": len(section.results),
            "preview": dg.MetadataValue.md(_preview(section.results, section.min_offenders, config.alpha)),
        },
    )
    yield dg.MaterializeResult(
        asset_key=MODEL_FIT,
        metadata={
            "dagster/row_count": len(section.model_fit),
            "models": ", ".join(section.model_fit["model"]),
        },
    )
    yield dg.MaterializeResult(asset_key=RESIDUALS, metadata={"dagster/row_count": len(residuals)})


def _preview(results: pd.DataFrame, min_offenders: int, alpha: float) -> str:
    rows = reg.presentation_filter(results.loc[results["model"] == "offence_type"], min_offenders, alpha)
    if rows.empty:
        return f"No offence type passed the presentation filter (q < {alpha:g})."
    lines = ["| offence type | estimate | q | p | offenders |", "|---|---|---|---|---|"]
    for row in rows.itertuples():
        n = int(row.n_with_term)
        lines.append(
            f"| {row.term_label} | {row.estimate:,.1f} | {row.q_value:.3g} | {row.p_band} | "
            f"{n if n >= 5 else '<5'} |"
        )
    return "\n".join(lines)


@dg.asset(
    key=VALIDATION,
    # The typology is part of every platform run and always writes analytics.offender_clusters (empty when
    # it is not estimable: the per-cluster rows are then left out). A missing table is an error.
    deps=[mart("dim_offenders"), analytics("offender_clusters")],
    code_version=CODE_VERSION,
    group_name="regression",
    description="How predictive the first risk grade is of total DA harm among DA perpetrators, and the "
    "per-cluster share of high first grades (when the typology found clusters).",
)
def risk_assessment_validation(
    context: dg.AssetExecutionContext, config: RiskValidationConfig, platform: PlatformResource
) -> dg.MaterializeResult:
    con = platform.connect()
    try:
        offenders = reg.da_perpetrators(_read_offenders(con))
        clusters = read_table(con, "analytics.offender_clusters", ["offender_id", "cluster"])
        validation = reg.risk_assessment_validation(offenders, clusters, config.high_harm_threshold)
        write_table(con, "analytics.risk_assessment_validation", validation)
    finally:
        con.close()
    share = f"share_total_da_severity_ge_{config.high_harm_threshold:g}"
    meta: dict = {"dagster/row_count": len(validation), "clusters_included": bool(len(clusters))}
    for row in validation.loc[
        (validation["section"] == "first_da_grade") & (validation["measure"] == share)
    ].itertuples():
        meta[f"share_ge_threshold_first_grade_{row.group}"] = (
            float(row.value) if np.isfinite(row.value) else None
        )
    ratio = validation.loc[validation["measure"] == "ratio_median_total_da_severity", "value"]
    if len(ratio) and np.isfinite(ratio.iloc[0]):
        meta["ratio_median_ever_vs_never_high"] = float(ratio.iloc[0])
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    key=REPORT,
    deps=[RESULTS, MODEL_FIT, RESIDUALS, VALIDATION],
    code_version=CODE_VERSION,
    group_name="regression",
    description="The Section C report section (HTML): Figures 12 and 13 (headline), the adjusted, heavy-tail "
    "and time-ordered fits, risk grades, diagnostics.",
)
def regression_report(
    context: dg.AssetExecutionContext, config: RegressionReportConfig, platform: PlatformResource
) -> dg.MaterializeResult:
    from ml.regression_report import regression_report_html
    from ml.reporting import Lineage

    if config.significance_column not in reg.SIGNIFICANCE_COLUMNS:
        raise ValueError(
            f"regression_report config significance_column {config.significance_column!r}: must be one of "
            f"{', '.join(reg.SIGNIFICANCE_COLUMNS)}"
        )
    con = platform.connect(read_only=False)
    try:
        results = read_table(con, "analytics.regression_results")
        model_fit = read_table(con, "analytics.regression_model_fit")
        residuals = read_table(con, "analytics.regression_residual_sample")
        validation = read_table(con, "analytics.risk_assessment_validation")
    finally:
        con.close()
    controls = [c.strip() for c in str(model_fit["adjusted_controls"].iloc[0]).split(",") if c.strip()]
    page = regression_report_html(
        results,
        validation,
        model_fit,
        residuals,
        lineage=Lineage(run_id=context.run_id, code_version=CODE_VERSION),
        min_offenders=int(model_fit["min_offenders_presentation"].iloc[0]),
        alpha=float(model_fit["alpha"].iloc[0]),
        controls=controls,
        top_k=config.top_k,
        significance_column=config.significance_column,
        high_harm_threshold=config.high_harm_threshold,
    )
    path = platform.output_path("regression.html")
    path.write_text(page, encoding="utf-8")
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path)), "bytes": len(page)})


# --- Checks ---------------------------------------------------------------------------------------------
def _read(platform: PlatformResource, relation: str) -> pd.DataFrame:
    con = platform.connect(read_only=False)
    try:
        return read_table(con, relation)
    finally:
        con.close()


def _estimated(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows the blocking checks judge: a model or term the data cannot support is reported, not judged."""
    return frame.loc[frame["status"] == ESTIMATED] if "status" in frame else frame


@dg.asset_check(
    asset=MODEL_FIT,
    blocking=True,
    description="Every estimated model converged with finite residuals; offenders with leverage 1 only where "
    "the terms resting on them are reported not estimable; the headline models cover exactly the DA "
    "perpetrators (blocking: otherwise a published figure is wrong).",
)
def regression_residuals_finite(platform: PlatformResource) -> dg.AssetCheckResult:
    fit = _read(platform, "analytics.regression_model_fit")
    judged = _estimated(fit)
    unhandled = (judged["n_leverage_one"] > 0) & (judged["n_not_estimable_terms"] == 0)
    bad = judged.loc[~judged["residuals_finite"].astype(bool) | ~judged["converged"].astype(bool) | unhandled]
    headline = judged.loc[judged["role"] == reg.ROLE_HEADLINE]
    wrong_population = headline.loc[headline["n_obs"] != headline["n_da_perpetrators"]]
    return dg.AssetCheckResult(
        passed=bad.empty and wrong_population.empty,
        metadata={
            "n_models": len(fit),
            "n_estimated": len(judged),
            "failing_models": ", ".join(bad["model"]) or "none",
            "headline_not_on_da_perpetrators": ", ".join(wrong_population["model"]) or "none",
        },
    )


@dg.asset_check(
    asset=MODEL_FIT,
    description="Every Section C model and term could be estimated on this data (WARN: names each model or "
    "term that could not, and why; its rows are published without figures).",
)
def regression_estimable(platform: PlatformResource) -> dg.AssetCheckResult:
    fit = _read(platform, "analytics.regression_model_fit")
    results = _read(platform, "analytics.regression_results")
    models = not_estimable(fit, ("model",))
    terms = not_estimable(results.loc[results["term_kind"] != "model"], ("model", "term"))
    lines = models + terms
    return dg.AssetCheckResult(
        passed=not lines,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(lines[:50]) if lines else None,
        metadata={
            "n_models": len(fit),
            "n_not_estimable": len(models),
            "n_terms_not_estimable": len(terms),
            "not_estimable": dg.MetadataValue.json(models),
            "terms_not_estimable": dg.MetadataValue.json(terms[:200]),
        },
    )


@dg.asset_check(
    asset=RESULTS,
    blocking=True,
    description="No fitted offence indicator is all-zero (every term has offenders).",
)
def regression_no_empty_indicator(platform: PlatformResource) -> dg.AssetCheckResult:
    results = _read(platform, "analytics.regression_results")
    indicators = results.loc[results["term_kind"] == "indicator"]
    empty = indicators.loc[~(indicators["n_with_term"] >= 1)]
    return dg.AssetCheckResult(
        passed=empty.empty,
        metadata={
            "n_indicators": len(indicators),
            "n_empty": len(empty),
            "n_aliased": int((results["term_kind"] == "aliased").sum()),
        },
    )


@dg.asset_check(
    asset=RESULTS,
    blocking=True,
    description="Estimated terms have finite, positive SEs and intervals that contain the estimate; q-values "
    "in [p, 1]; not-estimable rows carry a reason and no figures (blocking).",
)
def regression_inference_valid(platform: PlatformResource) -> dg.AssetCheckResult:
    results = _read(platform, "analytics.regression_results")
    estimated = _estimated(results)
    bad_se = estimated.loc[~(np.isfinite(estimated["std_error"]) & (estimated["std_error"] > 0))]
    bad_ci = estimated.loc[
        ~((estimated["ci_low"] <= estimated["estimate"]) & (estimated["estimate"] <= estimated["ci_high"]))
    ]
    q = results.loc[results["q_value"].notna()]
    bad_q = q.loc[(q["q_value"] > 1 + 1e-12) | (q["q_value"] < q["p_value"] - 1e-12)]
    other = results.loc[results["status"] != ESTIMATED]
    bad_other = other.loc[(other["reason"].fillna("") == "") | other["estimate"].notna()]
    bad = pd.concat([bad_se, bad_ci, bad_other])
    return dg.AssetCheckResult(
        passed=bad.empty and bad_q.empty,
        metadata={
            "n_judged": len(estimated),
            "n_bad_se": len(bad_se),
            "n_bad_ci": len(bad_ci),
            "n_bad_q": len(bad_q),
            "n_not_estimable_without_reason_or_with_figures": len(bad_other),
            "bad_terms": ", ".join((bad["model"] + ":" + bad["term"]).head(20)) or "none",
        },
    )


@dg.asset_check(
    asset=VALIDATION,
    blocking=True,
    description="Every share lies in [0, 1] (blocking: otherwise a published number is wrong).",
)
def risk_validation_shares_in_range(platform: PlatformResource) -> dg.AssetCheckResult:
    validation = _read(platform, "analytics.risk_assessment_validation")
    shares = validation.loc[validation["measure"].str.startswith("share_"), "value"].dropna()
    outside = shares.loc[~((shares >= 0) & (shares <= 1))]
    return dg.AssetCheckResult(
        passed=outside.empty, metadata={"n_shares": len(shares), "n_outside": len(outside)}
    )


@dg.asset_check(
    asset=VALIDATION,
    description="Every risk grade is represented among first DA grades (WARN: a property of the data).",
)
def risk_validation_sane(platform: PlatformResource) -> dg.AssetCheckResult:
    validation = _read(platform, "analytics.risk_assessment_validation")
    first = validation.loc[(validation["section"] == "first_da_grade") & (validation["n_offenders"] > 0)]
    grades = set(first["group"])
    missing = [g for g in reg.RISK_LEVELS if g not in grades]
    return dg.AssetCheckResult(
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"no offender's first DA incident is graded {', '.join(missing)}" if missing else None,
        metadata={"n_rows": len(validation), "missing_grades": ", ".join(missing) or "none"},
    )


ASSETS = [regression_results, risk_assessment_validation, regression_report]
ASSET_CHECKS = [
    regression_residuals_finite,
    regression_estimable,
    regression_no_empty_indicator,
    regression_inference_valid,
    risk_validation_shares_in_range,
    risk_validation_sane,
]

defs = dg.Definitions(assets=ASSETS, asset_checks=ASSET_CHECKS)
