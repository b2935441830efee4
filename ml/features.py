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

#: The 38 features of Annex 1 §4.6 as ``marts.dim_offenders`` publishes them.
PCA_FEATURES: list[str] = [column for columns in PCA_FEATURES_BY_THEME.values() for column in columns]

#: Features that are a mean with possibly nothing to average, so ``dim_offenders`` leaves them NULL rather
#: than code them as a number that means something else (an IMD score of 0 reads as the least deprived
#: area; a gap of 0 days reads as two incidents on one day; hour 0 as midnight). Each gets the neutral
#: value :data:`NEUTRAL_VALUE` describes plus an indicator column (1 where it was missing), the
#: missing-indicator method.
MAY_BE_MISSING: dict[str, str] = {
    "mean_da_imd_score": "no DA offence with a known LSOA",
    "mean_non_da_imd_score": "no non-DA offence with a known LSOA (always so with no non-DA history)",
    "mean_days_between_da_incidents": "fewer than two DA incidents",
    "mean_days_between_non_da_incidents": "fewer than two non-DA incidents",
    "mean_days_between_da_and_non_da_incidents": "the incident type never changes (e.g. DA-only)",
    "da_hour_sin": "no DA incident with a known time of day",
    "da_hour_cos": "no DA incident with a known time of day",
}
NEUTRAL_VALUE = (
    "the mean of the recorded values among the clustered offenders: a z-score of 0, so the value moves "
    "the offender towards no one, and the column's own mean and the PCA of the recorded values are kept"
)
#: The indicator column added for each feature of :data:`MAY_BE_MISSING` (the two hour columns share one).
MISSING_INDICATORS: dict[str, str] = {
    "mean_da_imd_score": "mean_da_imd_score_missing",
    "mean_non_da_imd_score": "mean_non_da_imd_score_missing",
    "mean_days_between_da_incidents": "mean_days_between_da_incidents_missing",
    "mean_days_between_non_da_incidents": "mean_days_between_non_da_incidents_missing",
    "mean_days_between_da_and_non_da_incidents": "mean_days_between_da_and_non_da_incidents_missing",
    "da_hour_sin": "da_hour_missing",
    "da_hour_cos": "da_hour_missing",
}
#: Features that must be recorded for every clustered offender (a NULL there is an error upstream).
NEVER_MISSING_FEATURES: list[str] = [c for c in PCA_FEATURES if c not in MAY_BE_MISSING]

#: Every column that goes into standardisation and PCA: the 38 features and the 6 missing indicators (44).
MODEL_COLUMNS: list[str] = PCA_FEATURES + list(dict.fromkeys(MISSING_INDICATORS.values()))

#: Column weights applied after z-scoring. The timing of DA incidents is one variable of Annex 1 §4.6
#: ("(3f) average timing of DA incidents (hour of day, day of week etc.)"; §4.5 lists it once as "average
#: timing of offending (time of day, day of week, day of month)"), written here as three circular
#: encodings, six columns (sin, cos). Each is scaled by 1/√6 so that the block carries the variance of one
#: standardised variable, as every other variable of the list does (block weighting). Unweighted it would
#: count as six variables: for the many offenders with one DA incident the encodings are points on three
#: circles, spread that would outweigh the variables practitioners describe clusters by.
TIMING_BLOCK: list[str] = [
    "da_hour_sin",
    "da_hour_cos",
    "da_weekday_sin",
    "da_weekday_cos",
    "da_month_day_sin",
    "da_month_day_cos",
]
COLUMN_WEIGHTS: dict[str, float] = {
    column: float(1.0 / np.sqrt(len(TIMING_BLOCK))) for column in TIMING_BLOCK
}

#: The scale of every indicator column instead of its own standard deviation: the SD of a balanced binary
#: (0.5), so an imputed and a recorded offender are two standard units apart on it, as a z-scored 50/50
#: indicator would put them. Dividing a rare indicator by its own SD, sqrt(p(1 − p)), would put the few
#: offenders with a rarely missing value (e.g. no DA offence with a known LSOA) 1/sqrt(p(1 − p)) units away
#: from everyone, and the clustering would then find the missingness instead of the offenders.
INDICATOR_SCALE = 1.0

#: The report's count of offenders dropped for a missing offender or victim age (Annex 1: 7,731 of 145,392).
REPORT_DROPPED_MISSING_AGE = 7_731
REPORT_OFFENDERS = 145_392

#: Descriptive only; never model features.
PROTECTED_COLUMNS: tuple[str, ...] = ("modal_sex", "modal_ethnicity")


def assert_no_protected_features(columns: list[str] | pd.Index) -> None:
    """Raise if any column looks like sex or ethnicity."""
    offending = [c for c in columns if c in PROTECTED_COLUMNS or "sex" in c.lower() or "ethnic" in c.lower()]
    if offending:
        raise ValueError(f"sex and ethnicity are never typology features; found {offending}")


assert_no_protected_features(MODEL_COLUMNS)
assert len(MODEL_COLUMNS) == len(set(MODEL_COLUMNS))


@dataclass
class DroppedCounts:
    """How many offenders the feature matrix kept, and why the others were left out.

    ``n_offenders`` are the rows of ``dim_offenders``; ``n_not_da_perpetrators`` of them have no DA incident
    and are not the typology's population (not counted as missing anything); of the DA perpetrators,
    ``n_missing_age`` are dropped by the report's rule (own or victim age missing; ``n_missing_offender_age``
    and ``n_missing_victim_age`` overlap) and ``n_missing_other`` for a NULL in a feature that should never
    be missing. ``imputed_by_column``: offenders given the neutral value, per feature.
    """

    n_offenders: int
    n_missing_age: int
    n_missing_other: int
    n_kept: int
    missing_other_by_column: dict[str, int] = field(default_factory=dict)
    n_not_da_perpetrators: int = 0
    n_missing_offender_age: int = 0
    n_missing_victim_age: int = 0
    imputed_by_column: dict[str, int] = field(default_factory=dict)

    @property
    def n_da_perpetrators(self) -> int:
        return self.n_offenders - self.n_not_da_perpetrators

    def as_dict(self) -> dict[str, int]:
        return {
            "n_offenders": self.n_offenders,
            "n_not_da_perpetrators": self.n_not_da_perpetrators,
            "n_da_perpetrators": self.n_da_perpetrators,
            "n_missing_age": self.n_missing_age,
            "n_missing_offender_age": self.n_missing_offender_age,
            "n_missing_victim_age": self.n_missing_victim_age,
            "n_missing_other": self.n_missing_other,
            "n_kept": self.n_kept,
            "report_n_offenders": REPORT_OFFENDERS,
            "report_n_missing_age": REPORT_DROPPED_MISSING_AGE,
        }

    def imputed_table(self) -> pd.DataFrame:
        """Per feature that may be missing: offenders given the neutral value, and why it was missing."""
        return pd.DataFrame(
            [
                {
                    "feature": column,
                    "indicator": MISSING_INDICATORS[column],
                    "missing_when": MAY_BE_MISSING[column],
                    "n_imputed": int(self.imputed_by_column.get(column, 0)),
                    "share_imputed": self.imputed_by_column.get(column, 0) / self.n_kept
                    if self.n_kept
                    else 0.0,
                }
                for column in MAY_BE_MISSING
            ]
        )


#: The dim_offenders columns :func:`build_feature_matrix` reads besides the features.
POPULATION_COLUMNS = [
    "offender_id",
    "n_da_incidents",
    "is_da_perpetrator",
    "has_missing_age",
    "has_missing_offender_age",
    "has_missing_victim_age",
]


def _flag(frame: pd.DataFrame, column: str, default: np.ndarray) -> np.ndarray:
    if column not in frame.columns:
        return default
    return frame[column].astype("boolean").fillna(False).to_numpy(dtype=bool)


def build_feature_matrix(
    dim_offenders: pd.DataFrame, features: list[str] | None = None, id_column: str = "offender_id"
) -> tuple[pd.DataFrame, DroppedCounts]:
    """The offenders × model-columns frame (index = offender id) and the counts of offenders left out.

    The population is the DA perpetrators (``is_da_perpetrator``, or ``n_da_incidents`` > 0): people seen
    only on non-DA crimes are not clustered and not counted as missing anything. Of them, those with a
    missing own or victim age (``has_missing_age``) are dropped, exactly the report's rule (7,731 of
    145,392 there). A feature of :data:`MAY_BE_MISSING` that is NULL gets the neutral value
    (:data:`NEUTRAL_VALUE`) and its indicator column is 1. An offender still missing any other feature is
    dropped and counted by column, so that nothing disappears silently. Rows are sorted by offender id, so
    the result does not depend on the order the offenders were read in.

    ``features`` defaults to :data:`PCA_FEATURES`; the indicators of the features of :data:`MAY_BE_MISSING`
    among them are appended (with the default: :data:`MODEL_COLUMNS`).
    """
    features = list(features or PCA_FEATURES)
    assert_no_protected_features(features)
    missing_columns = [c for c in features if c not in dim_offenders.columns]
    if missing_columns:
        raise KeyError(f"dim_offenders lacks feature columns {missing_columns}")
    n_offenders = len(dim_offenders)
    everyone = np.ones(n_offenders, dtype=bool)
    if "is_da_perpetrator" in dim_offenders.columns:
        perpetrator = _flag(dim_offenders, "is_da_perpetrator", everyone)
    elif "n_da_incidents" in dim_offenders.columns:
        perpetrator = pd.to_numeric(dim_offenders["n_da_incidents"]).fillna(0).to_numpy() > 0
    else:
        perpetrator = everyone
    if "has_missing_age" in dim_offenders.columns:
        missing_age = perpetrator & dim_offenders["has_missing_age"].astype("boolean").fillna(True).to_numpy(
            dtype=bool
        )
    else:
        missing_age = (
            perpetrator
            & dim_offenders[["mean_age", "mean_victim_age_difference"]].isna().any(axis=1).to_numpy()
        )
    nobody = np.zeros(n_offenders, dtype=bool)
    own_age = perpetrator & _flag(dim_offenders, "has_missing_offender_age", nobody)
    victim_age = perpetrator & _flag(dim_offenders, "has_missing_victim_age", nobody)
    rest = dim_offenders.loc[perpetrator & ~missing_age]
    values = rest[features].apply(pd.to_numeric, errors="coerce").astype("float64")
    values = values.replace([np.inf, -np.inf], np.nan)
    fillable = [c for c in features if c in MAY_BE_MISSING]
    strict = [c for c in features if c not in MAY_BE_MISSING]
    incomplete = values[strict].isna().any(axis=1).to_numpy()
    by_column = {c: int(n) for c, n in values.loc[incomplete, strict].isna().sum().items() if n}
    matrix = values.loc[~incomplete].copy()
    imputed: dict[str, int] = {}
    for indicator in dict.fromkeys(MISSING_INDICATORS[c] for c in MISSING_INDICATORS if c in fillable):
        sources = [c for c in fillable if MISSING_INDICATORS[c] == indicator]
        matrix[indicator] = matrix[sources].isna().any(axis=1).astype("float64")
    for column in fillable:
        gap = matrix[column].isna()
        imputed[column] = int(gap.sum())
        recorded = matrix.loc[~gap, column]
        matrix.loc[gap, column] = float(recorded.mean()) if len(recorded) else 0.0
    matrix.index = pd.Index(rest.loc[~incomplete, id_column].to_numpy(), name=id_column)
    # Rows in offender order whatever order they were read in: CLARA's samples are drawn by row position.
    matrix = matrix.sort_index(kind="stable")
    counts = DroppedCounts(
        n_offenders=n_offenders,
        n_missing_age=int(missing_age.sum()),
        n_missing_other=int(incomplete.sum()),
        n_kept=len(matrix),
        missing_other_by_column=by_column,
        n_not_da_perpetrators=int((~perpetrator).sum()),
        n_missing_offender_age=int(own_age.sum()),
        n_missing_victim_age=int(victim_age.sum()),
        imputed_by_column=imputed,
    )
    return matrix, counts


@dataclass
class Standardisation:
    """Column means and standard deviations (ddof = 1, like R's ``scale``) and the weight of each column."""

    columns: list[str]
    means: np.ndarray
    sds: np.ndarray
    constant_columns: list[str]
    weights: np.ndarray | None = None

    def transform(self, matrix: pd.DataFrame | np.ndarray) -> np.ndarray:
        values = np.asarray(matrix, dtype=np.float64)
        safe = np.where(self.sds > 0, self.sds, 1.0)
        z = (values - self.means) / safe
        z[:, self.sds == 0] = 0.0
        if self.weights is not None:
            z *= self.weights
        return z


def standardise(
    matrix: pd.DataFrame, weights: dict[str, float] | None = None
) -> tuple[np.ndarray, Standardisation]:
    """z-scores of every column (mean 0, SD 1), times the column's weight (:data:`COLUMN_WEIGHTS` by
    default; 1 for a column it does not name; ``{}`` for none). The missing indicators
    (:data:`MISSING_INDICATORS`) are centred and divided by :data:`INDICATOR_SCALE` instead of their own SD.
    A feature that was missing for some offenders (its indicator is in the matrix) is scaled by the SD of
    its recorded values: the neutral values all sit at its mean and would otherwise shrink the SD and
    stretch the recorded values apart. A constant column becomes all zeros and is reported."""
    values = matrix.to_numpy(dtype=np.float64)
    means = values.mean(axis=0)
    sds = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1])
    sds = np.nan_to_num(sds)
    for j, column in enumerate(matrix.columns):
        indicator = MISSING_INDICATORS.get(column)
        if indicator in matrix.columns:
            recorded = values[matrix[indicator].to_numpy() == 0, j]
            means[j] = recorded.mean() if len(recorded) else means[j]
            sds[j] = np.nan_to_num(recorded.std(ddof=1)) if len(recorded) > 1 else 0.0
    indicators = set(MISSING_INDICATORS.values())
    sds = np.array(
        [
            INDICATOR_SCALE if c in indicators and s > 0 else s
            for c, s in zip(matrix.columns, sds, strict=True)
        ]
    )
    weights = COLUMN_WEIGHTS if weights is None else weights
    scaler = Standardisation(
        columns=list(matrix.columns),
        means=means,
        sds=sds,
        constant_columns=[c for c, s in zip(matrix.columns, sds, strict=True) if s == 0],
        weights=np.array([weights.get(c, 1.0) for c in matrix.columns], dtype=np.float64),
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
