"""The perpetrator typology (seed 000 Sections A–B, Annex 1) as assets: read the offender marts, call
``ml.features`` / ``ml.typology``, write the ``analytics`` tables, render the report. Thin on purpose.

Assets
  analytics/pca                 analytics.pca_scores (offender_id, pc1..pcN), analytics.pca_variance,
                                analytics.typology_dropped (offenders left out and why, beside the report's
                                7,731), analytics.typology_imputed (features given the neutral value)
  analytics/k_sweep             analytics.k_sweep (per K), analytics.k_selection, analytics.k_stability and
                                analytics.k_stability_sweeps (K chosen per CLARA seeds; extra seeds only if asked)
  analytics/offender_clusters   analytics.offender_clusters (offender_id, cluster, is_medoid, distance_to_medoid),
                                analytics.typology_fit (the final fit's figures)
  analytics/cluster_stability   analytics.cluster_stability (per cluster: Jaccard over resamples of the
                                offenders, verdict), analytics.stability_resamples (per resample: ARI)
  analytics/cluster_profiles    analytics.cluster_profiles (Tables 1–5 per cluster, Groups A–E),
                                analytics.medoid_timelines
  reports/typology              <output>/typology.html

Every setting is run config with a documented default; ``analytics.typology_settings`` records the
settings each asset ran with, so the report states them.
"""

import dataclasses
import time

import dagster as dg
import numpy as np
import pandas as pd

from ml import typology as typ
from ml.clara import SubsampleSilhouette
from ml.estimability import ESTIMATED, NOT_ESTIMABLE, attempt
from ml.features import PCA_FEATURES, POPULATION_COLUMNS, build_feature_matrix, fit_pca, standardise
from ml.reporting import Lineage
from ml.typology_report import build_typology_report
from orchestration.keys import analytics, mart, report
from orchestration.lib.code_version import source_version
from orchestration.lib.warehouse_io import read_table, table_exists, write_table
from orchestration.resources import PlatformResource

CODE_VERSION = source_version(
    __name__, "ml.features", "ml.clara", "ml.typology", "ml.typology_report", "ml.reporting"
)
GROUP = "typology"

PCA = analytics("pca")
K_SWEEP = analytics("k_sweep")
OFFENDER_CLUSTERS = analytics("offender_clusters")
CLUSTER_STABILITY = analytics("cluster_stability")
CLUSTER_PROFILES = analytics("cluster_profiles")
REPORT = report("typology")

_STRATA_COLUMNS = ["offender_id", "da_volume_band", "non_da_volume_band"]


class PCAConfig(dg.Config):
    """Feature matrix and PCA."""

    variance_target: float = 0.90
    """Keep the fewest components whose cumulative explained variance reaches this (the report: 25 of 42
    components, 89.49%)."""
    n_components: int | None = None
    """A fixed number of components instead of the variance target."""
    explained_variance_floor: float = 0.80
    """The asset check fails if the kept components explain less than this (80–95% is the usual range)."""


class KSweepConfig(dg.Config):
    """The K sweep, the choice of K and its stability. Defaults: K = 2..40 as the report; CLARA as
    ``ml.typology.SWEEP_CLARA`` (4 samples of 400 + 10K rows, each polished and scored on a fixed 8,192-row
    subset, the best polished on all offenders: a lower objective than R's clara and faster, see
    bench/typology.py); K chosen by the exact average silhouette on a fixed 20,000-row subsample stratified
    by DA and non-DA volume band; K = 2 excluded (the report's rule)."""

    k_min: int = typ.K_MIN
    k_max: int = typ.K_MAX
    samples: int = typ.SWEEP_CLARA.samples
    """CLARA samples per K (R's default: 5)."""
    sampsize_base: int = typ.SWEEP_CLARA.sampsize_base
    sampsize_per_k: int = typ.SWEEP_CLARA.sampsize_per_k
    """Sample size = sampsize_base + sampsize_per_k · K (R's default: 40 + 2K)."""
    sampler: str = typ.SWEEP_CLARA.sampler
    """`numpy` (seeded) or `r` (clara's own deterministic generator, rngR = FALSE; ignores the seed, so the
    stability seeds then all agree trivially)."""
    method: str = typ.SWEEP_CLARA.method
    """`fasterpam`, `pam` (exact BUILD + SWAP on each sample, slower) or `r` (R clara's own BUILD + SWAP)."""
    init: str = typ.SWEEP_CLARA.init
    """How each sample's FasterPAM starts: `build` (as R) or `random`."""
    restart_from_best: bool = typ.SWEEP_CLARA.restart_from_best
    """Also cluster each later sample from the best medoids so far and keep the better."""
    score_rows: int = typ.SWEEP_CLARA.score_rows
    """Rows of the fixed random subset on which each sample's medoids are scored (0: all offenders, as R)."""
    score_polish_iterations: int = typ.SWEEP_CLARA.score_polish_iterations
    """Polish steps on that subset before scoring each sample's medoids."""
    polish_iterations: int = typ.SWEEP_CLARA.polish_iterations
    """Alternating refinement of the best medoids on all offenders (never raises the objective); 0 = R alone."""
    polish_candidates: int = typ.SWEEP_CLARA.polish_candidates
    """Members nearest each cluster's mean tried as its new medoid in each refinement step."""
    polish_screen: int = typ.SWEEP_CLARA.polish_screen
    """Random members of a cluster on which the candidates are ranked (0: all members)."""
    seed: int = 0
    subsample_size: int = 0
    """Rows of a fixed subsample on which the exact silhouette is also computed (a float32 matrix of
    size² × 4 bytes: 1.6 GB at 20,000; stratified by DA and non-DA volume band). 0: not computed."""
    subsample_seed: int = 0
    criterion: str = "sample_silhouette"
    """What "best average silhouette" means: `sample_silhouette` (the report's criterion, R clara's silinfo:
    the silhouette of the best sample), `subsample_silhouette` (exact, on the fixed subsample; needs
    subsample_size > 0) or `medoid_silhouette` (all offenders)."""
    exclude_k2: bool = True
    """The report's rule: K = 2 had the best silhouette but only split DA-only offenders from the rest."""
    stability_seeds: list[int] = []
    """Extra CLARA seeds, each repeating the whole sweep, to see how the chosen K moves with the optimiser's
    noise alone. Off by default: analytics/cluster_stability measures stability across resamples of the
    data instead, at a fraction of the cost."""
    threads: int = 2


class StabilityConfig(dg.Config):
    """Stability across data (Hennig's clusterwise stability): resamples of the offenders, each clustered
    afresh at the chosen K with the sweep's CLARA; per cluster the Jaccard index with its best match, per
    resample the adjusted Rand index."""

    n_resamples: int = 20
    """Subsamples of the offenders (at least 20 for a mean Jaccard worth reading)."""
    subsample_size: int = 20_000
    """Offenders in each subsample (at most 80% of them)."""
    seed: int = 0
    threads: int = 2
    """Resamples run side by side on this many threads."""


class FinalFitConfig(dg.Config):
    """The final CLARA fit: more and larger samples than the sweep (the report gives neither)."""

    k: int = 0
    """0: the K chosen by analytics/k_sweep; otherwise this K."""
    samples: int = 50
    sampsize: int = 2_000
    sampler: str = "numpy"
    method: str = "fasterpam"
    init: str = "random"
    """`random` is as good as `build` on 2,000-row samples and several times cheaper."""
    restart_from_best: bool = True
    polish_iterations: int = 3
    polish_candidates: int = 128
    seed: int = 0


def _save_settings(con, asset: str, settings: dict) -> None:
    rows = pd.DataFrame(
        {"asset": asset, "setting": list(settings), "value": [str(v) for v in settings.values()]}
    )
    if table_exists(con, "analytics.typology_settings"):
        kept = con.execute(
            "SELECT * FROM analytics.typology_settings WHERE asset <> ? ORDER BY ALL", [asset]
        ).df()
        rows = pd.concat([kept, rows], ignore_index=True)
    write_table(con, "analytics.typology_settings", rows)


def _read_scores(con) -> tuple[np.ndarray, np.ndarray]:
    scores = read_table(con, "analytics.pca_scores")
    ids = scores["offender_id"].to_numpy()
    x = scores.drop(columns=["offender_id"]).to_numpy(dtype=np.float64)
    return ids, x


def _md_table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(map(str, frame.columns)) + " |\n|" + "---|" * len(frame.columns)
    body = "\n".join("| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False))
    return head + "\n" + body


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
    sweep = (
        sweep if sweep is not None else pd.DataFrame({c: pd.Series(dtype="float64") for c in _SWEEP_COLUMNS})
    )
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
            pd.DataFrame(
                {
                    "seed": pd.Series(dtype="int64"),
                    "criterion": pd.Series(dtype="object"),
                    "exclude_k2": pd.Series(dtype="bool"),
                    "chosen_k": pd.Series(dtype="int64"),
                }
            ),
        )
        write_table(con, "analytics.k_stability_sweeps", sweep.assign(seed=config.seed).iloc[0:0])
        write_table(con, "analytics.k_selection", selection)
        _save_settings(con, "k_sweep", config.model_dump())
    return dg.MaterializeResult(
        metadata={"dagster/row_count": len(sweep), "status": NOT_ESTIMABLE, "reason": reason}
    )


_NO_CLUSTERS = pd.DataFrame(
    {
        "offender_id": pd.Series(dtype="object"),
        "cluster": pd.Series(dtype="int64"),
        "is_medoid": pd.Series(dtype="bool"),
        "distance_to_medoid": pd.Series(dtype="float64"),
    }
)


def _typology_status(con) -> tuple[str, str]:
    """The final fit's status and reason (``estimated`` for tables written before the column existed)."""
    fit = read_table(con, "analytics.typology_fit")
    if "status" not in fit or fit.empty:
        return ESTIMATED, ""
    return str(fit["status"].iloc[0]), str(fit["reason"].iloc[0] or "")


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
        settings = typ.ClaraSettings(
            samples=config.samples,
            sampsize_base=config.sampsize,
            sampsize_per_k=0,
            sampler=config.sampler,
            method=config.method,
            init=config.init,
            restart_from_best=config.restart_from_best,
            polish_iterations=config.polish_iterations,
            polish_candidates=config.polish_candidates,
            seed=config.seed,
        )
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


_NO_STABILITY = pd.DataFrame(
    {
        "cluster": pd.Series(dtype="int64"),
        "n_offenders": pd.Series(dtype="int64"),
        "expected_members_per_resample": pd.Series(dtype="float64"),
        "n_resamples_present": pd.Series(dtype="int64"),
        "mean_jaccard": pd.Series(dtype="float64"),
        "median_jaccard": pd.Series(dtype="float64"),
        "min_jaccard": pd.Series(dtype="float64"),
        "share_recovered": pd.Series(dtype="float64"),
        "stable": pd.Series(dtype="bool"),
        "verdict": pd.Series(dtype="object"),
    }
)
_NO_RESAMPLES = pd.DataFrame(
    {
        "resample": pd.Series(dtype="int64"),
        "n_offenders": pd.Series(dtype="int64"),
        "ari": pd.Series(dtype="float64"),
        "seconds": pd.Series(dtype="float64"),
    }
)


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


_NO_PROFILES = pd.DataFrame(
    {
        "cluster": pd.Series(dtype="int64"),
        "n_offenders": pd.Series(dtype="int64"),
        "offender_group": pd.Series(dtype="object"),
        "median_da_incidents": pd.Series(dtype="float64"),
        "median_non_da_incidents": pd.Series(dtype="float64"),
    }
)


def staging(model: str) -> dg.AssetKey:
    """The key of a dbt staging model (dbt models are ``[schema, model]``)."""
    return dg.AssetKey(["staging", model])


_VICTIMS = "staging.stg_wmp__victims"
_RELATIONSHIPS = "staging.stg_wmp__relationships"

#: What the profiles need of the incidents and offences, counted per cluster in the warehouse: a few hundred
#: rows instead of one per incident or offence (at national scale tens of millions, which do not fit).
_COUNTED_INCIDENTS = """
    SELECT c.cluster, i.is_da, i.is_non_crime, i.risk_level, count(*) AS n
    FROM marts.fct_incidents i JOIN analytics.offender_clusters c USING (offender_id)
    GROUP BY ALL ORDER BY ALL
"""
_COUNTED_OFFENCES = """
    SELECT c.cluster, o.is_da, o.offence_type, count(*) AS n
    FROM marts.fct_offences o JOIN analytics.offender_clusters c USING (offender_id)
    GROUP BY ALL ORDER BY ALL
"""


def _medoid_crimes_sql(con) -> str:
    """The crimes of the medoids' timelines: those they offended in and, when the staging victims are there,
    those they were a victim in (a temporary table, so that every read below is only of these crimes)."""
    as_victim = (
        f"UNION SELECT crime_number FROM {_VICTIMS} WHERE person_id IN (SELECT offender_id FROM _medoids)"
        if table_exists(con, _VICTIMS)
        else ""
    )
    return f"""
        CREATE OR REPLACE TEMP TABLE _medoids AS
            SELECT offender_id FROM analytics.offender_clusters WHERE is_medoid;
        CREATE OR REPLACE TEMP TABLE _medoid_crimes AS
            SELECT crime_number FROM marts.fct_offences WHERE offender_id IN (SELECT offender_id FROM _medoids)
            {as_victim};
    """


def _read_medoid_rows(con, relation: str) -> pd.DataFrame:
    """Every row of ``relation`` about a crime of the medoids' timelines, in the order of :func:`read_table`."""
    return con.execute(
        f"SELECT * FROM {relation} WHERE crime_number IN (SELECT crime_number FROM _medoid_crimes) ORDER BY ALL"
    ).df()


@dg.asset(
    key=CLUSTER_PROFILES,
    deps=[
        OFFENDER_CLUSTERS,
        mart("dim_offenders"),
        mart("fct_incidents"),
        mart("fct_offences"),
        staging("stg_wmp__victims"),
        staging("stg_wmp__relationships"),
    ],
    code_version=CODE_VERSION,
    group_name=GROUP,
    description="Per cluster what Tables 1–5 show (medians, bands, shares, risk grades, offence types), "
    "Groups A–E by the cluster-median rule, and the medoids' timelines. Incidents and offences are counted per "
    "cluster in the warehouse; only the medoids' own crimes are read row by row.",
)
def cluster_profiles(context: dg.AssetExecutionContext, platform: PlatformResource):
    with platform.connect() as con:
        clusters = read_table(con, "analytics.offender_clusters")
        dim = read_table(con, "marts.dim_offenders", _present_columns(con, "marts.dim_offenders"))
        incidents = con.execute(_COUNTED_INCIDENTS).df()
        offences = con.execute(_COUNTED_OFFENCES).df()
        con.execute(_medoid_crimes_sql(con))
        medoid_offences = _read_medoid_rows(con, "marts.fct_offences")
        victims = relationships = None
        if table_exists(con, _VICTIMS):
            victims = _columns_or_none(
                _read_medoid_rows(con, _VICTIMS), ["crime_number", "person_id", "age", "sex"]
            )
        if table_exists(con, _RELATIONSHIPS):
            relationships = _columns_or_none(
                _read_medoid_rows(con, _RELATIONSHIPS),
                ["crime_number", "victim_person_id", "offender_person_id", "relationship"],
            )
        profiles = typ.cluster_profiles(clusters, dim, incidents, offences) if len(clusters) else _NO_PROFILES
        medoids = clusters.loc[clusters["is_medoid"], ["cluster", "offender_id"]].sort_values("cluster")
        timelines = typ.medoid_timelines(medoids, medoid_offences, victims, relationships)
        write_table(con, "analytics.cluster_profiles", profiles)
        write_table(con, "analytics.medoid_timelines", timelines)
    if victims is None:
        context.log.warning("staging victims/relationships not found: timelines lack victim details")
    groups = (
        typ.group_summary(profiles)
        if len(profiles)
        else pd.DataFrame({"offender_group": [], "n_offenders": [], "clusters": []})
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(profiles),
            "groups": {
                g: int(n) for g, n in zip(groups["offender_group"], groups["n_offenders"], strict=True)
            },
            "clusters_by_group": {
                g: c for g, c in zip(groups["offender_group"], groups["clusters"], strict=True)
            },
            "timeline_rows": len(timelines),
        }
    )


def _present_columns(con, relation: str) -> list[str]:
    """The columns of ``typ.PROFILE_COLUMNS`` that ``relation`` has (the profiles leave out what is absent)."""
    schema, name = relation.split(".", 1)
    present = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()
    }
    return [c for c in typ.PROFILE_COLUMNS if c in present]


def _columns_or_none(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame | None:
    return frame[columns] if all(c in frame.columns for c in columns) else None


@dg.asset(
    key=REPORT,
    deps=[PCA, K_SWEEP, OFFENDER_CLUSTERS, CLUSTER_STABILITY, CLUSTER_PROFILES],
    code_version=CODE_VERSION,
    group_name=GROUP,
    description="The typology report (self-contained HTML): PCA, K sweep, stability, Tables 1–5, groups, "
    "medoid timelines, caveats.",
)
def typology_report(context: dg.AssetExecutionContext, platform: PlatformResource):
    with platform.connect() as con:
        tables = {
            name: read_table(con, f"analytics.{name}")
            for name in (
                "pca_variance",
                "typology_dropped",
                "k_sweep",
                "k_stability",
                "k_selection",
                "typology_fit",
                "cluster_profiles",
                "medoid_timelines",
                "typology_settings",
            )
        }
        optional = {
            name: read_table(con, f"analytics.{name}")
            for name in ("typology_imputed", "cluster_stability", "stability_resamples")
            if table_exists(con, f"analytics.{name}")
        }
    settings = tables["typology_settings"]
    selection = tables["k_selection"].iloc[0]
    pca_settings = settings[settings["asset"] == "pca"].set_index("setting")["value"]
    final_fit = tables["typology_fit"].iloc[0].to_dict()
    page = build_typology_report(
        variance=tables["pca_variance"],
        variance_target=float(pca_settings.get("variance_target", 0.9)),
        dropped=tables["typology_dropped"].iloc[0].to_dict(),
        sweep=tables["k_sweep"],
        chosen_k=int(selection["chosen_k"]) if pd.notna(selection["chosen_k"]) else 0,
        criterion=str(selection["criterion"]),
        exclude_k2=bool(selection["exclude_k2"]),
        stability=tables["k_stability"],
        profiles=tables["cluster_profiles"],
        timelines=tables["medoid_timelines"],
        final_fit=final_fit,
        settings={
            f"{a}.{s}": v for a, s, v in settings[["asset", "setting", "value"]].itertuples(index=False)
        },
        lineage=Lineage(run_id=context.run_id, code_version=CODE_VERSION),
        not_estimable=final_fit["reason"] if final_fit.get("status") == NOT_ESTIMABLE else None,
        imputed=optional.get("typology_imputed"),
        cluster_stability=optional.get("cluster_stability"),
        stability_resamples=optional.get("stability_resamples"),
    )
    path = platform.output_path("typology.html")
    path.write_text(page, encoding="utf-8")
    return dg.MaterializeResult(
        metadata={"path": dg.MetadataValue.path(str(path)), "bytes": len(page.encode("utf-8"))}
    )


# --- Checks on the clustering -----------------------------------------------------------------------------
# The blocking checks judge an estimated typology; when the data could not support one (too few offenders),
# there is nothing to judge and `typology_estimable` (WARN) says why.


def _nothing_to_judge(reason: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True, metadata={"judged": f"nothing: not estimable: {reason}"})


@dg.asset_check(
    asset=OFFENDER_CLUSTERS,
    description="The typology could be estimated on this data (WARN: otherwise says why; the tables are "
    "published empty with the reason).",
)
def typology_estimable(platform: PlatformResource) -> dg.AssetCheckResult:
    with platform.connect() as con:
        status, reason = _typology_status(con)
    return dg.AssetCheckResult(
        passed=status == ESTIMATED,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"typology: {reason}" if reason else None,
        metadata={"status": status, "reason": reason},
    )


def _clustering_check(description: str):
    """A blocking check of ``offender_clusters`` whose body ``judge(con)`` runs only on an estimated typology."""

    def wrap(judge):
        @dg.asset_check(name=judge.__name__, asset=OFFENDER_CLUSTERS, blocking=True, description=description)
        def check(platform: PlatformResource) -> dg.AssetCheckResult:
            with platform.connect() as con:
                status, reason = _typology_status(con)
                return judge(con) if status == ESTIMATED else _nothing_to_judge(reason)

        return check

    return wrap


@_clustering_check("Every cluster 1..K has at least one offender.")
def no_empty_cluster(con) -> dg.AssetCheckResult:
    k = int(read_table(con, "analytics.typology_fit")["k"].iloc[0])
    sizes = con.execute(
        "SELECT cluster, count(*) AS n FROM analytics.offender_clusters GROUP BY cluster"
    ).df()
    missing = sorted(set(range(1, k + 1)) - set(sizes["cluster"]))
    return dg.AssetCheckResult(
        passed=not missing and len(sizes) == k,
        metadata={"k": k, "empty_clusters": str(missing), "smallest_cluster": int(sizes["n"].min())},
    )


@_clustering_check("Each cluster has exactly one medoid, which belongs to it at distance 0.")
def medoids_belong_to_their_clusters(con) -> dg.AssetCheckResult:
    medoids = con.execute(
        "SELECT cluster, count(*) AS n, max(distance_to_medoid) AS d FROM analytics.offender_clusters "
        "WHERE is_medoid GROUP BY cluster"
    ).df()
    k = int(read_table(con, "analytics.typology_fit")["k"].iloc[0])
    ok = len(medoids) == k and (medoids["n"] == 1).all() and (medoids["d"] == 0).all()
    return dg.AssetCheckResult(passed=bool(ok), metadata={"k": k, "clusters_with_a_medoid": len(medoids)})


@_clustering_check("Cluster sizes add up to the clustered offenders (the PCA rows), each offender once.")
def sizes_sum_to_clustered_n(con) -> dg.AssetCheckResult:
    (n_scores,) = con.execute("SELECT count(*) FROM analytics.pca_scores").fetchone()
    n_rows, n_ids = con.execute(
        "SELECT count(*), count(DISTINCT offender_id) FROM analytics.offender_clusters"
    ).fetchone()
    return dg.AssetCheckResult(
        passed=bool(n_rows == n_scores == n_ids),
        metadata={"clustered": n_rows, "pca_rows": n_scores, "distinct_ids": n_ids},
    )


@dg.asset_check(
    asset=CLUSTER_PROFILES,
    blocking=True,
    description="Profile sizes add up to the clustered n; groups follow the median rule.",
)
def profiles_consistent(platform: PlatformResource) -> dg.AssetCheckResult:
    with platform.connect() as con:
        profiles = read_table(con, "analytics.cluster_profiles")
        (n_clustered,) = con.execute("SELECT count(*) FROM analytics.offender_clusters").fetchone()
    rule = [
        typ.offender_group(a, b)
        for a, b in zip(profiles["median_da_incidents"], profiles["median_non_da_incidents"], strict=True)
    ]
    groups_ok = list(profiles["offender_group"]) == rule
    return dg.AssetCheckResult(
        passed=bool(profiles["n_offenders"].sum() == n_clustered and groups_ok),
        metadata={
            "sum_of_sizes": int(profiles["n_offenders"].sum()),
            "clustered": int(n_clustered),
            "groups_follow_rule": groups_ok,
        },
    )


defs = dg.Definitions(
    assets=[typology_pca, k_sweep, offender_clusters, cluster_stability, cluster_profiles, typology_report],
    asset_checks=[
        typology_estimable,
        no_empty_cluster,
        medoids_belong_to_their_clusters,
        sizes_sum_to_clustered_n,
        profiles_consistent,
    ],
)
