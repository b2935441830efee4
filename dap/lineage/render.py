"""The audit manifest as one self-contained page for people (no scripts, no external assets): the run's
facts, then each part of the manifest as a table of its records."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

SECTIONS = {  # heading → "<part of the manifest> <the fields of its records shown as columns>"
    "Input files": "inputs table file_name source rows sha256 unchanged_during_run",
    "Assets": "assets key kind code_version data_version row_count materialized_at dagster_run_id",
    "Checks": "checks asset name kind severity passed description",
    "Output files": "outputs path bytes sha256",
    "Packages": "packages package version",
}
_SHOWN = {True: "pass", False: "FAIL", None: "–"}


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return _SHOWN[value] if value is None or isinstance(value, bool) else value  # a count of 1 stays 1


def records_table(records: Iterable[Mapping[str, Any]], fields: str) -> str:
    """Records as an HTML table, a column per field (booleans as pass/FAIL, lists joined)."""
    from ml.reporting import table_html

    cells = [[_cell(r.get(f)) for f in fields.split()] for r in records]
    return table_html(pd.DataFrame(cells, columns=[f.replace("_", " ") for f in fields.split()]))


def render_manifest_html(manifest: Mapping[str, Any]) -> str:
    from ml.reporting import Lineage, Section, html_page

    run, code, summary = manifest["run"], manifest["code"], manifest["check_summary"]
    facts = (
        run
        | code["git"]
        | {"python": code["python"], "checks": "{passed} of {total} passed".format(**summary)}
    )
    overview = [{"fact": k.replace("_", " ").capitalize(), "value": v} for k, v in facts.items()]
    parts = {
        **manifest,
        "checks": sorted(manifest["checks"], key=lambda c: (c["passed"], c["asset"])),  # failed first
        "packages": [{"package": k, "version": v} for k, v in sorted(code["packages"].items())],
    }
    docs = "".join(
        f"<li><a href='../{p}'>{html.escape(k)}</a></li>" for k, p in manifest["docs"].items() if p
    )
    hashes = {i["table"]: i["sha256"] for i in manifest["inputs"]}
    return html_page(
        f"Audit manifest — run {run['run_id']}",
        [
            Section(
                "Run", records_table((o for o in overview if not isinstance(o["value"], dict)), "fact value")
            ),
            *(
                Section(title, records_table(parts[spec.split()[0]], spec.split(maxsplit=1)[1]))
                for title, spec in SECTIONS.items()
            ),
            Section("Run configuration", f"<pre>{html.escape(json.dumps(run['config'], indent=2))}</pre>"),
            Section("Documentation", f"<ul>{docs}</ul>" if docs else "<p>none generated</p>"),
        ],
        Lineage(run["run_id"], str(code["git"]["commit"]), hashes),
        intro="<p>Which input files, code, checks and configuration produced this run's published figures. "
        "The same facts are in <code>manifest.json</code> and the warehouse's <code>audit</code> schema.</p>",
    )
