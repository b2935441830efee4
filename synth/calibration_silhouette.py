"""Where the typology's silhouette comes from: a diagnostic for calibrating the generator (issue 13).

The K sweep's best-sample silhouette at the chosen K is about twice the report's on synthetic data. This
module reads a platform run's warehouse and says which features carry the clusters and what the silhouette
would be if the offenders varied more within their profiles:

* :func:`feature_separation`: per model column, its distinct values and the share of its variance that lies
  between clusters (eta squared) — the columns the clusters are told apart by;
* :func:`silhouette_ablation`: the exact silhouette of a fixed clustering on a subsample, with every column
  and with each column left out (the clustering kept): how much each column holds the silhouette up;
* :func:`noise_experiment`: independent noise added to chosen features where they are recorded (not to a
  neutral value given for a missing one, nor to a structural zero such as the span of one incident), then
  the pipeline's standardisation, PCA and K sweep again: the curve the generator would give with that much
  more within-profile variation. It perturbs the feature matrix, not the generator: an approximation of
  noisier data, for choosing what to change, never a calibration result.

``python -m synth.calibration_silhouette --warehouse FILE [--extract DIR]`` prints the three for a run.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ml import typology as typ
from ml.features import (
    MISSING_INDICATORS,
    PCA_FEATURES,
    POPULATION_COLUMNS,
    build_feature_matrix,
    fit_pca,
    standardise,
)

#: Features that are continuous in police data and noisy within any type of offender: ages, deprivation,
#: gaps, spans, durations, severities and substance shares (not counts, not indicators, not timing).
CONTINUOUS_FEATURES: list[str] = [
    "mean_age",
    "age_at_first_da_incident",
    "mean_victim_age_difference",
    "mean_da_imd_score",
    "mean_non_da_imd_score",
    "mean_da_duration_days",
    "mean_non_da_duration_days",
    "mean_days_between_da_incidents",
    "mean_days_between_non_da_incidents",
    "mean_days_between_da_and_non_da_incidents",
    "da_timespan_days",
    "non_da_timespan_days",
    "mean_da_severity",
    "mean_non_da_severity",
    "mean_da_victimisation_severity",
    "mean_non_da_victimisation_severity",
    "share_da_incidents_substance",
    "share_non_da_incidents_substance",
]


def eta_squared(values: np.ndarray, labels: np.ndarray) -> float:
    """Share of the variance of ``values`` between the groups of ``labels`` (0: none, 1: all)."""
    values = np.asarray(values, dtype=np.float64)
    total = float(((values - values.mean()) ** 2).sum())
    if total == 0.0:
        return float("nan")
    codes, inverse = np.unique(labels, return_inverse=True)
    sums = np.bincount(inverse, weights=values, minlength=len(codes))
    counts = np.bincount(inverse, minlength=len(codes))
    within = float(((values - (sums / counts)[inverse]) ** 2).sum())
    return 1.0 - within / total


def feature_separation(matrix: pd.DataFrame, z: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Per column of ``matrix`` (its standardised values ``z``): distinct raw values, variance after
    scaling, eta squared against ``labels``, and its share of the between-cluster variance of all columns;
    sorted by that share."""
    z = np.asarray(z, dtype=np.float64)
    variance = z.var(axis=0, ddof=1)
    eta = np.array([eta_squared(z[:, j], labels) for j in range(z.shape[1])])
    between = variance * np.nan_to_num(eta)
    table = pd.DataFrame(
        {
            "column": list(matrix.columns),
            "distinct_values": [int(matrix[c].nunique()) for c in matrix.columns],
            "variance": variance,
            "eta_squared": eta,
            "between_variance": between,
            "share_of_between": between / between.sum() if between.sum() > 0 else 0.0,
        }
    )
    return table.sort_values("between_variance", ascending=False, ignore_index=True)


def silhouette_ablation(
    z: np.ndarray, labels: np.ndarray, columns: Sequence[str], rows: int = 8_000, seed: int = 0
) -> tuple[float, pd.DataFrame]:
    """The exact silhouette of ``labels`` on ``rows`` random offenders in the space of ``z`` (all model
    columns, not the PCA scores), and per column the change when that column is left out (the clustering
    kept). A negative change: the column holds the silhouette up."""
    from sklearn.metrics import silhouette_score

    z = np.asarray(z, dtype=np.float64)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(z), size=min(rows, len(z)), replace=False)
    zs, ls = z[pick], labels[pick]
    base = float(silhouette_score(zs, ls))
    deltas = []
    for j, column in enumerate(columns):
        kept = np.delete(zs, j, axis=1)
        deltas.append({"column": column, "change_when_left_out": float(silhouette_score(kept, ls)) - base})
    return base, pd.DataFrame(deltas).sort_values("change_when_left_out", ignore_index=True)


def recorded_mask(matrix: pd.DataFrame, column: str) -> np.ndarray:
    """Offenders for whom ``column`` is a recorded value: not a neutral value given for a missing one
    (its indicator), nor a structural zero (the span of one incident; a non-DA feature without non-DA
    history; a victimisation severity of someone never a victim)."""
    n = len(matrix)
    mask = np.ones(n, dtype=bool)
    indicator = MISSING_INDICATORS.get(column)
    if indicator in matrix.columns:
        mask &= matrix[indicator].to_numpy() == 0
    count = {
        "da_timespan_days": ("n_da_incidents", 1),
        "non_da_timespan_days": ("n_non_da_incidents", 1),
        "mean_da_victimisation_severity": ("n_times_da_victim", 0),
        "mean_non_da_victimisation_severity": ("n_times_non_da_victim", 0),
    }.get(column)
    if count is None and "non_da" in column:
        count = ("n_non_da_incidents", 0)
    if count is not None and count[0] in matrix.columns:
        mask &= matrix[count[0]].to_numpy() > count[1]
    return mask


def add_noise(matrix: pd.DataFrame, columns: Sequence[str], sd: float, seed: int = 1) -> pd.DataFrame:
    """A copy of ``matrix`` with independent normal noise of ``sd`` times each column's SD (among its
    recorded values) added to its recorded values (:func:`recorded_mask`)."""
    rng = np.random.default_rng(seed)
    noisy = matrix.copy()
    for column in columns:
        mask = recorded_mask(matrix, column)
        values = noisy[column].to_numpy(dtype=np.float64).copy()
        scale = float(values[mask].std(ddof=1)) if mask.sum() > 1 else 0.0
        values[mask] += sd * scale * rng.standard_normal(int(mask.sum()))
        noisy[column] = values
    return noisy


def sweep_summary(
    matrix: pd.DataFrame, clara_seeds: Sequence[int] = (0,), k_values: Sequence[int] = range(2, 41)
) -> pd.DataFrame:
    """The pipeline's standardisation, PCA (90% of the variance) and K sweep (``ml.typology.SWEEP_CLARA``)
    on ``matrix``, once per CLARA seed: components kept, the sample silhouette at K = 2 and whether it is
    the highest, the K chosen with K = 2 set aside and its silhouette, and the silhouette at K = 29."""
    z, _ = standardise(matrix)
    pca = fit_pca(z, None, 0.90, columns=list(matrix.columns))
    rows = []
    for seed in clara_seeds:
        sweep = typ.run_k_sweep(pca.scores, k_values, typ.SWEEP_CLARA, None, seed=int(seed))
        chosen = typ.select_k(sweep, "sample_silhouette")
        curve = sweep.set_index("k")["sample_silhouette"]
        rows.append(
            {
                "clara_seed": int(seed),
                "n_components": pca.n_components,
                "silhouette_k2": float(curve.get(2, np.nan)),
                "k2_highest": bool(2 in curve.index and curve.idxmax() == 2),
                "chosen_k": chosen,
                "silhouette_chosen_k": float(curve[chosen]),
                "silhouette_k29": float(curve.get(29, np.nan)),
            }
        )
    return pd.DataFrame(rows)


def noise_experiment(
    matrix: pd.DataFrame,
    sds: Sequence[float] = (0.5, 1.0),
    columns: Sequence[str] = CONTINUOUS_FEATURES,
    clara_seeds: Sequence[int] = (0, 1, 2),
) -> pd.DataFrame:
    """:func:`sweep_summary` on ``matrix`` as it is (sd 0) and with :func:`add_noise` at each of ``sds``."""
    frames = []
    for sd in (0.0, *sds):
        noisy = add_noise(matrix, [c for c in columns if c in matrix.columns], sd) if sd > 0 else matrix
        frames.append(sweep_summary(noisy, clara_seeds).assign(noise_sd=sd))
    return pd.concat(frames, ignore_index=True)


def load(warehouse: Path) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The feature matrix of a run's ``marts.dim_offenders`` and the run's final clusters (None if the
    run has none), aligned on the offender id."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        columns = list(dict.fromkeys([*POPULATION_COLUMNS, *PCA_FEATURES]))
        dim = con.execute(f"SELECT {', '.join(columns)} FROM marts.dim_offenders").df()
        try:
            clusters = con.execute("SELECT offender_id, cluster FROM analytics.offender_clusters").df()
        except duckdb.Error:
            clusters = None
    finally:
        con.close()
    matrix, _ = build_feature_matrix(dim)
    labels = None
    if clusters is not None and len(clusters):
        labels = clusters.set_index("offender_id")["cluster"].reindex(matrix.index).to_numpy()
    return matrix, labels


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="a platform run's DuckDB warehouse")
    parser.add_argument("--rows", type=int, default=8_000, help="offenders in the ablation's subsample")
    parser.add_argument("--noise", type=float, nargs="*", default=[0.5, 1.0], help="noise SDs to try")
    parser.add_argument("--clara-seeds", type=int, nargs="*", default=[0, 1, 2])
    args = parser.parse_args(argv)
    matrix, labels = load(args.warehouse)
    pd.set_option("display.width", 200)
    if labels is not None and not pd.isna(labels).any():
        z, _ = standardise(matrix)
        print(feature_separation(matrix, z, labels).round(3).to_string())
        base, ablation = silhouette_ablation(z, labels, list(matrix.columns), rows=args.rows)
        print(f"\nexact silhouette of the run's clusters on {args.rows:,} offenders: {base:.3f}")
        print(ablation.round(4).to_string())
    print(noise_experiment(matrix, args.noise, clara_seeds=args.clara_seeds).round(3).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
