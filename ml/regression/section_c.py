"""Section C of seed 000 as the report meant it: which non-DA offending goes with high total DA harm, and
how well the first risk assessment predicts it.

Population: DA perpetrators (``n_da_incidents > 0``) with a known total DA severity. Models, per view
(``offence_type`` — Figure 12 — and ``offence_code`` — Figure 13):

* ``<view>`` — **headline**, the report's model: OLS of total DA severity on one indicator per non-DA
  offence in the offender's history, unadjusted. Each estimate is the association the report describes
  ("perpetrators with X in their history caused this much more DA harm"), volume of offending included.
* ``<view>_adjusted`` — **sensitivity: non-DA volume**. The same indicators at the same amount of non-DA
  offending: a step function of the number of non-DA incidents (none, 1, 2, 3–4, 5–9, 10–19, 20–49, 50+).
  More non-DA incidents mean more distinct offences by volume alone; this fit asks what an offence adds
  beyond that volume. It is not the report's quantity.
* ``<view>_log1p`` and ``<view>_tweedie`` — **sensitivity: heavy tail** of the headline design.
* ``<view>_pre_da`` — **time-ordered**: indicators of the non-DA offences reported *before* the first DA
  incident (``marts.fct_pre_da_offences``), total DA harm (all of it from the first DA incident on), and
  an exposure term: a step function of the years observed from the first DA report to the end of the
  extract (``marts.dim_da_onset``). Offending that followed the DA harm no longer counts as its predictor.

plus the three risk models (:mod:`ml.regression.risk_validation`). Each model is attempted through
:mod:`ml.estimability`: one that cannot be fitted on this data gets a model-fit row with status
``not estimable`` and the reason; a term resting on leverage-one rows is not estimable on its own while the
rest of its model keeps its standard errors (:mod:`ml.regression.ols`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ml.estimability import NotEstimable, attempt
from ml.regression.constants import (
    DEFAULT_ALPHA,
    HIGH_HARM_THRESHOLD,
    OUTCOME,
    REPORT_MIN_OFFENDERS,
    ROLE_ADJUSTED,
    ROLE_HEADLINE,
    ROLE_HEAVY_TAIL,
    ROLE_RISK,
    ROLE_TIME_ORDERED,
    SENSITIVITY_FAMILIES,
    scaled_min_offenders,
)
from ml.regression.design import (
    DEFAULT_CONTROLS,
    IndicatorDesign,
    da_perpetrators,
    exposure_steps,
    indicator_design,
    non_da_offences,
    outcome,
    population_counts,
    resolve_controls,
)
from ml.regression.ols import RegressionFit, fit_ols
from ml.regression.risk_validation import risk_assessment_validation, risk_model_fitters
from ml.regression.tables import coefficient_table, model_fit_table
from ml.regression.tweedie import fit_tweedie

EXPOSURE_COLUMN = "years_observed_from_first_da"


@dataclass
class IndicatorModelSpec:
    """One indicator model: which offence column defines the terms and what it controls for (nothing, for
    the headline model)."""

    name: str  # 'offence_type' or 'offence_code'
    term_column: str
    label_column: str | None
    controls: tuple[str, ...] = ()
    min_offenders_to_fit: int = 10


@dataclass
class DesignParts:
    """The pieces one model is assembled from (rows: the offenders in ``offender_ids`` order)."""

    offender_ids: np.ndarray
    y: np.ndarray
    indicators: IndicatorDesign
    covariates: pd.DataFrame = field(default_factory=pd.DataFrame)  # controls or exposure columns
    covariate_kind: str = "control"

    def assemble(self) -> tuple[sp.csr_matrix, list[str], list[str], np.ndarray, dict[str, str]]:
        """``[intercept | covariates | indicators]``, names, kinds, offenders per term, labels."""
        dense = np.column_stack([np.ones(len(self.y)), self.covariates.to_numpy(dtype=float)])
        X = sp.hstack([sp.csr_matrix(dense), self.indicators.matrix], format="csr")
        names = ["intercept", *self.covariates.columns, *self.indicators.terms]
        kinds = (
            ["intercept"]
            + [self.covariate_kind] * self.covariates.shape[1]
            + ["indicator"] * len(self.indicators.terms)
        )
        held = [float((self.covariates[c] != 0).sum()) for c in self.covariates.columns]
        n_with = np.array([np.nan, *held, *self.indicators.n_with_term], dtype=float)
        return X, names, kinds, n_with, self.indicators.labels


def _known_outcome(offenders: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    y = outcome(offenders)
    usable = np.isfinite(y)
    return offenders.loc[usable], y[usable]


def indicator_model_design(
    offenders: pd.DataFrame, offences_non_da: pd.DataFrame, spec: IndicatorModelSpec, controls=None
) -> tuple[sp.csr_matrix, np.ndarray, list[str], list[str], np.ndarray, dict[str, str]]:
    """``[intercept | controls | indicators]`` for the offenders with a known outcome, with the outcome.
    ``offenders`` should already be the population (:func:`ml.regression.design.da_perpetrators`)."""
    controls = spec.controls if controls is None else tuple(controls)
    offenders, y = _known_outcome(offenders)
    control_frame = resolve_controls(offenders, controls)
    ok = control_frame.notna().all(axis=1).to_numpy()
    offenders, y, control_frame = offenders.loc[ok], y[ok], control_frame.loc[ok]
    design = indicator_design(
        offenders["offender_id"].to_numpy(),
        offences_non_da,
        spec.term_column,
        spec.label_column,
        spec.min_offenders_to_fit,
    )
    parts = DesignParts(offenders["offender_id"].to_numpy(), y, design, control_frame.reset_index(drop=True))
    X, names, kinds, n_with, labels = parts.assemble()
    return X, y, names, kinds, n_with, labels


def _require_indicators(parts: DesignParts, spec: IndicatorModelSpec, what: str) -> None:
    if not parts.indicators.terms:
        raise NotEstimable(
            f"no {spec.term_column.replace('_', ' ')} among {what} is held by {spec.min_offenders_to_fit} or "
            "more DA perpetrators: no offence indicator to estimate"
        )


def fit_indicator_model(
    offenders: pd.DataFrame,
    offences_non_da: pd.DataFrame,
    spec: IndicatorModelSpec,
    *,
    se_type: str = "HC3",
    sensitivity: str = "both",
    tweedie_power: float = 1.5,
    adjusted_controls: Sequence[str] | None = DEFAULT_CONTROLS,
) -> list[RegressionFit]:
    """The fits of one view that can be estimated: headline (``spec.name``, with ``spec.controls`` — none
    by default), ``<name>_adjusted`` (``adjusted_controls``; None skips it) and the heavy-tail fits
    (``<name>_log1p``, ``<name>_tweedie``). :func:`fit_section_c` also records the ones that cannot."""
    fits = []
    for _, _, fitter in _view_fitters(
        offenders,
        offences_non_da,
        spec,
        se_type=se_type,
        sensitivity=sensitivity,
        tweedie_power=tweedie_power,
        adjusted_controls=adjusted_controls,
    ):
        result = attempt(f"Section C: {spec.name}", fitter)
        if result.ok:
            fits.append(result.value)
    return fits


Fitter = Callable[[], RegressionFit]


def _view_fitters(
    offenders: pd.DataFrame,
    offences_non_da: pd.DataFrame,
    spec: IndicatorModelSpec,
    *,
    se_type: str,
    sensitivity: str,
    tweedie_power: float,
    adjusted_controls: Sequence[str] | None,
) -> list[tuple[str, str, Fitter]]:
    """(model, role, fitter) for the headline, adjusted and heavy-tail fits of one view. The indicator
    matrix is built once and shared."""
    if sensitivity not in SENSITIVITY_FAMILIES:
        raise ValueError(f"sensitivity must be one of {SENSITIVITY_FAMILIES}")
    offenders, y = _known_outcome(offenders)
    ids = offenders["offender_id"].to_numpy()
    design = indicator_design(
        ids, offences_non_da, spec.term_column, spec.label_column, spec.min_offenders_to_fit
    )
    headline_controls = resolve_controls(offenders, spec.controls).reset_index(drop=True)
    headline = DesignParts(ids, y, design, headline_controls)
    what = "the non-DA offences"

    def ols(parts: DesignParts, model: str, role: str, transform=None) -> RegressionFit:
        _require_indicators(parts, spec, what)
        X, names, kinds, n_with, labels = parts.assemble()
        target = parts.y if transform is None else np.log1p(parts.y)
        out = OUTCOME if transform is None else f"log1p({OUTCOME})"
        return fit_ols(
            X,
            target,
            names,
            kinds=kinds,
            n_with_term=n_with,
            labels=labels,
            se_type=se_type,
            model=model,
            outcome=out,
            role=role,
        )

    def tweedie(parts: DesignParts, model: str) -> RegressionFit:
        _require_indicators(parts, spec, what)
        X, names, kinds, n_with, labels = parts.assemble()
        return fit_tweedie(
            X,
            parts.y,
            names,
            kinds=kinds,
            n_with_term=n_with,
            labels=labels,
            var_power=tweedie_power,
            model=model,
            role=ROLE_HEAVY_TAIL,
        )

    role = ROLE_HEADLINE if not spec.controls else ROLE_ADJUSTED
    fitters: list[tuple[str, str, Fitter]] = [(spec.name, role, lambda: ols(headline, spec.name, role))]
    if adjusted_controls:
        adjusted = DesignParts(
            ids, y, design, resolve_controls(offenders, adjusted_controls).reset_index(drop=True)
        )
        name = f"{spec.name}_adjusted"
        fitters.append((name, ROLE_ADJUSTED, lambda: ols(adjusted, name, ROLE_ADJUSTED)))
    if sensitivity in ("log1p", "both"):
        name_l = f"{spec.name}_log1p"
        fitters.append((name_l, ROLE_HEAVY_TAIL, lambda: ols(headline, name_l, ROLE_HEAVY_TAIL, np.log1p)))
    if sensitivity in ("tweedie", "both"):
        name_t = f"{spec.name}_tweedie"
        fitters.append((name_t, ROLE_HEAVY_TAIL, lambda: tweedie(headline, name_t)))
    return fitters


def time_ordered_design(
    offenders: pd.DataFrame, onset: pd.DataFrame, pre_da_offences: pd.DataFrame, spec: IndicatorModelSpec
) -> tuple[DesignParts, int]:
    """The time-ordered model's pieces: indicators of the non-DA offences reported before the first DA
    incident, the exposure steps, the outcome; and how many perpetrators had no onset row (0 when the marts
    agree, which a dbt test checks)."""
    offenders, y = _known_outcome(offenders)
    years = offenders[["offender_id"]].merge(
        onset[["offender_id", EXPOSURE_COLUMN]], on="offender_id", how="left", validate="one_to_one"
    )[EXPOSURE_COLUMN]
    known = pd.to_numeric(years, errors="coerce").notna().to_numpy()
    ids = offenders["offender_id"].to_numpy()[known]
    design = indicator_design(
        ids, pre_da_offences, spec.term_column, spec.label_column, spec.min_offenders_to_fit
    )
    exposure = exposure_steps(pd.to_numeric(years[known]).to_numpy(dtype=float))
    return DesignParts(ids, y[known], design, exposure, covariate_kind="exposure"), int((~known).sum())


@dataclass
class SectionCResults:
    """All fits of Section C and their tidy tables."""

    fits: list[RegressionFit]
    results: pd.DataFrame  # analytics.regression_results
    validation: pd.DataFrame  # analytics.risk_assessment_validation
    model_fit: pd.DataFrame  # one row per model: n, R², sigma, status, aliased, notes
    min_offenders: int
    alpha: float
    controls: tuple[str, ...]  # the adjusted model's controls
    population: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (model, role, reason)


def _model_description(role: str, controls: Sequence[str]) -> str:
    if role == ROLE_ADJUSTED:
        return ", ".join(controls)
    if role == ROLE_TIME_ORDERED:
        return f"exposure: {EXPOSURE_COLUMN} (steps)"
    return "none"


def fit_section_c(
    offenders: pd.DataFrame,
    offences: pd.DataFrame,
    *,
    onset: pd.DataFrame | None = None,
    pre_da_offences: pd.DataFrame | None = None,
    clusters: pd.DataFrame | None = None,
    adjusted_controls: Sequence[str] = DEFAULT_CONTROLS,
    fit_adjusted: bool = True,
    fit_time_ordered: bool = True,
    min_offenders_to_fit_type: int = 1,
    min_offenders_to_fit_code: int = 10,
    se_type: str = "HC3",
    sensitivity: str = "both",
    tweedie_power: float = 1.5,
    alpha: float = DEFAULT_ALPHA,
    min_offenders: int | None = None,
    min_offenders_base: int = REPORT_MIN_OFFENDERS,
    high_harm_threshold: float = HIGH_HARM_THRESHOLD,
) -> SectionCResults:
    """Fit every Section C model and tabulate.

    ``offenders`` is ``marts.dim_offenders`` (the DA perpetrators are taken from it), ``offences``
    ``marts.fct_offences`` (its non-DA rows are used); ``onset`` and ``pre_da_offences`` are
    ``marts.dim_da_onset`` and ``marts.fct_pre_da_offences`` for the time-ordered models (without them those
    models are recorded as not estimable). ``min_offenders`` is the presentation threshold (default:
    ``min_offenders_base`` = 200 scaled by the number of DA perpetrators / 145,392); the fits use the much
    lower ``min_offenders_to_fit_*`` so the filter stays a presentation choice. ``clusters``
    (offender_id, cluster) adds the per-cluster share of high first grades.
    """
    population = population_counts(offenders)
    perpetrators = da_perpetrators(offenders)
    offences_non_da = non_da_offences(offences)
    adjusted_controls = tuple(adjusted_controls)
    specs = {
        "offence_type": IndicatorModelSpec(
            "offence_type", "offence_type", None, (), min_offenders_to_fit_type
        ),
        "offence_code": IndicatorModelSpec(
            "offence_code", "offence_code", "offence_description", (), min_offenders_to_fit_code
        ),
    }
    planned: list[tuple[str, str, Fitter]] = []
    for spec in specs.values():
        planned += _view_fitters(
            perpetrators,
            offences_non_da,
            spec,
            se_type=se_type,
            sensitivity=sensitivity,
            tweedie_power=tweedie_power,
            adjusted_controls=adjusted_controls if fit_adjusted else None,
        )
    n_without_onset = 0
    if fit_time_ordered:
        for spec in specs.values():
            name = f"{spec.name}_pre_da"
            if onset is None or pre_da_offences is None:
                reason = (
                    "the time-ordered inputs (marts.dim_da_onset, marts.fct_pre_da_offences) are not built"
                )
                planned.append((name, ROLE_TIME_ORDERED, _raiser(reason)))
                continue
            parts, n_without_onset = time_ordered_design(perpetrators, onset, pre_da_offences, spec)
            planned.append((name, ROLE_TIME_ORDERED, _time_ordered_fitter(parts, spec, name, se_type)))
    planned += [
        (name, ROLE_RISK, fitter)
        for name, fitter in risk_model_fitters(
            perpetrators, se_type=se_type, sensitivity=sensitivity, tweedie_power=tweedie_power
        )
    ]
    fits: list[RegressionFit] = []
    failed: list[tuple[str, str, str]] = []
    for name, role, fitter in planned:
        result = attempt(f"Section C: {name}", fitter)
        if result.ok:
            fits.append(result.value)
        else:
            failed.append((name, role, result.reason))
    tables = [t for t in [*(coefficient_table(f, alpha) for f in fits), _failed_rows(failed)] if len(t)]
    results = pd.concat(tables, ignore_index=True) if tables else _failed_rows([])
    validation = risk_assessment_validation(perpetrators, clusters, high_harm_threshold)
    n = population["n_da_perpetrators"]
    shown_min = (
        scaled_min_offenders(n, base=min_offenders_base) if min_offenders is None else int(min_offenders)
    )
    model_fit = model_fit_table(fits, failed)
    model_fit["controls"] = [_model_description(role, adjusted_controls) for role in model_fit["role"]]
    model_fit = model_fit.assign(
        alpha=alpha,
        min_offenders_presentation=shown_min,
        adjusted_controls=", ".join(adjusted_controls),
        n_da_perpetrators_without_onset=n_without_onset,
        **population,
    )
    return SectionCResults(
        fits=fits,
        results=results,
        validation=validation,
        model_fit=model_fit,
        min_offenders=shown_min,
        alpha=alpha,
        controls=adjusted_controls,
        population=population,
        failed=failed,
    )


def _failed_rows(failed: Sequence[tuple[str, str, str]]) -> pd.DataFrame:
    """One ``regression_results`` row per model that could not be fitted (term ``(model)``, term_kind
    ``model``): no figures, status ``not estimable`` and the reason, so the table itself says why."""
    from ml.estimability import NOT_ESTIMABLE
    from ml.regression.tables import RESULT_COLUMNS

    rows = pd.DataFrame(
        {
            "model": [m for m, _, _ in failed],
            "role": [r for _, r, _ in failed],
            "term": "(model)",
            "term_label": "(model)",
            "term_kind": "model",
            "status": NOT_ESTIMABLE,
            "reason": [why for _, _, why in failed],
        },
        columns=RESULT_COLUMNS,
    )
    for column in RESULT_COLUMNS:
        if column not in (
            "model",
            "role",
            "term",
            "term_label",
            "term_kind",
            "status",
            "reason",
            "se_type",
            "family",
            "outcome",
        ):
            rows[column] = rows[column].astype(float)
    return rows


def _raiser(reason: str) -> Fitter:
    def fitter() -> RegressionFit:
        raise NotEstimable(reason)

    return fitter


def _time_ordered_fitter(parts: DesignParts, spec: IndicatorModelSpec, name: str, se_type: str) -> Fitter:
    def fitter() -> RegressionFit:
        _require_indicators(parts, spec, "the non-DA offences reported before the first DA incident")
        X, names, kinds, n_with, labels = parts.assemble()
        return fit_ols(
            X,
            parts.y,
            names,
            kinds=kinds,
            n_with_term=n_with,
            labels=labels,
            se_type=se_type,
            model=name,
            role=ROLE_TIME_ORDERED,
        )

    return fitter
