"""The audit manifest as one self-contained page for people (no scripts, no external assets)."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

from dap.lineage.manifest import check_summary


class _Raw(str):
    """Already-escaped HTML in a table cell."""


def _table(headers: list[str], rows: Iterable[Iterable[Any]], css: str = "") -> str:
    def cell(value: Any) -> str:
        return value if isinstance(value, _Raw) else html.escape("" if value is None else str(value))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='{css}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _ok(flag: Any) -> _Raw:
    css, label = {True: ("ok", "pass"), False: ("bad", "FAIL")}.get(flag, ("muted", "–"))
    return _Raw(f"<span class='{css}'>{label}</span>")


def _code(value: Any) -> _Raw:
    return _Raw(f"<code>{html.escape(value or '')}</code>")


def render_manifest_html(manifest: Mapping[str, Any]) -> str:
    from ml.reporting import Lineage, Section, html_page

    run, code, checks = manifest["run"], manifest["code"], manifest.get("checks", [])
    git = code["git"]
    summary = manifest.get("check_summary") or check_summary(checks)
    overview = [
        ("Run id", run["run_id"]),
        ("Dagster runs", ", ".join(run.get("dagster_run_ids", []))),
        ("Job", run.get("job")),
        ("Started", run.get("started_at")),
        ("Manifest written", run.get("manifest_written_at")),
        ("Git commit", git.get("commit")),
        ("Uncommitted changes", git.get("dirty")),
        ("Checks", f"{summary['passed']} of {summary['total']} passed, {summary['failed']} failed"),
    ]
    inputs = [
        (
            i["table"],
            i.get("file_name") or i.get("file"),
            i.get("source"),
            i.get("rows"),
            _code(i.get("sha256")),
        )
        + (_ok(i.get("unchanged_during_run")),)
        for i in manifest.get("inputs", [])
    ]
    assets = [
        (a["key"], a["kind"], a.get("code_version"), (a.get("data_version") or "")[:16], a.get("row_count"))
        + (a.get("materialized_at") or "not in this run", (a.get("dagster_run_id") or "")[:8])
        + (f"{sum(c['passed'] for c in a['checks'])}/{len(a['checks'])}" if a.get("checks") else "",)
        for a in manifest.get("assets", [])
    ]
    ordered = sorted(checks, key=lambda c: (c["passed"], c["asset"], c["name"]))
    check_rows = [
        (c["asset"], c["name"], c["kind"], c.get("severity"), _ok(c["passed"]), c.get("description") or "")
        for c in ordered
    ]
    outputs = [(o["path"], o["bytes"], _code(o["sha256"])) for o in manifest.get("outputs", [])]
    docs = "".join(
        f"<li><a href='../{html.escape(path)}'>{html.escape(name)}</a></li>"
        for name, path in (manifest.get("docs") or {}).items()
        if path
    )
    failed = sum(not c["passed"] for c in checks)
    config = html.escape(json.dumps(run.get("config", {}), indent=2, default=str))
    sections = [
        Section(
            "Run",
            _table(["", ""], overview, "kv")
            + (f"<p class='note'>{failed} check(s) failed; see Checks.</p>" if failed else ""),
            "run",
        ),
        Section(
            "Input files",
            _table(["table", "file", "source", "rows", "sha256", "unchanged during run"], inputs),
            "inputs",
        ),
        Section(
            "Assets",
            _table(
                ["asset", "kind", "code version", "data version", "rows", "materialised", "run", "checks"],
                assets,
            ),
            "assets",
        ),
        Section(
            "Checks",
            _table(["asset", "check", "kind", "severity", "result", "description"], check_rows),
            "checks",
        ),
        Section("Output files", _table(["file", "bytes", "sha256"], outputs), "outputs"),
        Section("Run configuration", f"<pre>{config}</pre>", "config"),
        Section(
            "Packages",
            _table(["package", "version"], sorted(code.get("packages", {}).items()))
            + f"<p>Python {html.escape(code.get('python', ''))}</p>",
            "packages",
        ),
        Section("Documentation", f"<ul>{docs}</ul>" if docs else "<p>none generated</p>", "docs"),
    ]
    hashes = {i["table"]: i["sha256"] for i in manifest.get("inputs", []) if i.get("sha256")}
    page = html_page(
        f"Audit manifest — run {run['run_id']}",
        sections,
        Lineage(run["run_id"], str(git.get("commit")), hashes),
        intro="<p>Which input files, code, checks and configuration produced this run's published "
        "figures. The same facts are in <code>manifest.json</code> and the warehouse's "
        "<code>audit</code> schema.</p>",
    )
    css = ".ok{color:#176f2c;font-weight:600}.bad{color:#b00020;font-weight:700}table.kv td{text-align:left}"
    return page.replace("</style>", css + "</style>", 1)
