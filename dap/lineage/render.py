"""The audit manifest as one self-contained page for people (no scripts, no external assets)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from dap.lineage.manifest import check_summary

# title, part of the manifest, {field: column heading}
SECTIONS = (
    ("Input files", "inputs", dict(table="table", file_name="file", source="source", rows="rows", sha256="sha256",
                                   unchanged_during_run="unchanged during run")),
    ("Assets", "assets", dict(key="asset", kind="kind", code_version="code version", data_version="data version",
                              row_count="rows", materialized_at="materialised", dagster_run_id="Dagster run")),
    ("Checks", "checks", dict(asset="asset", name="check", kind="kind", severity="severity", passed="result",
                              description="description")),
    ("Output files", "outputs", dict(path="file", bytes="bytes", sha256="sha256")),
)  # fmt: skip
_SHOWN = {True: "pass", False: "FAIL", None: "–"}


def _table(rows: list[Mapping[str, Any]], columns: Mapping[str, str]) -> str:
    from ml.reporting import table_html

    def shown(value: Any) -> Any:
        return _SHOWN[value] if value is None or isinstance(value, bool) else value

    cells = [{head: shown(r.get(f)) for f, head in columns.items()} for r in rows]
    return table_html(pd.DataFrame(cells, columns=list(columns.values())))


def render_manifest_html(manifest: Mapping[str, Any]) -> str:
    from ml.reporting import Lineage, Section, html_page

    run, code, git = manifest["run"], manifest["code"], manifest["code"]["git"]
    summary = manifest.get("check_summary") or check_summary(manifest.get("checks", []))
    overview = {
        "Run id": run["run_id"],
        "Dagster runs": ", ".join(run.get("dagster_run_ids", [])),
        "Job": run.get("job"),
        "Started": run.get("started_at"),
        "Manifest written": run.get("manifest_written_at"),
        "Git commit": git.get("commit"),
        "Uncommitted changes": git.get("dirty"),
        "Checks": f"{summary['passed']} of {summary['total']} passed, {summary['failed']} failed",
    }
    parts = {
        **manifest,
        "checks": sorted(manifest.get("checks", []), key=lambda c: (c["passed"], c["asset"])),
    }
    docs = "".join(
        f"<li><a href='../{html.escape(path)}'>{html.escape(name)}</a></li>"
        for name, path in (manifest.get("docs") or {}).items()
        if path
    )
    packages = [{"package": k, "version": v} for k, v in sorted(code.get("packages", {}).items())]
    sections = [
        Section(
            "Run",
            _table([{"fact": k, "value": str(v)} for k, v in overview.items()], {"fact": "", "value": " "}),
        ),
        *(Section(title, _table(parts.get(part, []), columns)) for title, part, columns in SECTIONS),
        Section(
            "Run configuration", f"<pre>{html.escape(json.dumps(run.get('config', {}), indent=2))}</pre>"
        ),
        Section("Packages", _table(packages, {"package": "package", "version": "version"})),
        Section("Documentation", f"<ul>{docs}</ul>" if docs else "<p>none generated</p>"),
    ]
    hashes = {i["table"]: i["sha256"] for i in manifest.get("inputs", []) if i.get("sha256")}
    return html_page(
        f"Audit manifest — run {run['run_id']}",
        sections,
        Lineage(run["run_id"], str(git.get("commit")), hashes),
        intro="<p>Which input files, code, checks and configuration produced this run's published "
        f"figures (Python {html.escape(code.get('python', ''))}). The same facts are in "
        "<code>manifest.json</code> and the warehouse's <code>audit</code> schema.</p>",
    )
