"""Transform: the dbt project (staging → quarantine → intermediate → marts) as Dagster assets.

dbt models are keyed ``[schema, model]`` (e.g. ``marts/dim_offenders``) and sources map to the raw assets
(``raw/crimes``). ``dbt build`` runs models and tests together, so dbt tests become asset checks. Row counts
and column schemas are read from the warehouse after dbt has finished: DuckDB allows one writer process,
so nothing else may open the file while dbt is running.

Importing this module runs nothing and changes no environment: it reads the manifest that
``orchestration.lib.dbt_cli.prepare_manifest`` built (and says how to build it when it is missing or stale);
the run's warehouse reaches dbt as a ``--vars`` value of the one ``dbt build``.
"""

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from dap import settings
from dap.lineage import openlineage as OL
from orchestration.lib.dbt_cli import dbt_executable, require_manifest
from orchestration.resources import PlatformResource

DBT_PROFILES_DIR = settings.DBT_PROJECT_DIR


@cache
def dbt_project() -> DbtProject:
    """The one cached dbt project. Its manifest is built beforehand (``prepare_manifest``): a missing or
    stale one is an error naming the command, never a dbt run on import."""
    require_manifest()
    return DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=DBT_PROFILES_DIR)


class PlatformDbtTranslator(DagsterDbtTranslator):
    """Keys models by ``[schema, name]`` and groups them by schema; sources keep ``[source, table]``."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props.get("resource_type") in ("model", "seed", "snapshot"):
            schema = props.get("config", {}).get("schema") or props.get("schema") or "main"
            spec = spec.replace_attributes(key=dg.AssetKey([schema, props["name"]]), group_name=schema)
        return spec.merge_attributes(kinds={"duckdb"})


TRANSLATOR = PlatformDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=False)
)


def _relation_for(key: dg.AssetKey) -> str:
    return ".".join(f'"{part}"' for part in key.path[-2:])


def _event_key(context: dg.AssetExecutionContext, event) -> dg.AssetKey | None:
    """The asset a dbt materialisation is of (None for check results and other events)."""
    if isinstance(event, dg.AssetMaterialization):
        return event.asset_key
    return context.asset_key_for_output(event.output_name) if isinstance(event, dg.Output) else None


class DbtBuildConfig(dg.Config):
    """The dbt build step."""

    column_lineage: bool = True
    """Attach every model's column lineage (openlineage-dbt's, from the compiled SQL) to its materialisation
    after dbt finished. False leaves it out: for quick runs and test matrices."""


def _with_table_metadata(
    context: dg.AssetExecutionContext, platform, invocation, events: list, lineage: bool
):
    """Row counts and column schemas (read after dbt finished) on the dbt materialisations and, with
    ``lineage``, ``dagster/column_lineage`` from the columnLineage facets openlineage-dbt derives from this
    invocation's artifacts (the same lineage the audit manifest and `dap trace` use)."""
    keys = {id(e): k for e in events if (k := _event_key(context, e)) is not None}
    if not keys:
        return events
    found: dict[str, Any] = {}
    if lineage:
        parent = {"run_id": context.run.run_id, "job_name": context.run.job_name}
        name, target = platform.resolved_warehouse_path.name, Path(invocation.target_path)
        found = OL.column_lineage_of(OL.dbt_events(settings.DBT_PROJECT_DIR, target, None, name, parent))
    with platform.connect(read_only=True) as con:
        by_table: dict[tuple[str, ...], list] = {}
        for schema, table, column, dtype in con.execute(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
            "ORDER BY table_schema, table_name, ordinal_position"
        ).fetchall():
            by_table.setdefault((schema, table), []).append(dg.TableColumn(column, dtype))
        enriched = []
        for event in events:
            key, extra = keys.get(id(event)), {}
            if key is not None and tuple(key.path[-2:]) in by_table:
                extra["dagster/row_count"] = con.execute(
                    f"SELECT count(*) FROM {_relation_for(key)}"
                ).fetchone()[0]
                extra["dagster/column_schema"] = dg.TableSchema(columns=by_table[tuple(key.path[-2:])])
            if key is not None and found.get(key.to_user_string()):
                deps = found[key.to_user_string()].items()
                extra["dagster/column_lineage"] = dg.TableColumnLineage(
                    {
                        c: [
                            dg.TableColumnDep(dg.AssetKey.from_user_string(d["asset"]), d["column"])
                            for d in ds
                        ]
                        for c, ds in deps
                    }
                )
            enriched.append(event.with_metadata({**event.metadata, **extra}) if extra else event)
        return enriched


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    dagster_dbt_translator=TRANSLATOR,
    name="dbt_models",
    pool="warehouse",
)
def dbt_models(
    context: dg.AssetExecutionContext, config: DbtBuildConfig, dbt: DbtCliResource, platform: PlatformResource
):
    """`dbt build` on the run's warehouse: models and their tests (tests become asset checks)."""
    warehouse = {"da_warehouse": str(platform.resolved_warehouse_path)}  # read by profiles.yml
    invocation = dbt.cli(["build", "--vars", json.dumps(warehouse)], context=context, raise_on_error=False)
    yield from _with_table_metadata(
        context, platform, invocation, list(invocation.stream()), config.column_lineage
    )
    if not invocation.is_successful():
        failures = _dbt_failures(invocation)
        if len(failures) > 3:
            failures = [*failures[:3], f"and {len(failures) - 3} more"]
        raise dg.Failure(
            description="dbt build failed: "
            + "".join(f"{line}; " for line in failures)
            + "see the failed models and tests above",
            metadata={"dbt_log_tail": "\n".join(str(line) for line in list(invocation.get_stdout())[-40:])}
            if hasattr(invocation, "get_stdout")
            else {},
        )


def _dbt_failures(invocation) -> list[str]:
    """One line per dbt model or test that failed or errored, with the last line of dbt's message (e.g. a
    refused bad-row threshold: table, share, rules and an example value)."""
    try:
        results = invocation.get_artifact("run_results.json").get("results", [])
    except (OSError, ValueError):  # no (complete) artifact when dbt did not get as far as running anything
        return []
    lines = []
    for result in results:
        if result.get("status") not in ("error", "fail"):
            continue
        message = [line.strip() for line in (result.get("message") or "").splitlines() if line.strip()]
        parts = str(result.get("unique_id", "?")).split(".")  # e.g. test.<project>.<name>.<hash>
        name = parts[2] if len(parts) > 2 else parts[-1]
        lines.append(f"{name}: {message[-1].rstrip('.') if message else '?'}")
    return lines


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(
        project_dir=dbt_project(), profiles_dir=str(DBT_PROFILES_DIR), dbt_executable=dbt_executable()
    )


defs = dg.Definitions(assets=[dbt_models], resources={"dbt": dbt_resource()})
