"""Lineage and audit assets: the run's dbt docs, its audit manifest (``audit/run_manifest``, written just
before publication from the run group's Dagster events) and OpenLineage events (openlineage-dbt for dbt,
dagster-openlineage for the rest, and a failure hook for a failed step). What each holds: docs/auditors.md.
"""

import inspect
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource

from dap import settings
from dap.lineage import facts
from dap.lineage import manifest as M
from dap.lineage import openlineage as OL
from orchestration.defs.transform import dbt_project
from orchestration.lib.code_version import source_version
from orchestration.resources import PlatformResource

MANIFEST_KEY = dg.AssetKey(["audit", "run_manifest"])
DBT_DOCS_KEY = dg.AssetKey(["reports", "dbt_docs"])
_EVENTS = dg.DagsterEventType


class DbtDocsConfig(dg.Config):
    enabled: bool = True
    """False skips `dbt docs generate` (about half a minute of a small run); OpenLineage then has no
    column types for dbt models. For quick runs and test matrices."""


def build_dbt_docs_asset(dbt_keys: Iterable[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=DBT_DOCS_KEY,
        deps=sorted(set(dbt_keys), key=lambda k: k.to_user_string()),
        group_name="reports",
        pool="warehouse",
        code_version=source_version(__name__),
        kinds={"dbt", "html"},
        description="dbt docs (static, offline) of this run's warehouse.",
    )
    def dbt_docs(config: DbtDocsConfig, platform: PlatformResource, dbt: DbtCliResource):
        """``dbt docs generate --static`` (through dagster-dbt) on the run's warehouse; its page, manifest
        and catalog → ``<output>/dbt_docs/``."""
        if not config.enabled:
            return dg.MaterializeResult(metadata={"skipped": True})
        destination = platform.output_path("dbt_docs", "index.html").parent
        with tempfile.TemporaryDirectory(prefix="dbt-docs-") as target:
            warehouse = json.dumps({"da_warehouse": str(platform.resolved_warehouse_path)})
            dbt.cli(["docs", "generate", "--static", "--vars", warehouse], target_path=Path(target)).wait()
            for name in ("static_index.html", "manifest.json", "catalog.json"):
                shutil.copyfile(Path(target, name), destination.joinpath(name.removeprefix("static_")))
        return dg.MaterializeResult(metadata={"path": str(destination / "index.html")})

    return dbt_docs


def plain(value: Any) -> Any:
    """A metadata value as plain JSON."""
    inner = getattr(value, "value", value)
    if isinstance(inner, dg.TableSchema):
        return [{"name": c.name, "type": c.type} for c in inner.columns]
    return json.loads(json.dumps(inner, default=str))  # anything else JSON cannot hold as its text


def collect_run_group(instance: dg.DagsterInstance, run_id: str) -> dict[str, Any]:
    """Materialisations, checks and step times of a run and of the runs it re-executed (dap run --resume),
    oldest first (a re-execution's events replace its parent's)."""
    runs: list[dg.DagsterRun] = []
    while run_id and run_id not in {r.run_id for r in runs}:
        runs.insert(0, instance.get_run_by_id(run_id))
        run_id = runs[0].parent_run_id
    found: dict[str, Any] = dict(runs=runs, failures=[], materializations={}, checks={}, evaluations={})
    found["started_at"] = M.iso(instance.get_run_record_by_id(runs[0].run_id).start_time)
    for run in runs:
        stats = {s.step_key: s for s in instance.get_run_step_stats(run.run_id)}
        failed = [s for s in stats.values() if s.status and s.status.value == "FAILURE"]
        found["failures"] += [{"run_id": run.run_id, "step": s.step_key, "at": s.end_time} for s in failed]
        of_type = {_EVENTS.ASSET_MATERIALIZATION, _EVENTS.ASSET_CHECK_EVALUATION}
        for entry in instance.all_logs(run.run_id, of_type=of_type):
            if mat := entry.asset_materialization:
                found["materializations"][mat.asset_key.to_user_string()] = {
                    "dagster_run_id": run.run_id,
                    "step": entry.step_key,
                    "started": getattr(stats.get(entry.step_key), "start_time", None) or entry.timestamp,
                    "at": entry.timestamp,
                    "tags": dict(mat.tags or {}),
                    "metadata": dict(mat.metadata or {}),
                }
                continue
            check = entry.asset_check_evaluation
            asset = check.asset_key.to_user_string()
            metadata = {k: plain(v) for k, v in check.metadata.items()}
            kind = M.classify_check(check.check_name, metadata)
            found["checks"][(asset, check.check_name)] = {
                "asset": asset,
                "name": check.check_name,
                "kind": kind,
                "passed": bool(check.passed),
                "severity": check.severity.value if check.severity else None,
                "blocking": check.blocking,
                "description": check.description or "",
                "dagster_run_id": run.run_id,
                "evaluated_at": M.iso(entry.timestamp),
                "metadata": metadata,
            }
            if kind != "dbt_test":  # dbt's tests: in openlineage-dbt's events
                found["evaluations"].setdefault(asset, []).append((run.run_id, entry.timestamp, check))
    return found


def _python_location(assets_def: dg.AssetsDefinition | None) -> dict[str, str]:
    """File, function and line of a Python asset (empty when it has no single decorated function)."""
    fn = getattr(getattr(getattr(assets_def, "op", None), "compute_fn", None), "decorated_fn", None)
    if fn is None or not inspect.getsourcefile(fn):
        return {}
    path = Path(inspect.getsourcefile(fn) or "").resolve()
    where = path.relative_to(settings.PROJECT_ROOT) if path.is_relative_to(settings.PROJECT_ROOT) else path
    return {"file": where.as_posix(), "function": fn.__qualname__, "line": str(inspect.getsourcelines(fn)[1])}


def asset_entries(repository_def, run: dict[str, Any], instance, dbt_lineage: dict[str, Any]) -> list[dict]:
    """One manifest entry per asset of the graph but the manifest and publish (see docs/auditors.md)."""
    graph, excluded = repository_def.asset_graph, {MANIFEST_KEY, dg.AssetKey(["publish", "warehouse"])}
    dbt_nodes = json.loads(Path(dbt_project().manifest_path).read_text())["nodes"]
    entries = []
    for key in sorted(graph.materializable_asset_keys - excluded, key=lambda k: k.to_user_string()):
        node, name = graph.get(key), key.to_user_string()
        unique_id, mat = plain(node.metadata.get("dagster_dbt/unique_id")), run["materializations"].get(name)
        metadata, tags = (mat["metadata"], mat["tags"]) if mat else ({}, {})
        last = {"run_id": mat["dagster_run_id"], "timestamp": M.iso(mat["at"])} if mat else None
        if not mat and (event := instance.get_latest_materialization_event(key)):
            last = {"run_id": event.run_id, "timestamp": M.iso(event.timestamp)}
        props = dbt_nodes.get(unique_id, {})
        entry: dict[str, Any] = {
            "key": name,
            "kind": "dbt" if unique_id else {"raw": "raw", "reports": "report"}.get(key.path[0], "python"),
            "group": node.group_name,
            "description": (node.description or "").strip().split("\n")[0],
            "upstream": sorted(p.to_user_string() for p in node.parent_keys),
            "code_version_declared": node.code_version,
            "materialized_in_this_run": bool(mat),
            "code_version": tags.get("dagster/code_version") or node.code_version,
            "data_version": tags.get("dagster/data_version"),
            "row_count": plain(metadata.get("dagster/row_count")),
            "column_lineage": dbt_lineage.get(name, {}),  # openlineage-dbt's, as on the materialisation
            "last_materialization": last,
        }
        if unique_id:
            entry["dbt"] = {
                "unique_id": unique_id,
                "path": "dbt_project/" + props.get("original_file_path", ""),
                "checksum": (props.get("checksum") or {}).get("checksum"),
                "materialized": (props.get("config") or {}).get("materialized"),
                "sql": props.get("raw_code"),
            }
        else:
            entry["python"] = _python_location(repository_def.assets_defs_by_key.get(key))
        if mat:
            entry |= {
                "dagster_run_id": mat["dagster_run_id"],
                "step": mat["step"],
                "started_at": M.iso(mat["started"]),
                "materialized_at": M.iso(mat["at"]),
                "input_data_versions": {
                    k.split("/", 2)[-1]: v
                    for k, v in tags.items()
                    if k.startswith("dagster/input_data_version/")
                },
                "columns": plain(metadata.get("dagster/column_schema")) or [],
                "metadata": {
                    k: plain(v)
                    for k, v in metadata.items()
                    if not k.startswith("dagster/") and k not in ("unique_id", "invocation_id")
                },
            }
        checks = [{k: c[k] for k in M.CHECK_FIELDS} for c in run["checks"].values() if c["asset"] == name]
        entries.append(entry | {"checks": checks})
    return entries


def step_run_id(dagster_run_id: str, key: str) -> str:
    """A stable OpenLineage run id (UUID) for one asset of one Dagster run."""
    return str(uuid.uuid5(uuid.UUID(dagster_run_id), f"{dagster_run_id}/{key}"))


def dagster_adapter(emitter: OL.Emitter):
    """dagster-openlineage's adapter writing through ``emitter`` (imported here: the package builds an
    OpenLineage client when imported)."""
    from dagster_openlineage import OpenLineageAdapter

    return OpenLineageAdapter(namespace=OL.NAMESPACE, emitter=emitter)


def emit_dagster_events(adapter, run: dict[str, Any], assets: list[dict]) -> None:
    """START and COMPLETE of every non-dbt asset materialised in ``run``, and its checks but dbt tests."""
    upstream = {a["key"]: a["upstream"] for a in assets if a["kind"] != "dbt"}
    for name, mat in ((n, m) for n, m in run["materializations"].items() if n in upstream):
        key, ol_run = dg.AssetKey.from_user_string(name), step_run_id(mat["dagster_run_id"], name)
        parents = [dg.AssetKey.from_user_string(k) for k in upstream[name]]
        adapter.asset_materialization_planned(key, ol_run, mat["started"])
        adapter.asset_materialization(
            key, ol_run, mat["at"], metadata=mat["metadata"], upstream_asset_keys=parents
        )
    for name, found in run["evaluations"].items():
        ol_run, at = step_run_id(found[0][0], f"{name}__checks"), max(t for _, t, _ in found)
        key, evaluations = dg.AssetKey.from_user_string(name), [e for _, _, e in found]
        adapter.asset_check_evaluation(key, evaluations, ol_run, at)


def emit_dbt_events(emitter: OL.Emitter, run: dict[str, Any], platform: PlatformResource, job: str) -> list:
    """openlineage-dbt's events of every ``dbt build`` of the run group (found by its invocation id)."""
    project, events = dbt_project(), []
    invocations = {
        plain(m["metadata"].get("invocation_id")): m["dagster_run_id"]
        for m in run["materializations"].values()
    }
    catalog, name = platform.output_path("dbt_docs", "catalog.json"), platform.resolved_warehouse_path.name
    for results in sorted((project.project_dir / project.target_path).glob("*/run_results.json")):
        if (invocation := json.loads(results.read_text())["metadata"].get("invocation_id")) in invocations:
            parent = {"run_id": invocations[invocation], "job_name": job}
            events += OL.dbt_events(project.project_dir, results.parent, catalog, name, parent)
    for event in events:
        emitter.emit(event)
    return events


def build_manifest_asset(upstream: Iterable[dg.AssetKey], repository) -> dg.AssetsDefinition:
    """``repository`` gives the whole platform's graph (a re-execution from failure sees only its subset)."""

    @dg.asset(
        key=MANIFEST_KEY,
        deps=sorted(set(upstream) | {DBT_DOCS_KEY}, key=lambda k: k.to_user_string()),
        group_name="audit",
        pool="warehouse",
        code_version=source_version(__name__, "dap.lineage.facts", "dap.lineage.manifest"),
        kinds={"json"},
        description="The run's audit manifest: input hashes, code version, every asset's versions and "
        "checks, configuration and output hashes (JSON), and the run's OpenLineage events.",
    )
    def run_manifest(context: dg.AssetExecutionContext, platform: PlatformResource) -> dg.MaterializeResult:
        run = collect_run_group(context.instance, context.run.run_id)
        emitter = OL.Emitter(platform.resolved_output_dir)
        dbt_lineage = OL.column_lineage_of(emit_dbt_events(emitter, run, platform, context.run.job_name))
        assets = asset_entries(repository(), run, context.instance, dbt_lineage)
        emit_dagster_events(dagster_adapter(emitter), run, assets)
        with platform.connect(read_only=True) as con:
            log = con.sql("SELECT * FROM raw._load_log ORDER BY table_name")
            inputs = facts.check_inputs(dict(zip(log.columns, row, strict=True)) for row in log.fetchall())
        checks = list(run["checks"].values())
        layout, warehouse = platform.layout, platform.resolved_warehouse_path
        manifest: dict[str, Any] = {
            "manifest_version": M.MANIFEST_VERSION,
            "run": {
                "run_id": platform.run_id,
                "dagster_run_ids": [r.run_id for r in run["runs"]],
                "job": context.run.job_name,
                "started_at": run["started_at"],
                "manifest_written_at": M.iso(time.time()),
                "config": run["runs"][0].run_config or {},
                "tags": {k: v for k, v in (context.run.tags or {}).items() if not k.startswith(".dagster")},
                "extract_dir": str(settings.extract_dir()),
                "warehouse_name": warehouse.name,
                "warehouse": str(warehouse),
                "output_dir": str(platform.resolved_output_dir),
                "published_warehouse": str(layout.published_warehouse),
                "failed_steps_before_resume": [f | {"at": M.iso(f["at"])} for f in run["failures"]],
            },
            "code": facts.code_facts(settings.PROJECT_ROOT),
            "inputs": inputs,
            "assets": assets,
            "checks": checks,
            "check_summary": M.check_summary(checks),
        }
        json_path = platform.output_path(*M.MANIFEST_PARTS)
        # The OpenLineage events are written by now, so the event file is among the hashed outputs.
        manifest["outputs"] = facts.hash_outputs(platform.resolved_output_dir, exclude=[json_path])
        M.write_manifest(manifest, json_path)
        if changed := [i["table"] for i in inputs if i.get("unchanged_during_run") is False]:
            context.log.warning(f"input files changed while the run was going: {changed}")
        summary, git = manifest["check_summary"], manifest["code"]["git"]
        return dg.MaterializeResult(
            data_version=dg.DataVersion(facts.sha256_file(json_path)),
            metadata={
                "manifest": dg.MetadataValue.path(json_path),
                "checks_failed": summary["failed"],
                "openlineage_events": emitter.emitted,
                "git_commit": git["commit"],
                "git_dirty": str(git["dirty"]),
                "dagster/row_count": len(assets),
            },
        )

    return run_manifest


@dg.failure_hook(required_resource_keys={"platform"})
def openlineage_failure_hook(context: dg.HookContext) -> None:
    """dagster-openlineage's START/FAIL events for the assets the run planned for a failed step (the
    manifest never runs then)."""
    planned = context.instance.all_logs(context.run_id, of_type=_EVENTS.ASSET_MATERIALIZATION_PLANNED)
    stats = context.instance.get_run_step_stats(context.run_id, step_keys=[context.step_key])
    started = (stats[0].start_time if stats else None) or time.time()
    error = context.op_exception
    message = (str(error) or type(error).__name__)[:2000] if error else "step failed"
    try:
        adapter = dagster_adapter(OL.Emitter(context.resources.platform.resolved_output_dir))
        for key in (e.dagster_event.asset_key for e in planned if e.step_key == context.step_key):
            ol_run = step_run_id(context.run_id, key.to_user_string())
            adapter.asset_materialization_planned(key, ol_run, started)
            adapter.asset_failed_to_materialize(key, ol_run, time.time(), error_message=message)
    except OSError as failure:  # the step's own failure is what the run must report
        context.log.warning(f"could not write OpenLineage FAIL events: {failure}")


def build_defs(
    upstream: Iterable[dg.AssetKey], dbt_keys: Iterable[dg.AssetKey], repository
) -> dg.Definitions:
    """The lineage assets; ``upstream`` is every asset the manifest must wait for (not publish) and
    ``repository()`` the whole platform's repository definition."""
    return dg.Definitions(assets=[build_dbt_docs_asset(dbt_keys), build_manifest_asset(upstream, repository)])
