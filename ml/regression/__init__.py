"""Section C of seed 000: how non-DA offending and the first risk assessment relate to total DA harm.

Pure functions on pandas frames and numpy/scipy arrays (no Dagster, no dbt), split by concern:

* :mod:`~ml.regression.constants` — the seed's choices (200 of 145,392 offenders, alpha, 500 points), roles;
* :mod:`~ml.regression.design` — the population (DA perpetrators), sparse offender × offence indicator
  matrices, controls (the non-linear non-DA volume steps) and the exposure steps;
* :mod:`~ml.regression.ols` — the sparse OLS engine: HC0/HC1/HC3 and classical standard errors, leverage-one
  rows handled term by term;
* :mod:`~ml.regression.tweedie` — the heavy-tail sensitivity fit (Tweedie GLM, log link, sandwich SEs);
* :mod:`~ml.regression.tables` — coefficient tables with status and reason, Benjamini–Hochberg q-values, the
  report's presentation filter (q < alpha by default, raw p beside), summaries, model fit;
* :mod:`~ml.regression.section_c` — the models: headline (the report's, unadjusted), adjusted and heavy-tail
  sensitivity fits, the time-ordered variant, all through :mod:`ml.estimability`;
* :mod:`~ml.regression.risk_validation` — the three risk models and the first-grade descriptives;
* :mod:`~ml.regression.simulate` — simulated inputs with planted effects (tests, benchmarks).

Every public name is importable from ``ml.regression`` itself.
"""

from ml.regression.constants import (
    DEFAULT_ALPHA,
    DEFAULT_SIGNIFICANCE,
    HIGH_HARM_THRESHOLD,
    OUTCOME,
    REPORT_MIN_OFFENDERS,
    REPORT_N_OFFENDERS,
    RISK_LEVELS,
    ROLE_ADJUSTED,
    ROLE_HEADLINE,
    ROLE_HEAVY_TAIL,
    ROLE_RISK,
    ROLE_TIME_ORDERED,
    SE_TYPES,
    SENSITIVITY_FAMILIES,
    SIGNIFICANCE_COLUMNS,
    scaled_min_offenders,
)
from ml.regression.design import (
    DEFAULT_CONTROLS,
    DERIVED_CONTROLS,
    EXPOSURE_EDGES_YEARS,
    NON_DA_VOLUME,
    NON_DA_VOLUME_EDGES,
    IndicatorDesign,
    da_perpetrators,
    exposure_steps,
    indicator_design,
    non_da_offences,
    non_da_volume_steps,
    population_counts,
    resolve_controls,
    step_function,
)
from ml.regression.ols import LEVERAGE_ONE_TOL, RegressionFit, fit_ols, terms_identified_only_by
from ml.regression.risk_validation import (
    RISK_MODELS,
    VALIDATION_COLUMNS,
    fit_risk_models,
    risk_assessment_validation,
    risk_model_designs,
)
from ml.regression.section_c import (
    EXPOSURE_COLUMN,
    DesignParts,
    IndicatorModelSpec,
    SectionCResults,
    fit_indicator_model,
    fit_section_c,
    indicator_model_design,
    time_ordered_design,
)
from ml.regression.simulate import simulate_section_c_inputs, simulate_time_order
from ml.regression.tables import (
    MODEL_FIT_COLUMNS,
    RESULT_COLUMNS,
    bh_qvalues,
    coefficient_table,
    compare_sensitivity,
    model_fit_table,
    p_band,
    presentation_filter,
    residual_sample,
    significance_summary,
    top_significant,
)
from ml.regression.tweedie import fit_tweedie

__all__ = [
    "DEFAULT_ALPHA", "DEFAULT_CONTROLS", "DEFAULT_SIGNIFICANCE", "DERIVED_CONTROLS", "EXPOSURE_COLUMN",
    "EXPOSURE_EDGES_YEARS", "HIGH_HARM_THRESHOLD", "LEVERAGE_ONE_TOL", "MODEL_FIT_COLUMNS", "NON_DA_VOLUME",
    "NON_DA_VOLUME_EDGES", "OUTCOME", "REPORT_MIN_OFFENDERS", "REPORT_N_OFFENDERS", "RESULT_COLUMNS",
    "RISK_LEVELS", "RISK_MODELS", "ROLE_ADJUSTED", "ROLE_HEADLINE", "ROLE_HEAVY_TAIL", "ROLE_RISK",
    "ROLE_TIME_ORDERED", "SENSITIVITY_FAMILIES", "SE_TYPES", "SIGNIFICANCE_COLUMNS", "VALIDATION_COLUMNS",
    "DesignParts", "IndicatorDesign", "IndicatorModelSpec", "RegressionFit", "SectionCResults",
    "bh_qvalues", "coefficient_table", "compare_sensitivity", "da_perpetrators", "exposure_steps",
    "fit_indicator_model", "fit_ols", "fit_risk_models", "fit_section_c", "fit_tweedie", "indicator_design",
    "indicator_model_design", "model_fit_table", "non_da_offences", "non_da_volume_steps", "p_band",
    "population_counts", "presentation_filter", "residual_sample", "resolve_controls",
    "risk_assessment_validation", "risk_model_designs", "scaled_min_offenders", "significance_summary",
    "simulate_section_c_inputs", "simulate_time_order", "step_function", "terms_identified_only_by",
    "time_ordered_design", "top_significant",
]  # fmt: skip
