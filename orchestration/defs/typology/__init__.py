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

Modules: ``clustering`` (PCA, K sweep, final fit, stability), ``profiles`` (profiles, report), ``checks``,
``config`` (run config), ``common`` (keys, code version, shared reads and writes).

Every setting is run config with a documented default; ``analytics.typology_settings`` records the
settings each asset ran with, so the report states them.
"""

import dagster as dg

from orchestration.defs.typology.checks import (
    medoids_belong_to_their_clusters,
    no_empty_cluster,
    profiles_consistent,
    sizes_sum_to_clustered_n,
    typology_estimable,
)
from orchestration.defs.typology.clustering import cluster_stability, k_sweep, offender_clusters, typology_pca
from orchestration.defs.typology.config import FinalFitConfig, KSweepConfig, PCAConfig, StabilityConfig
from orchestration.defs.typology.profiles import (
    _COUNTED_INCIDENTS,
    _COUNTED_OFFENCES,
    _medoid_crimes_sql,
    _present_columns,
    _read_medoid_rows,
    cluster_profiles,
    typology_report,
)

__all__ = [
    "FinalFitConfig",
    "KSweepConfig",
    "PCAConfig",
    "StabilityConfig",
    "_COUNTED_INCIDENTS",
    "_COUNTED_OFFENCES",
    "_medoid_crimes_sql",
    "_present_columns",
    "_read_medoid_rows",
    "defs",
]

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
