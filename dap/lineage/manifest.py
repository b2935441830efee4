"""The run's audit manifest (``reports/audit/manifest.json``, one JSON document per run; what its parts
record: docs/auditors.md), `dap audit` (do the inputs still match?) and `dap trace` (walk it upstream)."""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dap.lineage.facts import sha256_file, text

MANIFEST_VERSION = 1
MANIFEST_PARTS = ("audit", "manifest.json")
CHECK_FIELDS = ("name", "kind", "passed", "severity", "description")  # of a check in its asset's entry


def classify_check(check_name: str, metadata: Mapping[str, Any]) -> str:
    """'dbt_test', 'great_expectations' or 'python' (what produced a check result)."""
    if str(metadata.get("unique_id", "")).startswith("test."):
        return "dbt_test"
    if "suite" in metadata or check_name.startswith("gx") or "success_percent" in metadata:
        return "great_expectations"
    return "python"


def check_summary(checks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {"total": 0, "passed": 0, "failed": 0, "by_kind": {}}
    for check in checks:
        kind = summary["by_kind"].setdefault(check["kind"], {"total": 0, "passed": 0, "failed": 0})
        for bucket in (summary, kind):
            bucket["total"] += 1
            bucket["passed" if check["passed"] else "failed"] += 1
    return summary


def iso(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat() if timestamp else None


def load_manifest(path: Path | str) -> dict[str, Any]:
    manifest = json.loads(Path(path).read_text())
    if manifest.get("manifest_version") != MANIFEST_VERSION:
        raise ValueError(f"{path}: not an audit manifest of version {MANIFEST_VERSION}")
    return manifest


def write_manifest(manifest: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2, default=str) + "\n")


# status: 'match', 'changed', 'missing', or 'absent' (an optional table the extract did not have)
InputCheck = namedtuple("InputCheck", "table file expected actual status")


def verify_inputs(manifest: Mapping[str, Any], relocate: Path | None = None) -> list[InputCheck]:
    """Recompute the SHA-256 of every input file of ``manifest`` (optionally looked up by file name in
    ``relocate`` instead of the recorded folder) and compare with the recorded hash."""
    checks = []
    for entry in manifest.get("inputs", []):
        file = text(entry.get("file"))
        if entry.get("source") == "absent":
            checks.append(InputCheck(entry["table"], "", "", None, "absent"))
        elif file:
            path = (Path(relocate) / Path(file).name) if relocate else Path(file)
            actual = sha256_file(path) if path.is_file() else None
            status = "missing" if actual is None else "match" if actual == entry["sha256"] else "changed"
            checks.append(InputCheck(entry["table"], str(path), entry["sha256"], actual, status))
    return checks


def relation_of(key: str) -> str:
    return key.replace("/", ".")


def parse_target(target: str, keys: Iterable[str]) -> tuple[str, str | None]:
    """Split 'schema.table[.column]' into an asset key and an optional column, using the known keys."""
    known, parts = set(keys), target.strip().replace("/", ".").split(".")
    for cut in range(len(parts), 0, -1):
        if (key := "/".join(parts[:cut])) in known:
            return key, ".".join(parts[cut:]) or None
    raise LookupError(target)


TraceStep = namedtuple("TraceStep", "key depth columns via repeated")  # via: '', 'column' or 'table'


def walk_upstream(
    assets: Mapping[str, Mapping[str, Any]], start: str, column: str | None = None
) -> list[TraceStep]:
    """Depth-first walk from ``start`` to the raw tables. With a column, follow column lineage where an
    asset records it and fall back to every upstream asset (table level) where it does not."""
    steps: list[TraceStep] = []

    def visit(key: str, depth: int, columns: list[str], via: str) -> None:
        repeated = any((s.key, s.columns) == (key, columns) for s in steps)
        steps.append(TraceStep(key, depth, columns, via, repeated))
        asset, parents = assets.get(key) or {}, {}
        lineage = asset.get("column_lineage") or {}
        if repeated or (columns and asset.get("kind") == "raw"):
            return
        by_column = bool(columns and lineage and all(c in lineage for c in columns))
        for dep in (dep for col in columns for dep in lineage[col]) if by_column else ():
            parents.setdefault(dep["asset"], set()).add(dep["column"])
        for parent in sorted(parents) if by_column else sorted(asset.get("upstream", [])):
            visit(parent, depth + 1, sorted(parents.get(parent, ())), "column" if by_column else "table")

    visit(start, 0, [column] if column else [], "")
    return steps


def describe_asset(asset: Mapping[str, Any]) -> str:
    dbt, code = asset.get("dbt") or {}, asset.get("python") or {}
    where = f"{code.get('file', '')}:{code.get('function', '')}".strip(":")
    return {
        "dbt": f"dbt model {dbt.get('path') or dbt.get('unique_id') or ''}".strip(),
        "raw": "raw table loaded by ingest (orchestration/defs/ingest.py)",
        "report": f"report step {where}".strip(),
    }.get(asset.get("kind"), f"Python step {where}".strip())


def format_trace(manifest: Mapping[str, Any], target: str) -> str:
    """The human-readable answer of `dap trace`."""
    assets = {a["key"]: a for a in manifest["assets"]}
    inputs = {i["table"]: i for i in manifest.get("inputs", [])}
    key, column = parse_target(target, assets)
    steps = walk_upstream(assets, key, column)
    run, commit = manifest["run"]["run_id"], manifest["code"]["git"].get("commit")
    traced = relation_of(key) + (f".{column}" if column else "")
    lines = [f"trace of {traced} (manifest of run {run}, commit {commit})", ""]
    for key, depth, columns, _, repeated in steps:
        asset, cols = assets.get(key, {}), f" [{', '.join(columns)}]" if columns else ""
        head = "  " * depth + ("← " if depth else "") + relation_of(key) + cols
        detail = "  " * depth + ("  " if depth else "") + "   "
        if repeated:
            lines.append(f"{head} (see above)")
            continue
        last, rows = asset.get("last_materialization") or {}, asset.get("row_count")
        lines += [
            f"{head} — {describe_asset(asset)}",
            f"{detail}code version {asset.get('code_version') or 'unknown'}"
            f" · data version {(asset.get('data_version') or 'unknown')[:16]}"
            f" · rows {rows if rows is not None else 'unknown'}"
            f" · last run {(last.get('run_id') or 'never')[:8]} at {last.get('timestamp') or '-'}",
        ]
        if columns and asset.get("kind") != "raw" and not (asset.get("column_lineage") or {}).get(columns[0]):
            lines.append(f"{detail}(no column lineage recorded for this step: all its inputs are listed)")
        info = inputs.get(key.split("/", 1)[1]) if asset.get("kind") == "raw" else None
        if info and info.get("source") == "absent":
            lines.append(f"{detail}table absent from the extract (optional): the run read no rows")
        elif info:
            of = f" column(s) {', '.join(columns)} of" if columns else ""
            lines.append(
                f"{detail}from{of} file {info.get('file')} ({info.get('source')}, "
                f"{info.get('rows')} rows, sha256 {info.get('sha256')})"
            )

    def named(*kinds: str) -> str:
        found = sorted({s.key for s in steps if assets.get(s.key, {}).get("kind") in kinds})
        return ", ".join(relation_of(k) for k in found) or "-"

    lines += ["", f"raw tables:   {named('raw')}", f"dbt models:   {named('dbt')}"]
    return "\n".join([*lines, f"Python steps: {named('python', 'report')}"])
