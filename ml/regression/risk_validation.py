"""How well the first risk assessment predicts DA harm: the three risk models of Section C and the
first-grade descriptives (seed 000: 34% / 15% / 7% reaching 500; ever-high median 30 times never-high).

Callers pass the Section C population (:func:`ml.regression.design.da_perpetrators`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ml.estimability import NotEstimable
from ml.regression.constants import HIGH_HARM_THRESHOLD, OUTCOME, RISK_LEVELS, ROLE_RISK
from ml.regression.design import outcome
from ml.regression.ols import RegressionFit, fit_ols
from ml.regression.tweedie import fit_tweedie

RISK_MODELS = ("risk_first_non_crime", "risk_first_da", "risk_share_high")


def _grade_dummies(levels: pd.Series, prefix: str) -> pd.DataFrame:
    grade = levels.astype("string").str.strip().str.lower()
    return pd.DataFrame(
        {f"{prefix}[{level}]": (grade == level).astype(float).to_numpy() for level in RISK_LEVELS[1:]},
        index=levels.index,
    )


def risk_model_designs(offenders: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
    """The three risk-assessment designs (covariate frame without intercept, outcome), by model name.

    * ``risk_first_non_crime``: grade of the first non-crime DA incident (reference: standard), among
      offenders with a graded non-crime DA incident;
    * ``risk_first_da``: grade of the first DA incident plus that incident's severity;
    * ``risk_share_high``: share of the offender's assessments graded high plus the number of assessments
      (so volume does not drive the share's estimate), among offenders with at least one assessment.
    """
    y_all = outcome(offenders)
    graded = offenders["first_non_crime_da_risk_level"].astype("string").str.lower().isin(RISK_LEVELS)
    out: dict[str, tuple[pd.DataFrame, np.ndarray]] = {}
    mask = graded.to_numpy(dtype=bool) & np.isfinite(y_all)
    out["risk_first_non_crime"] = (
        _grade_dummies(offenders.loc[mask, "first_non_crime_da_risk_level"], "first_non_crime_da_risk_level"),
        y_all[mask],
    )
    sev = pd.to_numeric(offenders["first_da_incident_severity"], errors="coerce")
    graded = offenders["first_da_risk_level"].astype("string").str.lower().isin(RISK_LEVELS)
    mask = graded.to_numpy(dtype=bool) & sev.notna().to_numpy() & np.isfinite(y_all)
    frame = _grade_dummies(offenders.loc[mask, "first_da_risk_level"], "first_da_risk_level")
    frame["first_da_incident_severity"] = sev[mask].to_numpy(dtype=float)
    out["risk_first_da"] = (frame, y_all[mask])
    n_assess = pd.to_numeric(offenders["n_risk_assessments"], errors="coerce")
    share = pd.to_numeric(offenders["share_high_risk"], errors="coerce")
    mask = (n_assess > 0).to_numpy() & share.notna().to_numpy() & np.isfinite(y_all)
    frame = pd.DataFrame(
        {"share_high_risk": share[mask].to_numpy(float), "n_risk_assessments": n_assess[mask].to_numpy(float)}
    )
    out["risk_share_high"] = (frame, y_all[mask])
    return out


def risk_model_fitters(
    offenders: pd.DataFrame, *, se_type: str = "HC3", sensitivity: str = "both", tweedie_power: float = 1.5
) -> list[tuple[str, object]]:
    """(model name, zero-argument fitter) for each risk model and its sensitivity fits; a fitter raises
    ``NotEstimable`` when its model has fewer than two offenders per parameter."""
    fitters: list[tuple[str, object]] = []
    for name, (frame, y) in risk_model_designs(offenders).items():
        X = np.column_stack([np.ones(len(y)), frame.to_numpy(dtype=float)])
        names = ["intercept", *frame.columns]
        kinds = ["intercept"] + ["covariate"] * frame.shape[1]
        n_with = [np.nan] + [float((frame[c] != 0).sum()) for c in frame.columns]
        common = dict(names=names, kinds=kinds, n_with_term=n_with, role=ROLE_RISK)

        def enough(name=name, n=len(y), p=X.shape[1]):
            if n == 0:
                raise NotEstimable(_NO_ONE_GRADED[name])
            if n < 2 * p:
                raise NotEstimable(f"{n} offenders for {p} parameters: fewer than two per parameter")

        def ols(X=X, y=y, name=name, common=common, enough=enough):
            enough()
            return fit_ols(X, y, se_type=se_type, model=name, **common)

        def log1p(X=X, y=y, name=name, common=common, enough=enough):
            enough()
            return fit_ols(
                X, np.log1p(y), se_type=se_type, model=f"{name}_log1p", outcome=f"log1p({OUTCOME})", **common
            )

        def tweedie(X=X, y=y, name=name, common=common, enough=enough):
            enough()
            return fit_tweedie(X, y, var_power=tweedie_power, model=f"{name}_tweedie", **common)

        fitters.append((name, ols))
        if sensitivity in ("log1p", "both"):
            fitters.append((f"{name}_log1p", log1p))
        if sensitivity in ("tweedie", "both"):
            fitters.append((f"{name}_tweedie", tweedie))
    return fitters


_NO_ONE_GRADED = {
    "risk_first_non_crime": "no offender has a graded non-crime DA incident",
    "risk_first_da": "no offender has a graded first DA incident with a severity",
    "risk_share_high": "no offender has a risk assessment",
}


def fit_risk_models(
    offenders: pd.DataFrame,
    *,
    se_type: str = "HC3",
    sensitivity: str = "both",
    tweedie_power: float = 1.5,
) -> list[RegressionFit]:
    """OLS fits of the three risk models (and their sensitivity fits) that can be estimated on this data
    (:func:`ml.regression.section_c.fit_section_c` also records the ones that cannot, with a reason)."""
    from ml.estimability import attempt

    fits = []
    for name, fitter in risk_model_fitters(
        offenders, se_type=se_type, sensitivity=sensitivity, tweedie_power=tweedie_power
    ):
        outcome_ = attempt(f"Section C: {name}", fitter)
        if outcome_.ok:
            fits.append(outcome_.value)
    return fits


# --- Risk-assessment descriptives -----------------------------------------------------------------------
VALIDATION_COLUMNS = ["section", "group", "measure", "value", "n_offenders"]


def _auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve of an ordinal score (ties count one half), via ranks."""
    pos, neg = label.sum(), (~label).sum()
    if pos == 0 or neg == 0:
        return np.nan
    ranks = stats.rankdata(score)
    return float((ranks[label].sum() - pos * (pos + 1) / 2) / (pos * neg))


def risk_assessment_validation(
    offenders: pd.DataFrame,
    clusters: pd.DataFrame | None = None,
    high_harm_threshold: float = HIGH_HARM_THRESHOLD,
) -> pd.DataFrame:
    """How well the first risk grade sorts offenders by later DA harm (long format: section, group,
    measure, value, n_offenders).

    * ``first_da_grade`` / ``first_non_crime_grade``: per grade, the mean and median total DA severity and
      the share reaching ``high_harm_threshold`` (the report: 34% high, 15% medium, 7% standard), plus the
      AUC of the grade (standard < medium < high) for reaching the threshold;
    * ``ever_high``: median total DA severity of offenders ever graded high vs never, and their ratio
      (the report: 30×);
    * ``cluster``: the share of high first grades per cluster, when ``clusters`` (offender_id, cluster) is
      given.
    """
    y = outcome(offenders)
    rows: list[dict] = []
    for section, column in (
        ("first_da_grade", "first_da_risk_level"),
        ("first_non_crime_grade", "first_non_crime_da_risk_level"),
    ):
        grade = offenders[column].astype("string").str.lower()
        for level in RISK_LEVELS:
            mask = (grade == level).fillna(False).to_numpy(dtype=bool) & np.isfinite(y)
            values = y[mask]
            n = int(mask.sum())
            rows += [
                dict(
                    section=section,
                    group=level,
                    measure="mean_total_da_severity",
                    value=float(values.mean()) if n else np.nan,
                    n_offenders=n,
                ),
                dict(
                    section=section,
                    group=level,
                    measure="median_total_da_severity",
                    value=float(np.median(values)) if n else np.nan,
                    n_offenders=n,
                ),
                dict(
                    section=section,
                    group=level,
                    measure=f"share_total_da_severity_ge_{high_harm_threshold:g}",
                    value=float((values >= high_harm_threshold).mean()) if n else np.nan,
                    n_offenders=n,
                ),
            ]
        order = grade.map({level: i for i, level in enumerate(RISK_LEVELS)}).astype("Float64")
        mask = order.notna().to_numpy(dtype=bool) & np.isfinite(y)
        rows.append(
            dict(
                section=section,
                group="all graded",
                measure=f"auc_total_da_severity_ge_{high_harm_threshold:g}",
                value=_auc(order[mask].to_numpy(dtype=float), y[mask] >= high_harm_threshold),
                n_offenders=int(mask.sum()),
            )
        )
        means = {
            r["group"]: r["value"]
            for r in rows
            if r["section"] == section and r["measure"] == "mean_total_da_severity"
        }
        if means.get("medium"):
            rows.append(
                dict(
                    section=section,
                    group="high vs medium",
                    measure="ratio_mean_total_da_severity",
                    value=means["high"] / means["medium"],
                    n_offenders=np.nan,
                )
            )
    ever = offenders["ever_high_risk"].astype("boolean")
    medians = {}
    for label, flag in (("ever high", True), ("never high", False)):
        mask = (ever == flag).fillna(False).to_numpy(dtype=bool) & np.isfinite(y)
        medians[label] = float(np.median(y[mask])) if mask.any() else np.nan
        rows.append(
            dict(
                section="ever_high",
                group=label,
                measure="median_total_da_severity",
                value=medians[label],
                n_offenders=int(mask.sum()),
            )
        )
    ratio = medians["ever high"] / medians["never high"] if medians["never high"] else np.nan
    rows.append(
        dict(
            section="ever_high",
            group="ever vs never",
            measure="ratio_median_total_da_severity",
            value=ratio,
            n_offenders=np.nan,
        )
    )
    if clusters is not None and len(clusters):
        joined = offenders[["offender_id", "first_da_risk_level"]].merge(
            clusters[["offender_id", "cluster"]], on="offender_id", how="inner"
        )
        grade = joined["first_da_risk_level"].astype("string").str.lower()
        joined = joined.assign(is_high=(grade == "high").astype("boolean"), graded=grade.isin(RISK_LEVELS))
        for cluster, part in joined.loc[joined["graded"].fillna(False)].groupby("cluster", sort=True):
            rows.append(
                dict(
                    section="cluster",
                    group=str(cluster),
                    measure="share_first_da_grade_high",
                    value=float(part["is_high"].astype(float).mean()),
                    n_offenders=len(part),
                )
            )
    frame = pd.DataFrame(rows, columns=VALIDATION_COLUMNS)
    frame["n_offenders"] = frame["n_offenders"].astype("Float64")
    return frame
