"""Checks on the clustering and the profiles."""

import dagster as dg

from ml import typology as typ
from ml.estimability import ESTIMATED
from orchestration.defs.typology.common import (
    CLUSTER_PROFILES,
    OFFENDER_CLUSTERS,
    _typology_status,
)
from orchestration.lib.warehouse_io import read_table
from orchestration.resources import PlatformResource

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
