"""The acceptance of lineage and audit on a real `dap run` over a generated `tiny` extract (slow, offline):
manifest hashes equal the files' SHA-256, `dap audit` match/mismatch, `dap trace` of a published analytics
table, OpenLineage file validity, SQL over the manifests and the browsable docs."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest

from dap.lineage import manifest as mf
from tests.e2e.conftest import make_platform
from tests.lineage.conftest import read_jsonl
from tests.lineage.openlineage_schema import event_errors

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def audited(tiny_extract, tmp_path_factory):
    """A published run on a private copy of the tiny extract (the tests edit an input file)."""
    extract = tmp_path_factory.mktemp("audited_extract")
    shutil.copytree(tiny_extract, extract, dirs_exist_ok=True)
    platform = make_platform(tmp_path_factory, extract, "audited")
    result = platform.dap("run")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    manifest_path = platform.reports / "current" / "audit" / "manifest.json"
    return platform, manifest_path, mf.load_manifest(manifest_path)


def test_manifest_input_hashes_equal_the_files_sha256(audited):
    platform, _, manifest = audited
    by_name = {Path(i["file"]).name: i for i in manifest["inputs"] if i["source"] == "extract"}
    files = sorted(p for p in platform.extract.iterdir() if p.is_file() and p.suffix in (".csv", ".parquet"))
    assert files and {p.name for p in files} == set(by_name)
    for path in files:
        assert by_name[path.name]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), path.name
        assert by_name[path.name]["rows"] > 0


def test_manifest_records_code_assets_checks_and_outputs(audited):
    platform, manifest_path, manifest = audited
    git = manifest["code"]["git"]
    assert git["commit"] == "unknown" or len(git["commit"]) == 40
    assert manifest["code"]["packages"]["dagster"][0].isdigit()
    assets = {a["key"]: a for a in manifest["assets"]}
    for key, asset in assets.items():
        assert asset["materialized_in_this_run"], key
        assert asset["code_version"] and asset["data_version"], key
    raw = assets["raw/crimes"]
    crimes = next(i for i in manifest["inputs"] if i["table"] == "crimes")
    assert raw["data_version"] == crimes["sha256"] and raw["row_count"] == crimes["rows"]
    dim = assets["marts/dim_offenders"]
    assert dim["kind"] == "dbt" and dim["dbt"]["path"].endswith("dim_offenders.sql") and dim["row_count"] > 0
    assert dim["column_lineage"], "dbt column lineage missing for marts.dim_offenders"
    assert any(a["kind"] == "python" for a in assets.values())
    kinds = {c["kind"] for c in manifest["checks"]}
    assert {"dbt_test", "great_expectations"} <= kinds
    outputs = {o["path"]: o for o in manifest["outputs"]}
    assert "lineage/openlineage.jsonl" in outputs and "dbt_docs/index.html" in outputs
    report_dir = manifest_path.parents[1]
    for path, entry in outputs.items():
        assert hashlib.sha256((report_dir / path).read_bytes()).hexdigest() == entry["sha256"], path
    assert (report_dir / "data_docs" / "gx" / "index.html").exists()


def test_dbt_materialisations_carry_openlineage_dbt_column_lineage(audited):
    """The Dagster UI's column lineage of a dbt model is openlineage-dbt's, the same as the manifest's."""
    import dagster as dg

    platform, _, manifest = audited
    with dg.DagsterInstance.from_config(str(platform.dagster_home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["marts", "dim_offenders"]))
    lineage = event.asset_materialization.metadata["dagster/column_lineage"].value
    found = {
        column: [{"asset": d.asset_key.to_user_string(), "column": d.column_name} for d in deps]
        for column, deps in lineage.deps_by_column.items()
    }
    assert (
        found and found == {a["key"]: a for a in manifest["assets"]}["marts/dim_offenders"]["column_lineage"]
    )


def test_sql_over_the_kept_runs_manifests(audited):
    """What the audit tables held, queried from the manifests the published versions keep (docs/auditors.md)."""
    platform, _, manifest = audited
    manifests = f"{platform.warehouse}.versions/*/reports/audit/manifest.json"
    con = duckdb.connect(str(platform.warehouse), read_only=True)
    try:
        runs = con.execute(
            f"SELECT run.run_id::VARCHAR, len(assets) FROM read_json('{manifests}')"
        ).fetchall()
        hashes = con.execute(
            f"SELECT i.table, i.sha256 FROM (SELECT unnest(inputs) AS i FROM read_json('{manifests}'))"
        ).fetchall()
    finally:
        con.close()
    assert runs == [(manifest["run"]["run_id"], len(manifest["assets"]))]
    assert dict(hashes) == {i["table"]: i["sha256"] for i in manifest["inputs"]}


def test_openlineage_file_validates(audited):
    """dagster-openlineage's events for every asset but the dbt models, openlineage-dbt's for those."""
    _, manifest_path, manifest = audited
    events = list(read_jsonl(manifest_path.parents[1] / "lineage" / "openlineage.jsonl"))
    for event in events:
        assert event_errors(event) == [], event["job"]["name"]
    complete = [e for e in events if e["eventType"] == "COMPLETE"]
    started = {e["job"]["name"] for e in events if e["eventType"] == "START"}
    dagster = {a["key"] for a in manifest["assets"] if a["kind"] != "dbt"}
    assert dagster <= {e["job"]["name"] for e in complete} and dagster <= started
    dbt_outputs = {
        ".".join(o["name"].split(".")[-2:]): o
        for e in complete
        for o in e["outputs"]
        if o["namespace"].startswith("duckdb")
    }
    assert {mf.relation_of(a["key"]) for a in manifest["assets"] if a["kind"] == "dbt"} <= set(dbt_outputs)
    assert dbt_outputs["marts.dim_offenders"]["facets"]["columnLineage"]["fields"]


def test_trace_names_raw_tables_dbt_and_python_steps(audited):
    platform, _, manifest = audited
    assert any(a["key"] == "analytics/cluster_profiles" for a in manifest["assets"])
    result = platform.dap("trace", "analytics.cluster_profiles")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "raw.crimes" in out.split("raw tables:")[1].splitlines()[0]
    assert "marts.dim_offenders" in out.split("dbt models:")[1].splitlines()[0]
    assert "analytics.cluster_profiles" in out.split("Python steps:")[1].splitlines()[0]
    assert "crimes.parquet" in out


def test_audit_matches_then_names_the_edited_file(audited):
    platform, _, manifest = audited
    result = platform.dap("audit", manifest["run"]["run_id"][:8])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "inputs match" in result.stdout

    victims = platform.extract / "victims.parquet"
    original = victims.read_bytes()
    try:
        victims.write_bytes(original + b"\0")
        result = platform.dap("audit", manifest["run"]["run_id"])
        assert result.returncode == 1
        assert "CHANGED" in result.stdout and "victims.parquet" in result.stdout
        assert "do NOT match: 1 of" in result.stdout
    finally:
        victims.write_bytes(original)
