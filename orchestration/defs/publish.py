"""Publication: the last step of a run switches the published warehouse and reports to this run's build.

It depends on every other asset, so it runs only when they all materialised and every blocking check
passed; a failed run never reaches it and the published version stays as it was (``dap.publication``).
"""

import json
from collections.abc import Iterable

import dagster as dg

from dap import publication
from orchestration.lib.code_version import source_version
from orchestration.resources import PlatformResource

PUBLISH_KEY = dg.AssetKey(["publish", "warehouse"])


class PublishConfig(dg.Config):
    keep_versions: int = publication.DEFAULT_KEEP_VERSIONS
    """How many published versions to keep for `dap rollback`."""


def build_publish_asset(upstream: Iterable[dg.AssetKey]) -> dg.AssetsDefinition:
    upstream = sorted(set(upstream), key=lambda k: k.to_user_string())

    @dg.asset(
        key=PUBLISH_KEY,
        deps=upstream,
        group_name="publish",
        pool="warehouse",
        code_version=source_version(__name__, "dap.publication"),
        kinds={"duckdb"},
        description="Atomically publishes this run's warehouse and reports.",
    )
    def publish_warehouse(
        context: dg.AssetExecutionContext, config: PublishConfig, platform: PlatformResource
    ):
        if not platform.is_build:
            context.log.info("the run wrote straight into its warehouse (no build folder): nothing to switch")
            return dg.MaterializeResult(metadata={"published": False})
        build_dir = platform.resolved_warehouse_path.parent
        version = publication.publish(
            platform.layout,
            build_dir,
            platform.run_id,
            keep=config.keep_versions,
            info={"dagster_run_id": context.run_id},
        )
        context.log.info(f"published version {version.name}")
        return dg.MaterializeResult(
            metadata={
                "published": True,
                "version": version.name,
                "warehouse": str(platform.layout.published_warehouse),
                "reports": str(platform.layout.reports_link),
                "versions_kept": json.dumps([v.name for v in publication.versions(platform.layout)]),
            }
        )

    return publish_warehouse
