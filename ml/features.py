"""The offender feature matrix for the typology: selection, standardisation and PCA.

Seed 000 (Annex 1 §4.6) clusters offenders on variables that practitioners would know when an incident is
first reported. They are listed here, once, by theme, under the column names of ``marts.dim_offenders``
(docs/data-model.md). Sex and ethnicity are never features: the report excludes them to avoid
unintentional profiling, and :data:`PROTECTED_COLUMNS` is checked against the list at import time.

Plain library: no Dagster, no dbt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Who: the offender's age.
WHO = ["mean_age"]

#: Against whom: victims' ages relative to the offender's, and how many distinct victims (DA / non-DA).
AGAINST_WHOM = ["mean_victim_age_difference", "n_da_victims", "n_non_da_victims"]

#: When: age at the first DA incident, spans of DA and non-DA offending, mean gaps between incidents
#: (DA–DA, non-DA–non-DA, DA–non-DA), and the average timing of DA incidents as circular encodings
#: (hour of day, day of week, day of month; the mean of sin and cos over the offender's DA incidents).
WHEN = [
    "age_at_first_da_incident",
    "da_timespan_days",
    "non_da_timespan_days",
    "mean_days_between_da_incidents",
    "mean_days_between_non_da_incidents",
    "mean_days_between_da_and_non_da_incidents",
    "da_hour_sin",
    "da_hour_cos",
    "da_weekday_sin",
    "da_weekday_cos",
    "da_month_day_sin",
    "da_month_day_cos",
]

#: Where: number of distinct LSOAs offended in and the mean IMD 2019 score of those LSOAs (DA / non-DA).
WHERE = ["n_da_lsoas", "n_non_da_lsoas", "mean_da_imd_score", "mean_non_da_imd_score"]

#: How: mean and total ONS severity, mean incident duration, number of incidents and incidents per victim
#: (each DA / non-DA).
HOW = [
    "mean_da_severity",
    "mean_non_da_severity",
    "total_da_severity",
    "total_non_da_severity",
    "mean_da_duration_days",
    "mean_non_da_duration_days",
    "n_da_incidents",
    "n_non_da_incidents",
    "da_incidents_per_victim",
    "non_da_incidents_per_victim",
]

#: Why: the offender's own victimisation (times a victim, mean and total severity suffered; non-DA only by
#: other offenders in the data) and the share of incidents with a substance flag (DA / non-DA).
WHY = [
    "n_times_da_victim",
    "n_times_non_da_victim",
    "mean_da_victimisation_severity",
    "mean_non_da_victimisation_severity",
    "total_da_victimisation_severity",
    "total_non_da_victimisation_severity",
    "share_da_incidents_substance",
    "share_non_da_incidents_substance",
]

#: The features by theme, in the order of Annex 1 §4.6.
PCA_FEATURES_BY_THEME: dict[str, list[str]] = {
    "who": WHO,
    "against whom": AGAINST_WHOM,
    "when": WHEN,
    "where": WHERE,
    "how": HOW,
    "why": WHY,
}

#: Every column that goes into standardisation and PCA (38).
PCA_FEATURES: list[str] = [column for columns in PCA_FEATURES_BY_THEME.values() for column in columns]

#: Descriptive only; never model features.
PROTECTED_COLUMNS: tuple[str, ...] = ("modal_sex", "modal_ethnicity")


def assert_no_protected_features(columns: list[str] | pd.Index) -> None:
    """Raise if any column looks like sex or ethnicity."""
    offending = [c for c in columns if c in PROTECTED_COLUMNS or "sex" in c.lower() or "ethnic" in c.lower()]
    if offending:
        raise ValueError(f"sex and ethnicity are never typology features; found {offending}")


assert_no_protected_features(PCA_FEATURES)
assert len(PCA_FEATURES) == len(set(PCA_FEATURES))


@dataclass
class DroppedCounts:
    """How many offenders the feature matrix kept, and why the others were left out."""

    n_offenders: int
    n_missing_age: int
    n_missing_other: int
    n_kept: int
    missing_other_by_column: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {
            "n_offenders": self.n_offenders,
            "n_missing_age": self.n_missing_age,
            "n_missing_other": self.n_missing_other,
            "n_kept": self.n_kept,
        }


def build_feature_matrix(
    dim_offenders: pd.DataFrame, features: list[str] | None = None, id_column: str = "offender_id"
) -> tuple[pd.DataFrame, DroppedCounts]:
    """The offenders × features frame (index = offender id) and the counts of offenders left out.

    Offenders with a missing own or victim age (``has_missing_age``) are dropped, as in the report (7,731 of
    145,392 there). Any offender still missing a feature value is dropped too and counted separately, by
    column, so that nothing disappears silently. Rows are sorted by offender id, so the result does not depend
    on the order the offenders were read in.
    """
    features = list(features or PCA_FEATURES)
    assert_no_protected_features(features)
    missing_columns = [c for c in features if c not in dim_offenders.columns]
    if missing_columns:
        raise KeyError(f"dim_offenders lacks feature columns {missing_columns}")
    n_offenders = len(dim_offenders)
    if "has_missing_age" in dim_offenders.columns:
        missing_age = dim_offenders["has_missing_age"].fillna(True).astype(bool).to_numpy()
    else:
        missing_age = dim_offenders[["mean_age", "mean_victim_age_difference"]].isna().any(axis=1).to_numpy()
    rest = dim_offenders.loc[~missing_age]
    values = rest[features].apply(pd.to_numeric, errors="coerce").astype("float64")
    values = values.replace([np.inf, -np.inf], np.nan)
    incomplete = values.isna().any(axis=1).to_numpy()
    by_column = {c: int(n) for c, n in values.loc[incomplete].isna().sum().items() if n}
    matrix = values.loc[~incomplete]
    matrix.index = pd.Index(rest.loc[~incomplete, id_column].to_numpy(), name=id_column)
    # Rows in offender order whatever order they were read in: CLARA's samples are drawn by row position.
    matrix = matrix.sort_index(kind="stable")
    counts = DroppedCounts(
        n_offenders=n_offenders,
        n_missing_age=int(missing_age.sum()),
        n_missing_other=int(incomplete.sum()),
        n_kept=len(matrix),
        missing_other_by_column=by_column,
    )
    return matrix, counts


@dataclass
class Standardisation:
    """Column means and standard deviations (ddof = 1, like R's ``scale``)."""

    columns: list[str]
    means: np.ndarray
    sds: np.ndarray
    constant_columns: list[str]

    def transform(self, matrix: pd.DataFrame | np.ndarray) -> np.ndarray:
        values = np.asarray(matrix, dtype=np.float64)
        safe = np.where(self.sds > 0, self.sds, 1.0)
        z = (values - self.means) / safe
        z[:, self.sds == 0] = 0.0
        return z


def standardise(matrix: pd.DataFrame) -> tuple[np.ndarray, Standardisation]:
    """z-scores of every column (mean 0, SD 1). A constant column becomes all zeros and is reported."""
    values = matrix.to_numpy(dtype=np.float64)
    means = values.mean(axis=0)
    sds = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1])
    sds = np.nan_to_num(sds)
    scaler = Standardisation(
        columns=list(matrix.columns),
        means=means,
        sds=sds,
        constant_columns=[c for c, s in zip(matrix.columns, sds, strict=True) if s == 0],
    )
    return scaler.transform(values), scaler


@dataclass
class PCAResult:
    """Principal components of the standardised features."""

    scores: np.ndarray  # n × n_components
    loadings: np.ndarray  # n_features × n_components (unit eigenvectors)
    explained_variance: np.ndarray  # every component's variance (eigenvalue), all components
    explained_variance_ratio: np.ndarray  # all components
    n_components: int
    columns: list[str]

    @property
    def cumulative_ratio(self) -> np.ndarray:
        return np.cumsum(self.explained_variance_ratio)

    @property
    def kept_ratio(self) -> float:
        return float(self.cumulative_ratio[self.n_components - 1])

    def variance_table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "component": np.arange(1, len(self.explained_variance_ratio) + 1),
                "explained_variance": self.explained_variance,
                "explained_variance_ratio": self.explained_variance_ratio,
                "cumulative_ratio": self.cumulative_ratio,
                "kept": np.arange(1, len(self.explained_variance_ratio) + 1) <= self.n_components,
            }
        )


def fit_pca(
    z: np.ndarray,
    n_components: int | None = None,
    variance_target: float = 0.90,
    columns: list[str] | None = None,
) -> PCAResult:
    """PCA by eigen-decomposition of the covariance matrix (exact, ~0.1 s at 140k × 40).

    Keeps ``n_components`` if given, otherwise the fewest components whose cumulative explained variance
    reaches ``variance_target`` (the report kept 25 of 42 for 89.49%). Signs are fixed so that each
    component's largest loading is positive, which makes the scores reproducible across platforms.
    """
    z = np.asarray(z, dtype=np.float64)
    centred = z - z.mean(axis=0)
    cov = centred.T @ centred / max(len(z) - 1, 1)
    eigenvalues, eigenvectors = np.linalg.eigh(cov)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues = np.clip(eigenvalues[order], 0.0, None)
    eigenvectors = eigenvectors[:, order]
    signs = np.sign(eigenvectors[np.abs(eigenvectors).argmax(axis=0), np.arange(eigenvectors.shape[1])])
    eigenvectors = eigenvectors * np.where(signs == 0, 1.0, signs)
    total = eigenvalues.sum()
    ratio = eigenvalues / total if total > 0 else np.zeros_like(eigenvalues)
    if n_components is None:
        cumulative = np.cumsum(ratio)
        n_components = int(np.searchsorted(cumulative, variance_target - 1e-12) + 1)
    n_components = int(min(max(n_components, 1), z.shape[1]))
    loadings = eigenvectors[:, :n_components]
    return PCAResult(
        scores=centred @ loadings,
        loadings=loadings,
        explained_variance=eigenvalues,
        explained_variance_ratio=ratio,
        n_components=n_components,
        columns=list(columns) if columns is not None else [f"x{i}" for i in range(z.shape[1])],
    )
