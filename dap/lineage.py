"""Lineage and audit, as plain functions: the run manifest, OpenLineage events, `dap trace` and `dap audit`.

Nothing here imports Dagster: the orchestration layer (``orchestration/defs/lineage.py``) collects the
facts of a run from the Dagster instance and hands them to these functions, and the command-line tools
read the manifest a run left behind. That keeps every rule an auditor relies on testable on its own.

The manifest (``reports/audit/manifest.json``; ``MANIFEST_VERSION``) is one JSON document per run:

    run        the run id (the build folder's id), the Dagster run ids of the run group, times, job,
               run configuration and tags
    code       git commit, whether the working tree had uncommitted changes, Python and package versions
    inputs     every input file: table, path, SHA-256, rows read, and whether the file still had that
               hash when the run finished
    assets     every asset of the graph: kind (raw / dbt / python / report), its upstream assets, code
               version, data version, row count, when and by which run it was last materialised, its
               dbt node or Python function, its column lineage (where known) and its check results
    checks     every check evaluated in the run (dbt tests, Great Expectations suites, Python checks)
    outputs    every file the run wrote under its output folder, with SHA-256 and size
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import platform as _platform
import subprocess
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

MANIFEST_VERSION = 1
MANIFEST_PARTS = ("audit", "manifest.json")
MANIFEST_HTML_PARTS = ("audit", "manifest.html")
OPENLINEAGE_PARTS = ("lineage", "openlineage.jsonl")
OPENLINEAGE_NAMESPACE = "da_platform"
OPENLINEAGE_LOG_VARIABLE = "DA_OPENLINEAGE_LOG"
PRODUCER = "urn:da-perpetrator-platform:orchestration"

# The packages whose versions decide what a run computes.
PINNED_PACKAGES = (
    "da-perpetrator-platform",
    "dagster",
    "dagster-dbt",
    "dagster-webserver",
    "dbt-core",
    "dbt-duckdb",
    "duckdb",
    "great-expectations",
    "openlineage-python",
    "pandas",
    "numpy",
    "scipy",
    "scikit-learn",
    "statsmodels",
    "kmedoids",
    "pyarrow",
    "sqlglot",
)
# Asset key prefixes that are tables of the DuckDB warehouse.
WAREHOUSE_SCHEMAS = ("raw", "staging", "quarantine", "intermediate", "marts", "analytics", "audit")


# ── facts about files, code and packages ────────────────────────────────────────────────────────────


def sha256_file(path: Path | str, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_info(root: Path | str) -> dict[str, Any]:
    """The commit of the code that ran and whether tracked files had uncommitted changes ('unknown' when
    git or the repository is absent, e.g. in an installed copy)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {"commit": "unknown", "dirty": "unknown", "branch": "unknown", "changed_files": []}
    status = git("status", "--porcelain", "--untracked-files=no")
    changed = [line[3:] for line in (status or "").splitlines() if line.strip()]
    return {
        "commit": commit,
        "dirty": bool(changed) if status is not None else "unknown",
        "branch": git("rev-parse", "--abbrev-ref", "HEAD") or "unknown",
        "changed_files": changed,
    }


def package_versions(names: Iterable[str] = PINNED_PACKAGES) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def code_facts(root: Path | str) -> dict[str, Any]:
    return {
        "git": git_info(root),
        "python": _platform.python_version(),
        "platform": _platform.platform(terse=True),
        "packages": package_versions(),
    }


def hash_outputs(folder: Path, exclude: Iterable[Path] = ()) -> list[dict[str, Any]]:
    """Every file under ``folder`` (paths relative to it) with SHA-256 and size, sorted by path."""
    excluded = {Path(p).resolve() for p in exclude}
    rows = []
    if not folder.exists():
        return rows
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.resolve() in excluded:
            continue
        rows.append(
            {
                "path": path.relative_to(folder).as_posix(),
                "sha256": sha256_file(path),
                "bytes": path.stat().st_size,
            }
        )
    return rows


def _text(value: Any) -> str:
    """A load-log field as text: NULL (None, or NaN when it came through pandas) is the empty string."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def check_inputs(load_log: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The input files of a run from the raw load log, each re-hashed now (``unchanged_during_run``).

    An optional table the extract does not have (source ``absent``) is listed with no file, no hash and
    0 rows, so the manifest says it was looked for and not found."""
    inputs = []
    for row in load_log:
        file = _text(row.get("file"))
        rows = row.get("rows_read", row.get("rows"))
        entry = {
            "table": _text(row.get("table_name")) or _text(row.get("table")),
            "source": _text(row.get("source")),
            "file": file,
            "file_name": Path(file).name if file else "",
            "format": _text(row.get("format")),
            "sha256": _text(row.get("sha256")),
            "rows": None if rows is None or _text(rows) == "" else int(rows),
        }
        if file and Path(file).is_file():
            entry["sha256_at_end_of_run"] = sha256_file(file)
            entry["unchanged_during_run"] = entry["sha256_at_end_of_run"] == entry["sha256"]
        else:
            entry["sha256_at_end_of_run"] = ""
            entry["unchanged_during_run"] = False if file else None
        inputs.append(entry)
    return sorted(inputs, key=lambda e: str(e["table"]))


# ── the manifest ────────────────────────────────────────────────────────────────────────────────────


def classify_check(check_name: str, metadata: Mapping[str, Any]) -> str:
    """'dbt_test', 'great_expectations' or 'python' (what produced a check result)."""
    if "unique_id" in metadata and str(metadata.get("unique_id", "")).startswith("test."):
        return "dbt_test"
    if "suite" in metadata or check_name.startswith("gx") or "success_percent" in metadata:
        return "great_expectations"
    return "python"


def check_summary(checks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {"total": 0, "passed": 0, "failed": 0, "by_kind": {}}
    for check in checks:
        kind = summary["by_kind"].setdefault(check["kind"], {"total": 0, "passed": 0, "failed": 0})
        outcome = "passed" if check["passed"] else "failed"
        for bucket in (summary, kind):
            bucket["total"] += 1
            bucket[outcome] += 1
    return summary


def iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat() if timestamp else None


def load_manifest(path: Path | str) -> dict[str, Any]:
    manifest = json.loads(Path(path).read_text())
    if manifest.get("manifest_version") != MANIFEST_VERSION:
        raise ValueError(f"{path}: not an audit manifest of version {MANIFEST_VERSION}")
    return manifest


def write_manifest(manifest: Mapping[str, Any], json_path: Path, html_path: Path) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")
    html_path.write_text(render_manifest_html(manifest))


def _table(headers: list[str], rows: Iterable[Iterable[Any]], css: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{cell if isinstance(cell, _Raw) else html.escape('' if cell is None else str(cell))}</td>"
            for cell in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table class='{css}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class _Raw(str):
    """Already-escaped HTML in a table cell."""


def _ok(flag: Any) -> _Raw:
    if flag is True:
        return _Raw("<span class='ok'>pass</span>")
    if flag is False:
        return _Raw("<span class='bad'>FAIL</span>")
    return _Raw("<span class='muted'>–</span>")


def render_manifest_html(manifest: Mapping[str, Any]) -> str:
    """The manifest as one self-contained page for people (no scripts, no external assets)."""
    from ml.reporting import Lineage, Section, html_page

    run, code = manifest["run"], manifest["code"]
    git = code["git"]
    summary = manifest.get("check_summary") or check_summary(manifest.get("checks", []))
    overview = _table(
        ["", ""],
        [
            ("Run id", run["run_id"]),
            ("Dagster runs", ", ".join(run.get("dagster_run_ids", []))),
            ("Job", run.get("job")),
            ("Started", run.get("started_at")),
            ("Manifest written", run.get("manifest_written_at")),
            ("Git commit", git.get("commit")),
            ("Uncommitted changes", git.get("dirty")),
            ("Checks", f"{summary['passed']} of {summary['total']} passed, {summary['failed']} failed"),
        ],
        "kv",
    )
    inputs = _table(
        ["table", "file", "source", "rows", "sha256", "unchanged during run"],
        [
            (
                i["table"],
                i.get("file_name") or i.get("file"),
                i.get("source"),
                i.get("rows"),
                _Raw(f"<code>{html.escape(i.get('sha256') or '')}</code>"),
                _ok(i.get("unchanged_during_run")),
            )
            for i in manifest.get("inputs", [])
        ],
    )
    assets = _table(
        ["asset", "kind", "code version", "data version", "rows", "materialised", "run", "checks"],
        [
            (
                a["key"],
                a["kind"],
                a.get("code_version"),
                (a.get("data_version") or "")[:16],
                a.get("row_count"),
                a.get("materialized_at") or "not in this run",
                (a.get("dagster_run_id") or "")[:8],
                f"{sum(c['passed'] for c in a.get('checks', []))}/{len(a.get('checks', []))}"
                if a.get("checks")
                else "",
            )
            for a in manifest.get("assets", [])
        ],
    )
    failed = [c for c in manifest.get("checks", []) if not c["passed"]]
    checks = _table(
        ["asset", "check", "kind", "severity", "result", "description"],
        [
            (
                c["asset"],
                c["name"],
                c["kind"],
                c.get("severity"),
                _ok(c["passed"]),
                c.get("description") or "",
            )
            for c in sorted(manifest.get("checks", []), key=lambda c: (c["passed"], c["asset"], c["name"]))
        ],
    )
    outputs = _table(
        ["file", "bytes", "sha256"],
        [(o["path"], o["bytes"], _Raw(f"<code>{o['sha256']}</code>")) for o in manifest.get("outputs", [])],
    )
    packages = _table(["package", "version"], sorted(code.get("packages", {}).items()))
    config = f"<pre>{html.escape(json.dumps(run.get('config', {}), indent=2, default=str))}</pre>"
    docs = "".join(
        f"<li><a href='../{html.escape(path)}'>{html.escape(name)}</a></li>"
        for name, path in (manifest.get("docs") or {}).items()
        if path
    )
    sections = [
        Section(
            "Run",
            overview + (f"<p class='note'>{len(failed)} check(s) failed; see Checks.</p>" if failed else ""),
            "run",
        ),
        Section("Input files", inputs, "inputs"),
        Section("Assets", assets, "assets"),
        Section("Checks", checks, "checks"),
        Section("Output files", outputs, "outputs"),
        Section("Run configuration", config, "config"),
        Section("Packages", packages + f"<p>Python {html.escape(code.get('python', ''))}</p>", "packages"),
        Section("Documentation", f"<ul>{docs}</ul>" if docs else "<p>none generated</p>", "docs"),
    ]
    lineage = Lineage(
        run["run_id"],
        str(git.get("commit")),
        {i["table"]: i["sha256"] for i in manifest.get("inputs", []) if i.get("sha256")},
    )
    page = html_page(
        f"Audit manifest — run {run['run_id']}",
        sections,
        lineage,
        intro="<p>Which input files, code, checks and configuration produced this run's published "
        "figures. The same facts are in <code>manifest.json</code> and the warehouse's "
        "<code>audit</code> schema.</p>",
    )
    return page.replace(
        "</style>",
        ".ok{color:#176f2c;font-weight:600}.bad{color:#b00020;font-weight:700}"
        "table.kv td{text-align:left}</style>",
        1,
    )


# ── `dap audit`: do a run's inputs still match? ────────────────────────────────────────────────────


@dataclass
class InputCheck:
    table: str
    file: str
    expected: str
    actual: str | None
    status: str  # 'match', 'changed', 'missing', or 'absent' (an optional table the extract did not have)


def verify_inputs(manifest: Mapping[str, Any], relocate: Path | None = None) -> list[InputCheck]:
    """Recompute the SHA-256 of every input file of ``manifest`` (optionally looked up by file name in
    ``relocate`` instead of the recorded folder) and compare with the recorded hash."""
    checks = []
    for entry in manifest.get("inputs", []):
        file = _text(entry.get("file"))
        if entry.get("source") == "absent":
            checks.append(InputCheck(entry["table"], "", "", None, "absent"))
            continue
        if not file:
            continue
        path = (Path(relocate) / Path(file).name) if relocate else Path(file)
        if not path.is_file():
            checks.append(InputCheck(entry["table"], str(path), entry["sha256"], None, "missing"))
            continue
        actual = sha256_file(path)
        checks.append(
            InputCheck(
                entry["table"],
                str(path),
                entry["sha256"],
                actual,
                "match" if actual == entry["sha256"] else "changed",
            )
        )
    return checks


# ── `dap trace`: from a published table or column back to the raw files ──────────────────────────────


def key_of(table: str) -> str:
    """'analytics.cluster_profiles' or 'analytics/cluster_profiles' → 'analytics/cluster_profiles'."""
    return table.strip().replace(".", "/")


def relation_of(key: str) -> str:
    return key.replace("/", ".")


def parse_target(text: str, keys: Iterable[str]) -> tuple[str, str | None]:
    """Split 'schema.table[.column]' into an asset key and an optional column, using the known keys."""
    known = set(keys)
    parts = text.strip().replace("/", ".").split(".")
    for cut in range(len(parts), 0, -1):
        candidate = "/".join(parts[:cut])
        if candidate in known:
            column = ".".join(parts[cut:]) or None
            return candidate, column
    raise LookupError(text)


@dataclass
class TraceStep:
    key: str
    depth: int
    columns: list[str] = field(default_factory=list)
    via: str = ""  # 'column' when reached through column lineage, 'table' otherwise
    repeated: bool = False


def walk_upstream(
    assets: Mapping[str, Mapping[str, Any]], start: str, column: str | None = None
) -> list[TraceStep]:
    """Depth-first walk from ``start`` to the raw tables. With a column, follow column lineage where an
    asset records it and fall back to every upstream asset (table level) where it does not."""
    steps: list[TraceStep] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()

    def visit(key: str, depth: int, columns: list[str], via: str) -> None:
        marker = (key, tuple(sorted(columns)))
        steps.append(TraceStep(key, depth, sorted(columns), via, repeated=marker in seen))
        if marker in seen:
            return
        seen.add(marker)
        asset = assets.get(key) or {}
        upstream = list(asset.get("upstream", []))
        lineage = asset.get("column_lineage") or {}
        if columns and lineage and all(c in lineage for c in columns):
            by_parent: dict[str, set[str]] = {}
            for col in columns:
                for dep in lineage[col]:
                    by_parent.setdefault(dep["asset"], set()).add(dep["column"])
            for parent in sorted(by_parent):
                visit(parent, depth + 1, sorted(by_parent[parent]), "column")
            return
        if columns and asset.get("kind") == "raw":
            return
        for parent in sorted(upstream):
            visit(parent, depth + 1, [], "table")

    visit(start, 0, [column] if column else [], "")
    return steps


def describe_asset(asset: Mapping[str, Any]) -> str:
    kind = asset.get("kind")
    if kind == "dbt":
        dbt = asset.get("dbt") or {}
        return f"dbt model {dbt.get('path') or dbt.get('unique_id') or ''}".strip()
    if kind == "raw":
        return "raw table loaded by ingest (orchestration/defs/ingest.py)"
    code = asset.get("python") or {}
    where = f"{code.get('file', '')}:{code.get('function', '')}".strip(":")
    return f"{'report' if kind == 'report' else 'Python'} step {where}".strip()


def format_trace(manifest: Mapping[str, Any], target: str) -> str:
    """The human-readable answer of `dap trace`."""
    assets = {a["key"]: a for a in manifest["assets"]}
    inputs = {i["table"]: i for i in manifest.get("inputs", [])}
    key, column = parse_target(target, assets)
    steps = walk_upstream(assets, key, column)
    lines = [
        f"trace of {relation_of(key)}{'.' + column if column else ''} "
        f"(manifest of run {manifest['run']['run_id']}, commit {manifest['code']['git'].get('commit')})",
        "",
    ]
    for step in steps:
        asset = assets.get(step.key, {})
        indent = "  " * step.depth + ("← " if step.depth else "")
        cols = f" [{', '.join(step.columns)}]" if step.columns else ""
        if step.repeated:
            lines.append(f"{indent}{relation_of(step.key)}{cols} (see above)")
            continue
        lines.append(f"{indent}{relation_of(step.key)}{cols} — {describe_asset(asset)}")
        detail = "  " * step.depth + ("  " if step.depth else "") + "   "
        last = asset.get("last_materialization") or {}
        lines.append(
            f"{detail}code version {asset.get('code_version') or 'unknown'}"
            f" · data version {(asset.get('data_version') or 'unknown')[:16]}"
            f" · rows {asset.get('row_count') if asset.get('row_count') is not None else 'unknown'}"
            f" · last run {(last.get('run_id') or 'never')[:8]} at {last.get('timestamp') or '-'}"
        )
        if (
            column
            and asset.get("kind") not in ("raw",)
            and not (asset.get("column_lineage") or {}).get(step.columns[0] if step.columns else "", None)
            and step.columns
        ):
            lines.append(f"{detail}(no column lineage recorded for this step: all its inputs are listed)")
        if asset.get("kind") == "raw":
            table = step.key.split("/", 1)[1]
            info = inputs.get(table)
            if info and info.get("source") == "absent":
                lines.append(f"{detail}table absent from the extract (optional): the run read no rows")
            elif info:
                col_text = f" column(s) {', '.join(step.columns)} of" if step.columns else ""
                lines.append(
                    f"{detail}from{col_text} file {info.get('file')} ({info.get('source')}, "
                    f"{info.get('rows')} rows, sha256 {info.get('sha256')})"
                )
    raw = sorted({s.key for s in steps if assets.get(s.key, {}).get("kind") == "raw"})
    dbt = sorted({s.key for s in steps if assets.get(s.key, {}).get("kind") == "dbt"})
    python = sorted({s.key for s in steps if assets.get(s.key, {}).get("kind") in ("python", "report")})
    lines += [
        "",
        f"raw tables:   {', '.join(relation_of(k) for k in raw) or '-'}",
        f"dbt models:   {', '.join(relation_of(k) for k in dbt) or '-'}",
        f"Python steps: {', '.join(relation_of(k) for k in python) or '-'}",
    ]
    return "\n".join(lines)


# ── OpenLineage ──────────────────────────────────────────────────────────────────────────────────────


def dataset_for(key: str, warehouse_name: str) -> tuple[str, str]:
    """OpenLineage (namespace, name) of an asset: warehouse tables by relation, other assets by key."""
    parts = key.split("/")
    if parts[0] in WAREHOUSE_SCHEMAS and len(parts) == 2:
        return f"duckdb://{warehouse_name}", ".".join(parts)
    return f"dagster://{OPENLINEAGE_NAMESPACE}", key


def file_dataset(path: str) -> tuple[str, str]:
    """OpenLineage naming for a local file: namespace 'file', name the absolute path."""
    return "file", str(Path(path).resolve()) if path else path


def step_run_id(dagster_run_id: str, key: str) -> str:
    """A stable OpenLineage run id (UUID) for one asset of one Dagster run."""
    return str(
        uuid.uuid5(
            uuid.UUID(dagster_run_id) if _is_uuid(dagster_run_id) else uuid.NAMESPACE_URL,
            f"{dagster_run_id}/{key}",
        )
    )


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
        return True
    except (ValueError, TypeError):
        return False


def openlineage_events(manifest: Mapping[str, Any], failures: Iterable[Mapping[str, Any]] = ()) -> list:
    """START and COMPLETE events for every asset materialised in the run, and START/FAIL for every failed
    step in ``failures`` (``{"keys", "dagster_run_id", "started_at", "failed_at", "message"}``)."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunState
    from openlineage.client.facet_v2 import (
        column_lineage_dataset,
        data_quality_assertions_dataset,
        dataset_version_dataset,
        error_message_run,
        job_type_job,
        output_statistics_output_dataset,
        parent_run,
        processing_engine_run,
        schema_dataset,
        source_code_location_job,
        sql_job,
    )

    warehouse = manifest["run"].get("warehouse_name") or "warehouse.duckdb"
    assets = {a["key"]: a for a in manifest["assets"]}
    inputs = {i["table"]: i for i in manifest.get("inputs", [])}
    job_name = manifest["run"].get("job") or "refresh_all"
    versions = manifest["code"].get("packages", {})
    engine = processing_engine_run.ProcessingEngineRunFacet(
        version=versions.get("dagster", "unknown"),
        name="dagster",
        openlineageAdapterVersion=versions.get("openlineage-python", "unknown"),
    )

    def input_datasets(asset: Mapping[str, Any]) -> list:
        found = []
        if asset.get("kind") == "raw":
            info = inputs.get(asset["key"].split("/", 1)[1])
            if info and info.get("file"):
                namespace, name = file_dataset(info["file"])
                found.append(
                    InputDataset(
                        namespace,
                        name,
                        facets={
                            "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                                datasetVersion=info["sha256"]
                            )
                        },
                    )
                )
        for parent in asset.get("upstream", []):
            namespace, name = dataset_for(parent, warehouse)
            found.append(InputDataset(namespace, name))
        return found

    def output_dataset(asset: Mapping[str, Any]):
        namespace, name = dataset_for(asset["key"], warehouse)
        facets: dict[str, Any] = {}
        if asset.get("columns"):
            facets["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[
                    schema_dataset.SchemaDatasetFacetFields(name=c["name"], type=c.get("type") or None)
                    for c in asset["columns"]
                ]
            )
        lineage = asset.get("column_lineage") or {}
        if lineage:
            fields = {}
            for column, deps in lineage.items():
                input_fields = []
                for dep in deps:
                    dep_ns, dep_name = dataset_for(dep["asset"], warehouse)
                    input_fields.append(column_lineage_dataset.InputField(dep_ns, dep_name, dep["column"]))
                fields[column] = column_lineage_dataset.Fields(inputFields=input_fields)
            facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(fields=fields)
        if asset.get("data_version"):
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=asset["data_version"]
            )
        if asset.get("checks"):
            facets["dataQualityAssertions"] = (
                data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
                    assertions=[
                        data_quality_assertions_dataset.Assertion(
                            assertion=c["name"],
                            success=bool(c["passed"]),
                            severity=(c.get("severity") or "").lower() or None,
                        )
                        for c in asset["checks"]
                    ]
                )
            )
        output_facets = {}
        if isinstance(asset.get("row_count"), int):
            output_facets["outputStatistics"] = (
                output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                    rowCount=asset["row_count"]
                )
            )
        return OutputDataset(namespace, name, facets=facets, outputFacets=output_facets)

    def job_for(asset: Mapping[str, Any]) -> Any:
        facets: dict[str, Any] = {
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH",
                integration="DAGSTER",
                jobType="DBT_MODEL" if asset.get("kind") == "dbt" else "ASSET",
            )
        }
        dbt = asset.get("dbt") or {}
        if dbt.get("sql"):
            facets["sql"] = sql_job.SQLJobFacet(query=dbt["sql"], dialect="duckdb")
        code = asset.get("python") or {}
        path = dbt.get("path") or code.get("file")
        if path:
            facets["sourceCodeLocation"] = source_code_location_job.SourceCodeLocationJobFacet(
                type="git", url=f"file:{path}", path=path, version=str(manifest["code"]["git"].get("commit"))
            )
        return Job(namespace=OPENLINEAGE_NAMESPACE, name=relation_of(asset["key"]), facets=facets)

    def parent(dagster_run_id: str) -> Any:
        return parent_run.ParentRunFacet(
            run=parent_run.Run(
                runId=dagster_run_id if _is_uuid(dagster_run_id) else step_run_id(dagster_run_id, "")
            ),
            job=parent_run.Job(namespace=OPENLINEAGE_NAMESPACE, name=job_name),
        )

    events = []
    for asset in manifest["assets"]:
        if not asset.get("materialized_in_this_run"):
            continue
        dagster_run_id = asset["dagster_run_id"]
        run = Run(
            runId=step_run_id(dagster_run_id, asset["key"]),
            facets={"parent": parent(dagster_run_id), "processing_engine": engine},
        )
        job, step_inputs = job_for(asset), input_datasets(asset)
        events.append(
            _run_event(
                RunState.START, asset.get("started_at") or asset["materialized_at"], run, job, step_inputs
            )
        )
        events.append(
            _run_event(
                RunState.COMPLETE, asset["materialized_at"], run, job, step_inputs, [output_dataset(asset)]
            )
        )
    for failure in failures:
        for key in failure["keys"]:
            asset = assets.get(key, {"key": key, "upstream": failure.get("upstream", {}).get(key, [])})
            run = Run(
                runId=step_run_id(failure["dagster_run_id"], key),
                facets={
                    "parent": parent(failure["dagster_run_id"]),
                    "processing_engine": engine,
                    "errorMessage": error_message_run.ErrorMessageRunFacet(
                        message=failure.get("message") or "step failed",
                        programmingLanguage="python",
                        stackTrace=failure.get("stack_trace") or None,
                    ),
                },
            )
            job, step_inputs = job_for(asset), input_datasets(asset)
            events.append(_run_event(RunState.START, failure["started_at"], run, job, step_inputs))
            events.append(_run_event(RunState.FAIL, failure["failed_at"], run, job, step_inputs))
    return events


def openlineage_log_paths(output_dir: Path) -> list[Path]:
    """Where events go: the run's ``lineage/openlineage.jsonl`` and the platform's cumulative log
    (``$DA_OPENLINEAGE_LOG``, default ``$DAGSTER_HOME/openlineage.jsonl``; empty to switch it off)."""
    paths = [output_dir.joinpath(*OPENLINEAGE_PARTS)]
    cumulative = os.environ.get(OPENLINEAGE_LOG_VARIABLE)
    if cumulative is None and os.environ.get("DAGSTER_HOME"):
        cumulative = str(Path(os.environ["DAGSTER_HOME"]) / "openlineage.jsonl")
    if cumulative:
        paths.append(Path(cumulative).expanduser())
    return paths


def emit_openlineage(events: list, paths: Iterable[Path]) -> int:
    """Emit ``events`` through the OpenLineage client, one JSON object a line, to each of ``paths``; also to
    a configured OpenLineage backend when OPENLINEAGE_URL or OPENLINEAGE_CONFIG is set."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.file import FileConfig, FileTransport

    clients = []
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        clients.append(
            OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=str(path), append=True)))
        )
    if os.environ.get("OPENLINEAGE_URL") or os.environ.get("OPENLINEAGE_CONFIG"):
        clients.append(OpenLineageClient())
    for client in clients:
        for event in events:
            client.emit(event)
    return len(events)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with open(path) as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _run_event(state, event_time, run, job, inputs, outputs=()):
    """One OpenLineage run event of this platform (START, COMPLETE or FAIL) for a step."""
    from openlineage.client.event_v2 import RunEvent

    return RunEvent(
        eventType=state,
        eventTime=event_time,
        run=run,
        job=job,
        inputs=inputs,
        outputs=list(outputs),
        producer=PRODUCER,
    )
