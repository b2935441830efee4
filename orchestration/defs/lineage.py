"""Lineage and audit: dbt docs, the run's audit manifest and its OpenLineage events.

``reports/dbt_docs``    ``dbt docs generate --static`` on the run's warehouse → ``<output>/dbt_docs/``
                        (one self-contained page), plus the column lineage of every dbt model computed
                        from the compiled SQL and dbt's catalog (``<output>/lineage/dbt_column_lineage.json``).
``audit/run_manifest``  depends on every other asset except ``publish/warehouse``; reads the run group's
                        events from the Dagster instance (materialisations, check evaluations, code and
                        data versions, row counts), the raw load log, git, package versions and the run
                        configuration, hashes every output file, and writes
                          <output>/audit/manifest.json and manifest.html,
                          the warehouse tables audit.runs, audit.run_inputs, audit.run_assets,
                          audit.run_checks and audit.run_outputs (one set of rows per run, kept across runs),
                          OpenLineage START/COMPLETE events per asset (``dap.lineage.openlineage_log_paths``).
``openlineage_failure_hook``  on the ``refresh_all`` job: START/FAIL events for a step that failed.

The rules (what goes in the manifest, how events and traces are built) are in ``dap.lineage``.
"""

import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dagster as dg

from dap import lineage as L
from dap import settings
from orchestration.lib.code_version import source_version
from orchestration.resources import PlatformResource

MANIFEST_KEY = dg.AssetKey(["audit", "run_manifest"])
DBT_DOCS_KEY = dg.AssetKey(["reports", "dbt_docs"])
DBT_COLUMN_LINEAGE_PARTS = ("lineage", "dbt_column_lineage.json")
AUDIT_TABLES = ("runs", "run_inputs", "run_assets", "run_checks", "run_outputs")

_EVENT_TYPES = {
    dg.DagsterEventType.RUN_START,
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
}


# ── dbt docs ─────────────────────────────────────────────────────────────────────────────────────────


def _dbt_executable() -> str:
    local = Path(sys.executable).with_name("dbt")
    return str(local) if local.exists() else "dbt"


def generate_dbt_docs(
    warehouse: Path, destination: Path, lineage_file: Path, known_lineage: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run ``dbt docs generate --static`` against ``warehouse``; copy the site into ``destination`` and
    write the column lineage of every model to ``lineage_file``. Returns counts for metadata.

    ``known_lineage`` (asset key → lineage as JSON): the column lineage this run's ``dbt build`` already
    attached to its materialisations (the same sqlglot resolution of the same compiled SQL); written as it is
    instead of being resolved a second time (that is most of this step's time: 71 of 120 s at wmp)."""
    from orchestration.defs.transform import TRANSLATOR
    from orchestration.lib import column_lineage

    env = {**os.environ, "DA_DBT_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    with tempfile.TemporaryDirectory(prefix="dbt-docs-") as target:
        done = subprocess.run(
            [
                _dbt_executable(),
                "docs",
                "generate",
                "--static",
                "--project-dir",
                str(settings.DBT_PROJECT_DIR),
                "--profiles-dir",
                str(settings.DBT_PROJECT_DIR),
                "--target-path",
                target,
                "--log-path",
                target,
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise dg.Failure(
                description="dbt docs generate failed",
                metadata={"dbt_output_tail": done.stdout[-4000:] + done.stderr[-2000:]},
            )
        if destination.exists():
            shutil.rmtree(destination)
        destination.mkdir(parents=True)
        target_dir = Path(target)
        shutil.copyfile(target_dir / "static_index.html", destination / "index.html")
        for name in ("manifest.json", "catalog.json"):
            shutil.copyfile(target_dir / name, destination / name)
        manifest = json.loads((target_dir / "manifest.json").read_text())
        catalog = json.loads((target_dir / "catalog.json").read_text())
        models = [uid for uid, node in manifest["nodes"].items() if node.get("resource_type") == "model"]
        lineage = (
            {}
            if known_lineage
            else column_lineage.column_lineage(
                manifest, target_dir, column_lineage.columns_from_catalog(catalog), models, TRANSLATOR
            )
        )
    by_key = dict(known_lineage or {})
    for unique_id, found in lineage.items():
        key = TRANSLATOR.get_asset_spec(manifest, unique_id, None).key.to_user_string()
        by_key[key] = column_lineage.lineage_to_json(found)
    lineage_file.parent.mkdir(parents=True, exist_ok=True)
    lineage_file.write_text(json.dumps(by_key, indent=1, sort_keys=True))
    return {"models": len(models), "models_with_column_lineage": len(by_key)}


class DbtDocsConfig(dg.Config):
    """The dbt docs report."""

    enabled: bool = True
    """False skips `dbt docs generate` and the column lineage file (about half a minute of a small run);
    the manifest then records no column lineage for dbt models. For quick runs and test matrices."""


def _lineage_of_this_run(
    context: dg.AssetExecutionContext, dbt_keys: Iterable[dg.AssetKey]
) -> dict[str, Any]:
    """The column lineage that this run's ``dbt build`` attached to its models (asset key → JSON); empty when
    dbt did not run in this run (a resumed run) or ran without column lineage, so that it is computed here."""
    from orchestration.lib.column_lineage import lineage_to_json

    found: dict[str, Any] = {}
    for key in dbt_keys:
        event = context.instance.get_latest_materialization_event(key)
        if event is None or event.run_id != context.run_id:
            continue
        lineage = event.asset_materialization.metadata.get("dagster/column_lineage")
        inner = getattr(lineage, "value", lineage)
        if isinstance(inner, dg.TableColumnLineage):
            found[key.to_user_string()] = lineage_to_json(inner)
    return found


def build_dbt_docs_asset(dbt_keys: Iterable[dg.AssetKey]) -> dg.AssetsDefinition:
    dbt_keys = sorted(set(dbt_keys), key=lambda k: k.to_user_string())

    @dg.asset(
        key=DBT_DOCS_KEY,
        deps=sorted(set(dbt_keys), key=lambda k: k.to_user_string()),
        group_name="reports",
        pool="warehouse",
        code_version=source_version(__name__, "dap.lineage", "orchestration.lib.column_lineage"),
        kinds={"dbt", "html"},
        description="dbt docs (static, offline) of this run's warehouse and the column lineage of every model.",
    )
    def dbt_docs(
        context: dg.AssetExecutionContext, config: DbtDocsConfig, platform: PlatformResource
    ) -> dg.MaterializeResult:
        if not config.enabled:
            context.log.info("dbt docs skipped by run config (enabled: false)")
            return dg.MaterializeResult(metadata={"skipped": True})
        destination = platform.output_path("dbt_docs", "index.html").parent
        known = _lineage_of_this_run(context, dbt_keys)
        if known:
            context.log.info(f"column lineage of {len(known)} models reused from this run's dbt build")
        counts = generate_dbt_docs(
            platform.resolved_warehouse_path,
            destination,
            platform.output_path(*DBT_COLUMN_LINEAGE_PARTS),
            known_lineage=known,
        )
        context.log.info(f"dbt docs: {destination / 'index.html'}")
        return dg.MaterializeResult(metadata={"path": str(destination / "index.html"), **counts})

    return dbt_docs


# ── reading a run from the Dagster instance ──────────────────────────────────────────────────────────


def _plain(value: Any) -> Any:
    """A metadata value as plain JSON."""
    inner = getattr(value, "value", value)
    if isinstance(inner, dg.TableSchema):
        return [{"name": c.name, "type": c.type} for c in inner.columns]
    if isinstance(inner, dg.TableColumnLineage):
        from orchestration.lib.column_lineage import lineage_to_json

        return lineage_to_json(inner)
    if isinstance(inner, int | float | str | bool) or inner is None:
        return inner
    if isinstance(inner, dict | list):
        return json.loads(json.dumps(inner, default=str))
    return str(inner)


def collect_run_group(instance: dg.DagsterInstance, run_id: str) -> dict[str, Any]:
    """Materialisations, checks and step times of a run and of the runs it re-executed."""
    # This run and the runs it re-executes (dap run --resume), back to the first one.
    runs = {}
    current = instance.get_run_by_id(run_id)
    while current is not None and current.run_id not in runs:
        runs[current.run_id] = current
        current = instance.get_run_by_id(current.parent_run_id) if current.parent_run_id else None
    records = {
        r.dagster_run.run_id: r.create_timestamp.timestamp()
        for r in instance.get_run_records(filters=dg.RunsFilter(run_ids=list(runs)))
    }
    runs = sorted(runs.values(), key=lambda r: records.get(r.run_id, 0.0))
    materializations: dict[str, dict[str, Any]] = {}
    checks: dict[tuple[str, str], dict[str, Any]] = {}
    step_started: dict[tuple[str, str], float] = {}
    failures = []
    started_at = None
    for run in runs:
        for entry in instance.all_logs(run.run_id, of_type=_EVENT_TYPES):
            event = entry.dagster_event
            kind = event.event_type
            if kind == dg.DagsterEventType.RUN_START and started_at is None:
                started_at = entry.timestamp
            elif kind == dg.DagsterEventType.STEP_START:
                step_started[(run.run_id, event.step_key)] = entry.timestamp
            elif kind == dg.DagsterEventType.STEP_FAILURE:
                failures.append({"run_id": run.run_id, "step": event.step_key, "at": entry.timestamp})
            elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
                mat = event.event_specific_data.materialization
                key = mat.asset_key.to_user_string()
                materializations[key] = {
                    "dagster_run_id": run.run_id,
                    "step": event.step_key,
                    "started_at": L.iso(step_started.get((run.run_id, event.step_key))),
                    "materialized_at": L.iso(entry.timestamp),
                    "tags": dict(mat.tags or {}),
                    "metadata": {k: v for k, v in (mat.metadata or {}).items()},
                }
            elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation = event.event_specific_data
                metadata = {k: _plain(v) for k, v in (evaluation.metadata or {}).items()}
                checks[(evaluation.asset_key.to_user_string(), evaluation.check_name)] = {
                    "asset": evaluation.asset_key.to_user_string(),
                    "name": evaluation.check_name,
                    "kind": L.classify_check(evaluation.check_name, metadata),
                    "passed": bool(evaluation.passed),
                    "severity": evaluation.severity.value if evaluation.severity else None,
                    "blocking": evaluation.blocking,
                    "description": evaluation.description or "",
                    "dagster_run_id": run.run_id,
                    "evaluated_at": L.iso(entry.timestamp),
                    "metadata": metadata,
                }
    return {
        "runs": runs,
        "materializations": materializations,
        "checks": list(checks.values()),
        "failures": failures,
        "started_at": L.iso(started_at),
    }


def _python_location(assets_def: dg.AssetsDefinition | None) -> dict[str, str]:
    try:
        fn = assets_def.op.compute_fn.decorated_fn  # type: ignore[union-attr]
        path = Path(inspect.getsourcefile(fn) or "").resolve()
        try:
            path = path.relative_to(settings.PROJECT_ROOT)
        except ValueError:
            pass
        return {
            "file": path.as_posix(),
            "function": fn.__qualname__,
            "line": str(inspect.getsourcelines(fn)[1]),
        }
    except (AttributeError, TypeError, OSError):
        return {}


def _dbt_manifest() -> dict[str, Any]:
    try:
        from orchestration.defs.transform import dbt_project

        return json.loads(Path(dbt_project().manifest_path).read_text())
    except (OSError, ValueError, ImportError):
        return {"nodes": {}}


def asset_entries(
    repository_def,
    facts: dict[str, Any],
    instance: dg.DagsterInstance,
    dbt_lineage: dict[str, Any],
    exclude: Iterable[dg.AssetKey],
) -> list[dict[str, Any]]:
    """One entry per asset of the graph (see ``dap.lineage``)."""
    graph = repository_def.asset_graph
    excluded = set(exclude)
    dbt_manifest = _dbt_manifest()
    checks_by_asset: dict[str, list] = {}
    for check in facts["checks"]:
        checks_by_asset.setdefault(check["asset"], []).append(
            {k: check[k] for k in ("name", "kind", "passed", "severity", "description")}
        )
    entries = []
    for key in sorted(graph.materializable_asset_keys, key=lambda k: k.to_user_string()):
        if key in excluded:
            continue
        node = graph.get(key)
        name = key.to_user_string()
        unique_id = node.metadata.get("dagster_dbt/unique_id")
        unique_id = getattr(unique_id, "value", unique_id)
        kind = (
            "dbt"
            if unique_id
            else "raw"
            if key.path[0] == "raw"
            else "report"
            if key.path[0] == "reports"
            else "python"
        )
        entry: dict[str, Any] = {
            "key": name,
            "kind": kind,
            "group": node.group_name,
            "description": (node.description or "").strip().splitlines()[0] if node.description else "",
            "upstream": sorted(p.to_user_string() for p in node.parent_keys),
            "code_version_declared": node.code_version,
        }
        if unique_id:
            props = dbt_manifest["nodes"].get(unique_id, {})
            entry["dbt"] = {
                "unique_id": unique_id,
                "path": "dbt_project/" + props.get("original_file_path", ""),
                "checksum": (props.get("checksum") or {}).get("checksum"),
                "materialized": (props.get("config") or {}).get("materialized"),
                "sql": props.get("raw_code"),
            }
        else:
            entry["python"] = _python_location(repository_def.assets_defs_by_key.get(key))
        mat = facts["materializations"].get(name)
        if mat:
            metadata = mat["metadata"]
            row_count = metadata.get("dagster/row_count")
            entry.update(
                {
                    "materialized_in_this_run": True,
                    "dagster_run_id": mat["dagster_run_id"],
                    "step": mat["step"],
                    "started_at": mat["started_at"],
                    "materialized_at": mat["materialized_at"],
                    "code_version": mat["tags"].get("dagster/code_version") or node.code_version,
                    "data_version": mat["tags"].get("dagster/data_version"),
                    "input_data_versions": {
                        k.split("/", 2)[-1]: v
                        for k, v in mat["tags"].items()
                        if k.startswith("dagster/input_data_version/")
                    },
                    "row_count": _plain(row_count) if row_count is not None else None,
                    "columns": _plain(metadata["dagster/column_schema"])
                    if "dagster/column_schema" in metadata
                    else [],
                    "column_lineage": (
                        _plain(metadata["dagster/column_lineage"])
                        if "dagster/column_lineage" in metadata
                        else dbt_lineage.get(name, {})
                    ),
                    "metadata": {
                        k: _plain(v)
                        for k, v in metadata.items()
                        if not k.startswith("dagster/") and k not in ("unique_id", "invocation_id")
                    },
                    "last_materialization": {
                        "run_id": mat["dagster_run_id"],
                        "timestamp": mat["materialized_at"],
                    },
                }
            )
        else:
            last = instance.get_latest_materialization_event(key)
            entry.update(
                {
                    "materialized_in_this_run": False,
                    "code_version": node.code_version,
                    "data_version": None,
                    "row_count": None,
                    "column_lineage": dbt_lineage.get(name, {}),
                    "last_materialization": {"run_id": last.run_id, "timestamp": L.iso(last.timestamp)}
                    if last
                    else None,
                }
            )
        entry["checks"] = checks_by_asset.get(name, [])
        entries.append(entry)
    return entries


def _load_log(platform: PlatformResource) -> list[dict[str, Any]]:
    """The raw load log as plain rows; NULL stays None (an absent optional table has no file and no hash)."""
    con = platform.connect(read_only=True)
    try:
        cursor = con.execute("SELECT * FROM raw._load_log ORDER BY table_name")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except Exception:
        return []
    finally:
        con.close()


def write_audit_tables(platform: PlatformResource, manifest: dict[str, Any]) -> None:
    """One set of rows per run in the warehouse's ``audit`` schema (earlier runs' rows are kept)."""
    import pandas as pd

    run_id = manifest["run"]["run_id"]
    run, code = manifest["run"], manifest["code"]
    frames = {
        "runs": pd.DataFrame(
            [
                {
                    "run_id": run_id,
                    "dagster_run_ids": ",".join(run["dagster_run_ids"]),
                    "job": run["job"],
                    "started_at": run["started_at"],
                    "manifest_written_at": run["manifest_written_at"],
                    "git_commit": code["git"]["commit"],
                    "git_dirty": str(code["git"]["dirty"]),
                    "python": code["python"],
                    "packages": json.dumps(code["packages"], sort_keys=True),
                    "run_config": json.dumps(run["config"], sort_keys=True, default=str),
                    "checks_total": manifest["check_summary"]["total"],
                    "checks_failed": manifest["check_summary"]["failed"],
                }
            ]
        ),
        "run_inputs": pd.DataFrame(
            [
                {
                    "run_id": run_id,
                    **{
                        k: i.get(k)
                        for k in (
                            "table",
                            "source",
                            "file",
                            "format",
                            "sha256",
                            "rows",
                            "unchanged_during_run",
                        )
                    },
                }
                for i in manifest["inputs"]
            ],
            columns=["run_id", "table", "source", "file", "format", "sha256", "rows", "unchanged_during_run"],
        ),
        "run_assets": pd.DataFrame(
            [
                {
                    "run_id": run_id,
                    "asset_key": a["key"],
                    "kind": a["kind"],
                    "materialized_in_this_run": a["materialized_in_this_run"],
                    "dagster_run_id": a.get("dagster_run_id"),
                    "code_version": a.get("code_version"),
                    "data_version": a.get("data_version"),
                    "row_count": a.get("row_count") if isinstance(a.get("row_count"), int) else None,
                    "materialized_at": a.get("materialized_at"),
                    "upstream": ",".join(a["upstream"]),
                }
                for a in manifest["assets"]
            ],
            columns=[
                "run_id",
                "asset_key",
                "kind",
                "materialized_in_this_run",
                "dagster_run_id",
                "code_version",
                "data_version",
                "row_count",
                "materialized_at",
                "upstream",
            ],
        ),
        "run_checks": pd.DataFrame(
            [
                {
                    "run_id": run_id,
                    **{
                        k: c.get(k)
                        for k in (
                            "asset",
                            "name",
                            "kind",
                            "passed",
                            "severity",
                            "description",
                            "dagster_run_id",
                        )
                    },
                }
                for c in manifest["checks"]
            ],
            columns=[
                "run_id",
                "asset",
                "name",
                "kind",
                "passed",
                "severity",
                "description",
                "dagster_run_id",
            ],
        ),
        "run_outputs": pd.DataFrame(
            [{"run_id": run_id, **o} for o in manifest["outputs"]],
            columns=["run_id", "path", "sha256", "bytes"],
        ),
    }
    con = platform.connect()
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS audit")
        for table, frame in frames.items():
            con.register("_frame", frame)
            con.execute(f"CREATE TABLE IF NOT EXISTS audit.{table} AS SELECT * FROM _frame LIMIT 0")
            con.execute(f"DELETE FROM audit.{table} WHERE run_id = ?", [run_id])
            con.execute(f"INSERT INTO audit.{table} BY NAME SELECT * FROM _frame")
            con.unregister("_frame")
    finally:
        con.close()


def build_manifest_asset(upstream: Iterable[dg.AssetKey]) -> dg.AssetsDefinition:
    upstream = sorted(set(upstream) | {DBT_DOCS_KEY}, key=lambda k: k.to_user_string())

    @dg.asset(
        key=MANIFEST_KEY,
        deps=upstream,
        group_name="audit",
        pool="warehouse",
        code_version=source_version(__name__, "dap.lineage", "orchestration.lib.column_lineage"),
        kinds={"json", "html", "duckdb"},
        description="The run's audit manifest: input hashes, code version, every asset's versions and "
        "checks, configuration and output hashes (JSON, HTML, audit schema, OpenLineage).",
    )
    def run_manifest(context: dg.AssetExecutionContext, platform: PlatformResource) -> dg.MaterializeResult:
        run = context.run
        facts = collect_run_group(context.instance, run.run_id)
        repository = context.repository_def
        if not set(upstream) <= set(repository.asset_graph.get_all_asset_keys()):
            # A re-execution from failure sees only its subset of the graph: describe the whole platform.
            from orchestration import definitions

            repository = definitions.defs.get_repository_def()
        lineage_file = platform.output_path(*DBT_COLUMN_LINEAGE_PARTS)
        dbt_lineage = json.loads(lineage_file.read_text()) if lineage_file.exists() else {}
        assets = asset_entries(
            repository,
            facts,
            context.instance,
            dbt_lineage,
            exclude={MANIFEST_KEY, dg.AssetKey(["publish", "warehouse"])},
        )
        inputs = L.check_inputs(_load_log(platform))
        root = facts["runs"][0] if facts["runs"] else run
        manifest: dict[str, Any] = {
            "manifest_version": L.MANIFEST_VERSION,
            "run": {
                "run_id": platform.run_id,
                "dagster_run_ids": [r.run_id for r in facts["runs"]],
                "job": run.job_name,
                "started_at": facts["started_at"],
                "manifest_written_at": L.iso(time.time()),
                "config": root.run_config or {},
                "tags": {k: v for k, v in (run.tags or {}).items() if not k.startswith(".dagster")},
                "extract_dir": str(settings.extract_dir()),
                "warehouse_name": platform.resolved_warehouse_path.name,
                "warehouse": str(platform.resolved_warehouse_path),
                "output_dir": str(platform.resolved_output_dir),
                "published_warehouse": str(platform.layout.published_warehouse),
                "failed_steps_before_resume": facts["failures"],
            },
            "code": L.code_facts(settings.PROJECT_ROOT),
            "inputs": inputs,
            "assets": assets,
            "checks": facts["checks"],
            "check_summary": L.check_summary(facts["checks"]),
            "docs": {
                "dbt docs": "dbt_docs/index.html"
                if platform.output_path("dbt_docs", "index.html").exists()
                else "",
                "Great Expectations Data Docs": "data_docs/gx/index.html"
                if platform.output_path("data_docs", "gx", "index.html").exists()
                else "",
            },
        }
        # OpenLineage first, so the event file is itself among the hashed outputs.
        events = L.openlineage_events(manifest)
        L.emit_openlineage(events, L.openlineage_log_paths(platform.resolved_output_dir))
        json_path = platform.output_path(*L.MANIFEST_PARTS)
        html_path = platform.output_path(*L.MANIFEST_HTML_PARTS)
        manifest["outputs"] = L.hash_outputs(platform.resolved_output_dir, exclude=[json_path, html_path])
        L.write_manifest(manifest, json_path, html_path)
        write_audit_tables(platform, manifest)
        changed = [i["table"] for i in inputs if i.get("unchanged_during_run") is False]
        if changed:
            context.log.warning(f"input files changed while the run was going: {changed}")
        return dg.MaterializeResult(
            data_version=dg.DataVersion(L.sha256_file(json_path)),
            metadata={
                "manifest": dg.MetadataValue.path(str(json_path)),
                "manifest_html": dg.MetadataValue.path(str(html_path)),
                "inputs": len(inputs),
                "assets_materialised": sum(a["materialized_in_this_run"] for a in assets),
                "checks": manifest["check_summary"]["total"],
                "checks_failed": manifest["check_summary"]["failed"],
                "openlineage_events": len(events),
                "git_commit": manifest["code"]["git"]["commit"],
                "git_dirty": str(manifest["code"]["git"]["dirty"]),
                "dagster/row_count": len(assets),
            },
        )

    return run_manifest


# ── FAIL events ──────────────────────────────────────────────────────────────────────────────────────


@dg.failure_hook(required_resource_keys={"platform"})
def openlineage_failure_hook(context: dg.HookContext) -> None:
    """START/FAIL OpenLineage events for the assets of a failed step (the manifest never runs then)."""
    try:
        step = context._step_execution_context  # noqa: SLF001 - the hook API does not expose the asset keys
        assets_def = step.job_def.asset_layer.get_assets_def_for_node(step.node_handle)
        keys = sorted(k.to_user_string() for k in (assets_def.keys if assets_def else []))
        if not keys:
            return
        graph = step.job_def.asset_layer
        upstream = {
            k: sorted(p.to_user_string() for p in graph.get(dg.AssetKey.from_user_string(k)).parent_keys)
            for k in keys
        }
        started = None
        for entry in context.instance.all_logs(context.run_id, of_type=dg.DagsterEventType.STEP_START):
            if entry.dagster_event.step_key == context.step_key:
                started = entry.timestamp
        exception = context.op_exception
        platform: PlatformResource = context.resources.platform
        manifest = {
            "run": {
                "run_id": platform.run_id,
                "job": context.job_name,
                "warehouse_name": platform.resolved_warehouse_path.name,
            },
            "code": {"git": L.git_info(settings.PROJECT_ROOT), "packages": L.package_versions()},
            "inputs": [],
            "assets": [],
        }
        now = time.time()
        failure = {
            "keys": keys,
            "upstream": upstream,
            "dagster_run_id": context.run_id,
            "started_at": L.iso(started or now),
            "failed_at": L.iso(now),
            "message": (str(exception) or type(exception).__name__)[:2000] if exception else "step failed",
        }
        events = L.openlineage_events(manifest, [failure])
        L.emit_openlineage(events, L.openlineage_log_paths(platform.resolved_output_dir))
    except Exception as error:  # lineage must never hide the real failure
        context.log.warning(f"could not write OpenLineage FAIL events: {error}")


def build_defs(upstream: Iterable[dg.AssetKey], dbt_keys: Iterable[dg.AssetKey]) -> dg.Definitions:
    """The lineage assets; ``upstream`` is every asset the manifest must wait for (not publish)."""
    return dg.Definitions(assets=[build_dbt_docs_asset(dbt_keys), build_manifest_asset(upstream)])
