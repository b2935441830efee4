"""Quality: Great Expectations suites on the marts (distributions and business rules), as warning checks.

The raw tables' blocking suites run in ``ingest``; structural rules (keys, relationships, accepted values)
are dbt tests. This module adds what dbt tests express badly: shares and distributions.
"""

import dagster as dg

from expectations import marts as mart_suites
from orchestration import keys
from orchestration.lib import gx_adapter
from orchestration.resources import PlatformResource


def _pca_features() -> list[str]:
    """The PCA features that are never NULL for a clustered offender (the rest may be missing by design)."""
    from ml.features import NEVER_MISSING_FEATURES

    return list(NEVER_MISSING_FEATURES)


def _run(
    platform: PlatformResource, sql: str, make_suite, key: dg.AssetKey, name: str
) -> dg.AssetCheckResult:
    gx_root = platform.resolved_warehouse_path.parent / "gx"
    gx_adapter.activate(gx_root)
    suite = make_suite()
    with platform.connect(read_only=True) as con:
        frame = con.execute(sql).df()
    validation = gx_adapter.validate(frame, suite, gx_root, name)
    gx_adapter.publish_data_docs(gx_root, platform.output_path("data_docs", "gx"))
    return gx_adapter.to_check_result(
        validation,
        key,
        "gx_distribution",
        dg.AssetCheckSeverity.WARN,
        metadata={"rows_validated": len(frame)},
    )


@dg.asset_check(
    asset=keys.mart("fct_incidents"),
    name="gx_distribution",
    blocking=False,
    pool="warehouse",
    description="GX: DA share, severity band shares, positive counts and durations",
)
def fct_incidents_distribution(platform: PlatformResource) -> dg.AssetCheckResult:
    return _run(
        platform,
        mart_suites.fct_incidents_frame_sql(),
        mart_suites.fct_incidents_suite,
        keys.mart("fct_incidents"),
        "marts_fct_incidents",
    )


@dg.asset_check(
    asset=keys.mart("dim_offenders"),
    name="gx_distribution",
    blocking=False,
    pool="warehouse",
    description="GX: one row per offender, single-incident share, no nulls in PCA features of eligible offenders",
)
def dim_offenders_distribution(platform: PlatformResource) -> dg.AssetCheckResult:
    features = _pca_features()
    return _run(
        platform,
        mart_suites.dim_offenders_frame_sql(features),
        lambda: mart_suites.dim_offenders_suite(features),
        keys.mart("dim_offenders"),
        "marts_dim_offenders",
    )


defs = dg.Definitions(asset_checks=[fct_incidents_distribution, dim_offenders_distribution])
