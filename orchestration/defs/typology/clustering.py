"""PCA, the K sweep, the final fit and the stability of the clusters."""

import dataclasses
import time

import dagster as dg
import numpy as np
import pandas as pd

from ml import typology as typ
from ml.clara import SubsampleSilhouette
from ml.estimability import ESTIMATED, NOT_ESTIMABLE, attempt
from ml.features import PCA_FEATURES, POPULATION_COLUMNS, build_feature_matrix, fit_pca, standardise
from orchestration.defs.typology.common import (
    _STRATA_COLUMNS,
    CLUSTER_STABILITY,
    CODE_VERSION,
    GROUP,
    K_SWEEP,
    OFFENDER_CLUSTERS,
    PCA,
    _md_table,
    _read_scores,
    _save_settings,
    _typology_status,
    empty_table,
)
from orchestration.defs.typology.config import FinalFitConfig, KSweepConfig, PCAConfig, StabilityConfig
from orchestration.keys import mart
from orchestration.lib.warehouse_io import read_table, write_table
from orchestration.resources import PlatformResource


@dg.asset(
    key=PCA,
    deps=[mart("dim_offenders")],
    code_version=CODE_VERSION,
    group_name=GROUP,
    description="Offender features (Annex 1 §4.6; never sex or ethnicity) → z-scores → PCA scores.",
    check_specs=[
        dg.AssetCheckSpec(
            "explained_variance_floor",
            asset=PCA,
            description="The kept components explain at least the floor (WARN: a property of the data, "
            "not an error in a published number).",
        )
    ],
)
def typology_pca(context: dg.AssetExecutionContext, config: PCAConfig, platform: PlatformResource):
    with platform.connect() as con:
        dim = read_table(
            con, "marts.dim_offenders", list(dict.fromkeys([*POPULATION_COLUMNS, *PCA_FEATURES]))
        )
        matrix, dropped = build_feature_matrix(dim)
        z, scaler = standardise(matrix)
        pca = fit_pca(z, config.n_components, config.variance_target, columns=list(matrix.columns))
        scores = pd.DataFrame(pca.scores, columns=[f"pc{i + 1}" for i in range(pca.n_components)])
        scores.insert(0, "offender_id", matrix.index.to_numpy())
        write_table(con, "analytics.pca_scores", scores)
        write_table(con, "analytics.pca_variance", pca.variance_table())
        write_table(con, "analytics.typology_dropped", pd.DataFrame([dropped.as_dict()]))
        write_table(con, "analytics.typology_imputed", dropped.imputed_table())
        _save_settings(con, "pca", config.model_dump())
    if scaler.constant_columns:
        context.log.warning(f"constant feature columns (all zero after scaling): {scaler.constant_columns}")
    if dropped.missing_other_by_column:
        context.log.warning(
            f"offenders dropped for missing feature values: {dropped.missing_other_by_column}"
        )
    kept = pca.kept_ratio
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(scores),
            "n_features": len(matrix.columns),
            "n_components": pca.n_components,
            "explained_variance": float(kept),
            "n_offenders": dropped.n_offenders,
            "n_not_da_perpetrators": dropped.n_not_da_perpetrators,
            "n_dropped_missing_age": dropped.n_missing_age,
            "report_n_dropped_missing_age": dropped.as_dict()["report_n_missing_age"],
            "n_dropped_missing_other": dropped.n_missing_other,
            "constant_columns": ", ".join(scaler.constant_columns) or "none",
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="explained_variance_floor",
                passed=bool(kept >= config.explained_variance_floor),
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "explained_variance": float(kept),
                    "floor": config.explained_variance_floor,
                    "n_components": pca.n_components,
                },
            )
        ],
    )


@dg.asset(
    key=K_SWEEP,
    deps=[PCA, mart("dim_offenders")],
    code_version=CODE_VERSION,
    group_name=GROUP,
    description="CLARA for every K with objective and three silhouettes; the chosen K and its stability.",
)
def k_sweep(context: dg.AssetExecutionContext, config: KSweepConfig, platform: PlatformResource):
    with platform.connect() as con:
        ids, x = _read_scores(con)
        strata_frame = read_table(con, "marts.dim_offenders", _STRATA_COLUMNS).set_index("offender_id")
    strata_frame = strata_frame.reindex(ids)
    strata = (
        strata_frame["da_volume_band"].astype(str) + "/" + strata_frame["non_da_volume_band"].astype(str)
    ).to_numpy()
    settings = typ.ClaraSettings(
        **{f.name: getattr(config, f.name) for f in dataclasses.fields(typ.ClaraSettings)}
    )
    if config.criterion == "subsample_silhouette" and config.subsample_size <= 0:
        raise dg.Failure(
            "k_sweep config: criterion 'subsample_silhouette' needs subsample_size > 0 (e.g. 20000), or choose "
            "criterion 'sample_silhouette' (the report's)"
        )
    ranged = attempt("typology: K range", typ.k_range, len(x), config.k_min, config.k_max, config.exclude_k2)
    if not ranged.ok:
        return _k_sweep_not_estimable(context, platform, config, ranged.reason)
    k_values = ranged.value
    start = time.perf_counter()
    subsample = None
    if config.subsample_size > 0:
        subsample = SubsampleSilhouette(
            x, config.subsample_size, strata, config.subsample_seed, config.threads
        )
    build_seconds = time.perf_counter() - start

    def log(row: dict) -> None:
        context.log.info(
            f"K={row['k']}: objective {row['objective']:.4f}, silhouettes sample {row['sample_silhouette']:.3f} "
            f"medoid {row['medoid_silhouette']:.3f} subsample {row['subsample_silhouette']:.3f} ({row['seconds']:.1f} s)"
        )

    sweep = typ.run_k_sweep(x, k_values, settings, subsample, progress=log)
    sweep_seconds = time.perf_counter() - start
    choice = attempt("typology: choice of K", typ.select_k, sweep, config.criterion, config.exclude_k2)
    if not choice.ok:
        return _k_sweep_not_estimable(context, platform, config, choice.reason, sweep)
    chosen = choice.value
    seeds = [config.seed, *[s for s in config.stability_seeds if s != config.seed]]
    stability, stability_sweeps = typ.k_stability(
        x, seeds, k_values, settings, subsample, config.exclude_k2, known_sweeps={config.seed: sweep}
    )
    main_choices = stability.loc[stability["criterion"] == config.criterion, "chosen_k"]
    agreement = float((main_choices == chosen).mean())
    selection = pd.DataFrame(
        [
            {
                "chosen_k": chosen,
                "criterion": config.criterion,
                "exclude_k2": config.exclude_k2,
                "value": float(sweep.loc[sweep["k"] == chosen, config.criterion].iloc[0]),
                "n_seeds": len(seeds),
                "share_of_seeds_agreeing": agreement,
                "subsample_rows": subsample.size if subsample else 0,
                "status": ESTIMATED,
                "reason": "",
            }
        ]
    )
    with platform.connect() as con:
        write_table(con, "analytics.k_sweep", sweep)
        write_table(con, "analytics.k_stability", stability)
        write_table(con, "analytics.k_stability_sweeps", stability_sweeps)
        write_table(con, "analytics.k_selection", selection)
        _save_settings(con, "k_sweep", config.model_dump())
    best = sweep.set_index("k")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(sweep),
            "chosen_k": chosen,
            "criterion": config.criterion,
            "exclude_k2": config.exclude_k2,
            "silhouette_at_chosen_k": {c: float(best.loc[chosen, c]) for c in typ.SELECTION_CRITERIA},
            "best_k_by_criterion": {
                c: typ.select_k(sweep, c, config.exclude_k2)
                for c in typ.SELECTION_CRITERIA
                if sweep[c].notna().any()
            },
            "k_chosen_across_seeds": ", ".join(str(k) for k in main_choices),
            "share_of_seeds_agreeing": agreement,
            "sweep_seconds": round(sweep_seconds, 1),
            "subsample_build_seconds": round(build_seconds, 1),
            "silhouette_by_k": dg.MetadataValue.md(
                _md_table(
                    sweep[
                        ["k", "objective", "sample_silhouette", "medoid_silhouette", "subsample_silhouette"]
                    ].round(4)
                )
            ),
        }
    )


_SWEEP_COLUMNS = [
    "k",
    "objective",
    "sample_silhouette",
    "medoid_silhouette",
    "subsample_silhouette",
    "seconds",
    "clara_seconds",
    "samples",
    "sampsize",
    "seed",
    "smallest_cluster",
]


def _k_sweep_not_estimable(
    context, platform: PlatformResource, config: KSweepConfig, reason: str, sweep=None
):
    """Too few offenders (or no structure) to choose K: the tables are written with the reason instead."""
    context.log.warning(f"typology not estimable: {reason}")
    sweep = sweep if sweep is not None else empty_table(**dict.fromkeys(_SWEEP_COLUMNS, "float64"))
    selection = pd.DataFrame(
        [
            {
                "chosen_k": pd.NA,
                "criterion": config.criterion,
                "exclude_k2": config.exclude_k2,
                "value": np.nan,
                "n_seeds": 0,
                "share_of_seeds_agreeing": np.nan,
                "subsample_rows": 0,
                "status": NOT_ESTIMABLE,
                "reason": reason,
            }
        ]
    ).astype({"chosen_k": "Int64"})
    with platform.connect() as con:
        write_table(con, "analytics.k_sweep", sweep)
        write_table(
            con,
            "analytics.k_stability",
            empty_table(seed="int64", criterion="object", exclude_k2="bool", chosen_k="int64"),
        )
        write_table(con, "analytics.k_stability_sweeps", sweep.assign(seed=config.seed).iloc[0:0])
        write_table(con, "analytics.k_selection", selection)
        _save_settings(con, "k_sweep", config.model_dump())
    return dg.MaterializeResult(
        metadata={"dagster/row_count": len(sweep), "status": NOT_ESTIMABLE, "reason": reason}
    )


_NO_CLUSTERS = empty_table(
    offender_id="object", cluster="int64", is_medoid="bool", distance_to_medoid="float64"
)


@dg.asset(
    key=OFFENDER_CLUSTERS,
    deps=[PCA, K_SWEEP],
    code_version=CODE_VERSION,
    group_name=GROUP,
    description="The final CLARA fit: every clustered offender's cluster (1 = largest), medoids, distances.",
)
def offender_clusters(context: dg.AssetExecutionContext, config: FinalFitConfig, platform: PlatformResource):
    with platform.connect() as con:
        ids, x = _read_scores(con)
        selection = read_table(con, "analytics.k_selection").iloc[0]
        if not config.k and selection.get("status", ESTIMATED) == NOT_ESTIMABLE:
            return _clusters_not_estimable(context, con, config, len(ids), str(selection["reason"]))
        k = config.k or int(selection["chosen_k"])
        settings = config.clara_settings()
        fitted = attempt(f"typology: final fit, K = {k}", typ.fit_typology, x, ids, k, settings)
        if not fitted.ok:
            return _clusters_not_estimable(context, con, config, len(ids), fitted.reason)
        typology = fitted.value
        clusters = typology.offender_clusters()
        fit = pd.DataFrame(
            [
                {
                    "k": k,
                    "objective": typology.objective,
                    "sample_silhouette": typology.sample_silhouette,
                    "medoid_silhouette": typology.medoid_silhouette,
                    "samples": typology.samples,
                    "sampsize": typology.sampsize,
                    "seconds": typology.seconds,
                    "n_offenders": len(ids),
                    "status": ESTIMATED,
                    "reason": "",
                }
            ]
        )
        write_table(con, "analytics.offender_clusters", clusters)
        write_table(con, "analytics.typology_fit", fit)
        _save_settings(con, "offender_clusters", {**config.model_dump(), "k_used": k})
    sizes = typology.sizes()
    context.log.info(f"final fit K={k}: objective {typology.objective:.4f} in {typology.seconds:.1f} s")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(clusters),
            "k": k,
            "objective": typology.objective,
            "medoid_silhouette": typology.medoid_silhouette,
            "sample_silhouette": typology.sample_silhouette,
            "seconds": round(typology.seconds, 1),
            "cluster_sizes": {str(c): int(n) for c, n in sizes.items()},
        }
    )


def _clusters_not_estimable(context, con, config: FinalFitConfig, n_offenders: int, reason: str):
    """No clusters: an empty offender_clusters and a typology_fit row that says why."""
    context.log.warning(f"typology not estimable: {reason}")
    fit = pd.DataFrame(
        [
            {
                "k": 0,
                "objective": np.nan,
                "sample_silhouette": np.nan,
                "medoid_silhouette": np.nan,
                "samples": config.samples,
                "sampsize": 0,
                "seconds": 0.0,
                "n_offenders": n_offenders,
                "status": NOT_ESTIMABLE,
                "reason": reason,
            }
        ]
    )
    write_table(con, "analytics.offender_clusters", _NO_CLUSTERS)
    write_table(con, "analytics.typology_fit", fit)
    _save_settings(con, "offender_clusters", {**config.model_dump(), "k_used": 0})
    return dg.MaterializeResult(
        metadata={"dagster/row_count": 0, "k": 0, "status": NOT_ESTIMABLE, "reason": reason}
    )


_NO_STABILITY = empty_table(
    cluster="int64",
    n_offenders="int64",
    expected_members_per_resample="float64",
    n_resamples_present="int64",
    mean_jaccard="float64",
    median_jaccard="float64",
    min_jaccard="float64",
    share_recovered="float64",
    stable="bool",
    verdict="object",
)
_NO_RESAMPLES = empty_table(resample="int64", n_offenders="int64", ari="float64", seconds="float64")


@dg.asset(
    key=CLUSTER_STABILITY,
    deps=[PCA, OFFENDER_CLUSTERS],
    code_version=CODE_VERSION,
    group_name=GROUP,
    description="Stability across data: resamples of the offenders clustered afresh at the chosen K; per "
    "cluster the Jaccard index with its best match (stable at >= 0.75), per resample the adjusted Rand index.",
)
def cluster_stability(context: dg.AssetExecutionContext, config: StabilityConfig, platform: PlatformResource):
    with platform.connect() as con:
        ids, x = _read_scores(con)
        clusters = read_table(con, "analytics.offender_clusters")
        status, reason = _typology_status(con)
    result = None
    if status != NOT_ESTIMABLE and len(clusters):
        reference = clusters.set_index("offender_id")["cluster"].reindex(ids).to_numpy()
        k = int(clusters["cluster"].max())
        settings = dataclasses.replace(typ.SWEEP_CLARA, seed=config.seed)
        start = time.perf_counter()
        attempted = attempt(
            f"typology: stability across {config.n_resamples} resamples, K = {k}",
            typ.resample_stability,
            x,
            reference,
            k,
            settings,
            config.n_resamples,
            config.subsample_size,
            config.seed,
            config.threads,
        )
        seconds = time.perf_counter() - start
        result, reason = attempted.value, attempted.reason
    with platform.connect() as con:
        write_table(con, "analytics.cluster_stability", result.clusters if result else _NO_STABILITY)
        write_table(con, "analytics.stability_resamples", result.resamples if result else _NO_RESAMPLES)
        _save_settings(con, "cluster_stability", config.model_dump())
    if result is None:
        context.log.warning(f"stability not estimable: {reason}")
        return dg.MaterializeResult(
            metadata={"dagster/row_count": 0, "status": NOT_ESTIMABLE, "reason": reason}
        )
    summary = result.summary()
    stable = result.clusters.loc[result.clusters["verdict"] == "stable", "cluster"]
    context.log.info(
        f"stability: {summary['n_stable']} of {summary['n_clusters']} clusters stable, median ARI "
        f"{summary['median_ari']:.3f} over {summary['n_resamples']} resamples ({seconds:.1f} s)"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(result.clusters),
            **{key: (round(v, 4) if isinstance(v, float) else v) for key, v in summary.items()},
            "stable_clusters": ", ".join(str(int(c)) for c in stable) or "none",
            "seconds": round(seconds, 1),
        }
    )
