"""Lineage and audit assets (what each artefact holds: docs/auditors.md).

``reports/dbt_docs``    ``dbt docs generate --static`` on the run's warehouse → ``<output>/dbt_docs/``.
``audit/run_manifest``  waits for every asset but ``publish/warehouse``; from the run group's Dagster events,
                        the raw load log, git and packages writes ``audit/manifest.{json,html}``, the ``audit``
                        tables and the OpenLineage events (openlineage-dbt for dbt, dagster-openlineage else).
``openlineage_failure_hook``  on ``refresh_all``: dagster-openlineage's FAIL events for a failed step.
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
import pandas as pd
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
DBT_COLUMN_LINEAGE_PARTS = ("lineage", "dbt_column_lineage.json")
AUDIT_COLUMNS = {
    "runs": ("dagster_run_ids", "job", "started_at", "manifest_written_at", "git_commit", "git_dirty")
    + ("python", "packages", "run_config", "checks_total", "checks_failed"),
    "run_inputs": ("table", "source", "file", "format", "sha256", "rows", "unchanged_during_run"),
    "run_assets": ("asset_key", "kind", "materialized_in_this_run", "dagster_run_id", "code_version")
    + ("data_version", "row_count", "materialized_at", "upstream"),
    "run_checks": ("asset", "name", "kind", "passed", "severity", "description", "dagster_run_id"),
    "run_outputs": ("path", "sha256", "bytes"),
}
_EVENTS = dg.DagsterEventType
_EVENT_TYPES = {_EVENTS.RUN_START, _EVENTS.STEP_START, _EVENTS.STEP_FAILURE}
_EVENT_TYPES |= {_EVENTS.ASSET_MATERIALIZATION, _EVENTS.ASSET_CHECK_EVALUATION}


class DbtDocsConfig(dg.Config):
    """The dbt docs report."""

    enabled: bool = True
    """False skips `dbt docs generate` (about half a minute of a small run); OpenLineage then has no
    column types for dbt models. For quick runs and test matrices."""


def generate_dbt_docs(dbt: DbtCliResource, warehouse: Path, destination: Path) -> None:
    """``dbt docs generate --static`` (through dagster-dbt) on ``warehouse``: page, manifest, catalog → ``destination``."""
    with tempfile.TemporaryDirectory(prefix="dbt-docs-") as target:
        args = ["docs", "generate", "--static", "--vars", json.dumps({"da_warehouse": str(warehouse)})]
        dbt.cli(args, target_path=Path(target)).wait()
        shutil.rmtree(destination, ignore_errors=True)
        destination.mkdir(parents=True)
        for source, name in (
            ("static_index.html", "index.html"),
            ("manifest.json",) * 2,
            ("catalog.json",) * 2,
        ):
            shutil.copyfile(Path(target) / source, destination / name)


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
    def dbt_docs(
        context: dg.AssetExecutionContext,
        config: DbtDocsConfig,
        platform: PlatformResource,
        dbt: DbtCliResource,
    ):
        if not config.enabled:
            context.log.info("dbt docs skipped by run config (enabled: false)")
            return dg.MaterializeResult(metadata={"skipped": True})
        destination = platform.output_path("dbt_docs", "index.html").parent
        generate_dbt_docs(dbt, platform.resolved_warehouse_path, destination)
        return dg.MaterializeResult(metadata={"path": str(destination / "index.html")})

    return dbt_docs


# ── reading a run from the Dagster instance ──────────────────────────────────────────────────────────


def plain(value: Any) -> Any:
    """A metadata value as plain JSON."""
    inner = getattr(value, "value", value)
    if isinstance(inner, dg.TableSchema):
        return [{"name": c.name, "type": c.type} for c in inner.columns]
    if isinstance(inner, int | float | str | bool) or inner is None:
        return inner
    return json.loads(json.dumps(inner, default=str)) if isinstance(inner, dict | list) else str(inner)


def collect_run_group(instance: dg.DagsterInstance, run_id: str) -> dict[str, Any]:
    """Materialisations, checks and step times of a run and of the runs it re-executed (dap run --resume)."""
    runs: dict[str, dg.DagsterRun] = {}
    current = instance.get_run_by_id(run_id)
    while current is not None and current.run_id not in runs:
        runs[current.run_id] = current
        current = instance.get_run_by_id(current.parent_run_id) if current.parent_run_id else None
    found: dict[str, Any] = {"runs": list(reversed(runs.values()))}  # a re-execution follows its parent
    found |= {"materializations": {}, "checks": {}, "evaluations": {}, "failures": [], "started_at": None}
    step_started: dict[tuple[str, str], float] = {}
    for run in found["runs"]:
        for entry in instance.all_logs(run.run_id, of_type=_EVENT_TYPES):
            event, kind, at = entry.dagster_event, entry.dagster_event.event_type, entry.timestamp
            if kind == _EVENTS.RUN_START:
                found["started_at"] = found["started_at"] or M.iso(at)
            elif kind == _EVENTS.STEP_START:
                step_started[(run.run_id, event.step_key)] = at
            elif kind == _EVENTS.STEP_FAILURE:
                found["failures"].append({"run_id": run.run_id, "step": event.step_key, "at": at})
            elif kind == _EVENTS.ASSET_MATERIALIZATION:
                mat = event.event_specific_data.materialization
                found["materializations"][mat.asset_key.to_user_string()] = {
                    "dagster_run_id": run.run_id,
                    "step": event.step_key,
                    "started": step_started.get((run.run_id, event.step_key), at),
                    "at": at,
                    "tags": dict(mat.tags or {}),
                    "metadata": dict(mat.metadata or {}),
                }
            elif kind == _EVENTS.ASSET_CHECK_EVALUATION:
                evaluation = event.event_specific_data
                metadata = {k: plain(v) for k, v in (evaluation.metadata or {}).items()}
                asset, check_kind = (
                    evaluation.asset_key.to_user_string(),
                    M.classify_check(evaluation.check_name, metadata),
                )
                found["checks"][(asset, evaluation.check_name)] = {
                    "asset": asset,
                    "name": evaluation.check_name,
                    "kind": check_kind,
                    "passed": bool(evaluation.passed),
                    "severity": evaluation.severity.value if evaluation.severity else None,
                    "blocking": evaluation.blocking,
                    "description": evaluation.description or "",
                    "dagster_run_id": run.run_id,
                    "evaluated_at": M.iso(at),
                    "metadata": metadata,
                }
                if check_kind != "dbt_test":  # dbt tests' events come from openlineage-dbt
                    found["evaluations"].setdefault(asset, []).append((run.run_id, at, evaluation))
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
    checks: dict[str, list] = {}
    for check in run["checks"].values():
        checks.setdefault(check["asset"], []).append({k: check[k] for k in M.CHECK_FIELDS})
    entries = []
    for key in sorted(graph.materializable_asset_keys - excluded, key=lambda k: k.to_user_string()):
        node, name = graph.get(key), key.to_user_string()
        unique_id, mat = plain(node.metadata.get("dagster_dbt/unique_id")), run["materializations"].get(name)
        metadata, tags = (mat["metadata"], mat["tags"]) if mat else ({}, {})
        last = instance.get_latest_materialization_event(key) if not mat else None
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
            "last_materialization": {"run_id": mat["dagster_run_id"], "timestamp": M.iso(mat["at"])}
            if mat
            else last and {"run_id": last.run_id, "timestamp": M.iso(last.timestamp)},
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
        entries.append(entry | {"checks": checks.get(name, [])})
    return entries


def write_audit_tables(platform: PlatformResource, manifest: dict[str, Any]) -> None:
    """One set of rows per run in the warehouse's ``audit`` schema (earlier runs' rows are kept)."""
    run, code, summary = manifest["run"], manifest["code"], manifest["check_summary"]
    runs = run | {
        "dagster_run_ids": ",".join(run["dagster_run_ids"]),
        "git_commit": code["git"]["commit"],
        "git_dirty": str(code["git"]["dirty"]),
        "python": code["python"],
        "packages": json.dumps(code["packages"], sort_keys=True),
        "run_config": json.dumps(run["config"], sort_keys=True, default=str),
        "checks_total": summary["total"],
        "checks_failed": summary["failed"],
    }
    assets = [
        a | {"asset_key": a["key"], "row_count": a["row_count"] if isinstance(a["row_count"], int) else None}
        for a in manifest["assets"]
    ]
    rows = {"runs": [runs], "run_inputs": manifest["inputs"], "run_checks": manifest["checks"]}
    rows |= {
        "run_assets": [a | {"upstream": ",".join(a["upstream"])} for a in assets],
        "run_outputs": manifest["outputs"],
    }
    with platform.connect() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS audit")
        for table, columns in AUDIT_COLUMNS.items():
            frame = pd.DataFrame(
                [{"run_id": run["run_id"], **{c: r.get(c) for c in columns}} for r in rows[table]],
                columns=["run_id", *columns],
            )
            con.register("_frame", frame)
            con.execute(f"CREATE TABLE IF NOT EXISTS audit.{table} AS SELECT * FROM _frame LIMIT 0")
            con.execute(f"DELETE FROM audit.{table} WHERE run_id = ?", [run["run_id"]])
            con.execute(f"INSERT INTO audit.{table} BY NAME SELECT * FROM _frame")
            con.unregister("_frame")


# ── OpenLineage: openlineage-dbt for dbt, dagster-openlineage for the rest ───────────────────────────


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
    by_key = {a["key"]: a for a in assets}
    for name, mat in run["materializations"].items():
        if by_key.get(name, {}).get("kind") == "dbt":
            continue  # openlineage-dbt's events describe dbt models
        key, ol_run = dg.AssetKey.from_user_string(name), step_run_id(mat["dagster_run_id"], name)
        upstream = [dg.AssetKey.from_user_string(k) for k in by_key.get(name, {}).get("upstream", [])]
        adapter.asset_materialization_planned(key, ol_run, mat["started"])
        adapter.asset_materialization(
            key, ol_run, mat["at"], metadata=mat["metadata"], upstream_asset_keys=upstream
        )
    for name, found in run["evaluations"].items():
        ol_run, at = step_run_id(found[0][0], f"{name}__checks"), max(t for _, t, _ in found)
        adapter.asset_check_evaluation(
            dg.AssetKey.from_user_string(name), [e for _, _, e in found], ol_run, at
        )


def emit_dbt_events(emitter: OL.Emitter, run: dict[str, Any], platform: PlatformResource, job: str) -> list:
    """openlineage-dbt's events of every ``dbt build`` of the run group (found by its invocation id)."""
    project = dbt_project()
    invocations = {plain(m["metadata"].get("invocation_id")): m for m in run["materializations"].values()}
    invocations.pop(None, None)
    catalog, name = platform.output_path("dbt_docs", "catalog.json"), platform.resolved_warehouse_path.name
    events = []
    for results in sorted((project.project_dir / project.target_path).glob("*/run_results.json")):
        invocation = json.loads(results.read_text())["metadata"].get("invocation_id")
        if invocation in invocations:
            parent = {"run_id": invocations[invocation]["dagster_run_id"], "job_name": job}
            events += OL.dbt_events(project.project_dir, results.parent, catalog, name, parent)
    for event in events:
        emitter.emit(event)
    return events


def build_manifest_asset(upstream: Iterable[dg.AssetKey], repository) -> dg.AssetsDefinition:
    """``repository`` gives the whole platform's graph (a re-execution from failure sees only its subset)."""
    upstream = sorted(set(upstream) | {DBT_DOCS_KEY}, key=lambda k: k.to_user_string())

    @dg.asset(
        key=MANIFEST_KEY,
        deps=upstream,
        group_name="audit",
        pool="warehouse",
        code_version=source_version(
            __name__, "dap.lineage.facts", "dap.lineage.manifest", "dap.lineage.render"
        ),
        kinds={"json", "html", "duckdb"},
        description="The run's audit manifest: input hashes, code version, every asset's versions and "
        "checks, configuration and output hashes (JSON, HTML, audit schema, OpenLineage).",
    )
    def run_manifest(context: dg.AssetExecutionContext, platform: PlatformResource) -> dg.MaterializeResult:
        run = collect_run_group(context.instance, context.run.run_id)
        emitter = OL.Emitter(OL.log_paths(platform.resolved_output_dir))
        dbt_events = emit_dbt_events(emitter, run, platform, context.run.job_name)
        dbt_lineage = OL.column_lineage_of(dbt_events)
        lineage_file = platform.output_path(*DBT_COLUMN_LINEAGE_PARTS)
        lineage_file.write_text(json.dumps(dbt_lineage, indent=1, sort_keys=True))
        assets = asset_entries(repository(), run, context.instance, dbt_lineage)
        emit_dagster_events(dagster_adapter(emitter), run, assets)
        with platform.connect(read_only=True) as con:
            log = con.sql("SELECT * FROM raw._load_log ORDER BY table_name")
            inputs = facts.check_inputs(dict(zip(log.columns, row, strict=True)) for row in log.fetchall())
        root, checks = run["runs"][0] if run["runs"] else context.run, list(run["checks"].values())
        docs = {"dbt docs": "dbt_docs/index.html", "Great Expectations Data Docs": "data_docs/gx/index.html"}
        manifest: dict[str, Any] = {
            "manifest_version": M.MANIFEST_VERSION,
            "run": {
                "run_id": platform.run_id,
                "dagster_run_ids": [r.run_id for r in run["runs"]],
                "job": context.run.job_name,
                "started_at": run["started_at"],
                "manifest_written_at": M.iso(time.time()),
                "config": root.run_config or {},
                "tags": {k: v for k, v in (context.run.tags or {}).items() if not k.startswith(".dagster")},
                "extract_dir": str(settings.extract_dir()),
                "warehouse_name": platform.resolved_warehouse_path.name,
                "warehouse": str(platform.resolved_warehouse_path),
                "output_dir": str(platform.resolved_output_dir),
                "published_warehouse": str(platform.layout.published_warehouse),
                "failed_steps_before_resume": [f | {"at": M.iso(f["at"])} for f in run["failures"]],
            },
            "code": facts.code_facts(settings.PROJECT_ROOT),
            "inputs": inputs,
            "assets": assets,
            "checks": checks,
            "check_summary": M.check_summary(checks),
            "docs": {k: v if platform.output_path(*v.split("/")).exists() else "" for k, v in docs.items()},
        }
        json_path, html_path = (platform.output_path(*p) for p in (M.MANIFEST_PARTS, M.MANIFEST_HTML_PARTS))
        # The OpenLineage events are written by now, so the event file is among the hashed outputs.
        manifest["outputs"] = facts.hash_outputs(platform.resolved_output_dir, exclude=[json_path, html_path])
        M.write_manifest(manifest, json_path, html_path)
        write_audit_tables(platform, manifest)
        changed = [i["table"] for i in inputs if i.get("unchanged_during_run") is False]
        if changed:
            context.log.warning(f"input files changed while the run was going: {changed}")
        return dg.MaterializeResult(
            data_version=dg.DataVersion(facts.sha256_file(json_path)),
            metadata={
                "manifest": dg.MetadataValue.path(str(json_path)),
                "manifest_html": dg.MetadataValue.path(str(html_path)),
                "inputs": len(inputs),
                "assets_materialised": sum(a["materialized_in_this_run"] for a in assets),
                "checks": manifest["check_summary"]["total"],
                "checks_failed": manifest["check_summary"]["failed"],
                "openlineage_events": emitter.emitted,
                "git_commit": manifest["code"]["git"]["commit"],
                "git_dirty": str(manifest["code"]["git"]["dirty"]),
                "dagster/row_count": len(assets),
            },
        )

    return run_manifest


@dg.failure_hook(required_resource_keys={"platform"})
def openlineage_failure_hook(context: dg.HookContext) -> None:
    """dagster-openlineage's START/FAIL events for the assets of a failed step (the manifest never runs
    then). The step's assets are those the run planned for it."""
    started, keys = time.time(), []
    of_type = {_EVENTS.STEP_START, _EVENTS.ASSET_MATERIALIZATION_PLANNED}
    for entry in context.instance.all_logs(context.run_id, of_type=of_type):
        if entry.dagster_event.step_key == context.step_key:
            if entry.dagster_event.event_type == _EVENTS.STEP_START:
                started = entry.timestamp
            else:
                keys.append(entry.dagster_event.asset_key)
    error = context.op_exception
    message = (str(error) or type(error).__name__)[:2000] if error else "step failed"
    try:
        emitter = OL.Emitter(OL.log_paths(context.resources.platform.resolved_output_dir))
        adapter = dagster_adapter(emitter)
        for key in keys:
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
