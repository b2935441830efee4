"""The platform in one screen: every domain's assets, checks, schedules and sensors, merged.

raw files ──ingest──▶ raw.* ──dbt──▶ staging / quarantine ─▶ intermediate ─▶ marts
marts ──ml──▶ analytics.* (typology, regressions, evaluation) ──▶ reports ──▶ publish (atomic switch)
"""

import dagster as dg

from orchestration.defs import (
    evaluation,
    ingest,
    lineage,
    operations,
    publish,
    quality,
    regression,
    transform,
    typology,
)
from orchestration.resources import default_platform


def _analytics(part: dg.Definitions) -> dg.Definitions:
    """The analytics domains' assets are Python over DuckDB tables: say so in the UI (``kinds``)."""
    return part.map_asset_specs(func=lambda spec: spec.merge_attributes(kinds={"python", "duckdb"}))


# Every domain is imported by name: a module that fails to import fails the definitions, loudly.
DOMAINS = [
    ingest.defs,
    transform.defs,
    quality.defs,
    *(_analytics(part) for part in (typology.defs, regression.defs, evaluation.defs)),
]


def _all_asset_keys(parts: list[dg.Definitions]) -> set[dg.AssetKey]:
    found: set[dg.AssetKey] = set()
    for part in parts:
        for asset in part.assets or []:
            if isinstance(asset, dg.AssetsDefinition):
                found.update(asset.keys)
    return found


# Lineage: dbt docs and the run's audit manifest wait for every other asset; publish waits for them.
DOMAINS.append(
    lineage.build_defs(_all_asset_keys(DOMAINS), transform.dbt_models.keys, lambda: defs.get_repository_def())
)
publish_asset = publish.build_publish_asset(_all_asset_keys(DOMAINS))

refresh_all = dg.define_asset_job(
    "refresh_all",
    selection=dg.AssetSelection.all(),
    description="Rebuild everything from the extract in DA_EXTRACT_DIR and publish it if every blocking check passes.",
    executor_def=dg.in_process_executor,
    hooks={lineage.openlineage_failure_hook},
)

defs = dg.Definitions.merge(
    *DOMAINS,
    operations.defs,
    dg.Definitions(
        assets=[publish_asset],
        jobs=[refresh_all],
        resources={"platform": default_platform()},
        executor=dg.in_process_executor,
    ),
)


def refresh_all_job() -> dg.JobDefinition:
    """Module-level accessor so the job can be reconstructed (re-execution from failure)."""
    return defs.resolve_job_def("refresh_all")
