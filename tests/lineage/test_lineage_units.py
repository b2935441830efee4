"""Lineage and audit rules on a small run: manifest facts, `dap audit`, `dap trace`, OpenLineage events."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest

from dap.cli import main
from dap.lineage import facts, openlineage
from dap.lineage import manifest as mf
from tests.lineage.conftest import read_jsonl
from tests.lineage.openlineage_schema import event_errors

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/integration/dbt"


def test_manifest_records_input_hashes_and_rows(small_run):
    manifest, json_path, extract = small_run
    stored = json.loads(json_path.read_text())
    for entry in stored["inputs"]:
        assert entry["sha256"] == hashlib.sha256(Path(entry["file"]).read_bytes()).hexdigest()
        assert entry["rows"] == 2 and entry["unchanged_during_run"] is True
    assert {e["table"] for e in stored["inputs"]} == {"crimes", "offenders"}
    assert stored["outputs"][0]["path"] == "typology.html"
    assert stored["check_summary"] == {
        "total": 3,
        "passed": 2,
        "failed": 1,
        "by_kind": {
            "great_expectations": {"total": 2, "passed": 1, "failed": 1},
            "dbt_test": {"total": 1, "passed": 1, "failed": 0},
        },
    }


def test_input_changed_during_run_is_flagged(tmp_path):
    path = tmp_path / "crimes.csv"
    path.write_text("a\n1\n")
    log = [{"table_name": "crimes", "file": str(path), "sha256": facts.sha256_file(path), "rows_read": 1}]
    path.write_text("a\n2\n")
    assert facts.check_inputs(log)[0]["unchanged_during_run"] is False


def test_an_absent_optional_table_is_listed_without_a_file(tmp_path):
    # The load log (raw._load_log) of an extract without witnesses or custody: DuckDB's NULLs arrive as None.
    path = tmp_path / "crimes.csv"
    path.write_text("a\n1\n")
    log = [
        {"table_name": "crimes", "source": "extract", "file": str(path), "format": "csv",
         "sha256": facts.sha256_file(path), "rows_read": 1},
        {"table_name": "witnesses", "source": "absent", "file": None, "format": None, "sha256": None,
         "rows_read": 0},
        {"table_name": "custody", "source": "absent", "file": None, "format": None, "sha256": None,
         "rows_read": 0},
    ]  # fmt: skip
    inputs = {i["table"]: i for i in facts.check_inputs(log)}
    for table in ("witnesses", "custody"):
        assert inputs[table]["file"] == inputs[table]["file_name"] == inputs[table]["sha256"] == ""
        assert inputs[table]["rows"] == 0 and inputs[table]["unchanged_during_run"] is None
    checks = {c.table: c.status for c in mf.verify_inputs({"inputs": list(inputs.values())})}
    assert checks == {"crimes": "match", "custody": "absent", "witnesses": "absent"}


def test_git_facts_say_unknown_outside_a_repository(tmp_path):
    found = facts.git_info(tmp_path)
    assert found["commit"] == "unknown" and found["dirty"] == "unknown"


def test_package_versions_cover_the_pinned_stack():
    versions = facts.package_versions()
    for name in ("dagster", "dbt-core", "duckdb", "great-expectations", "openlineage-python"):
        assert versions[name][0].isdigit()


@pytest.mark.parametrize(
    ("name", "metadata", "kind"),
    [
        ("not_null_x_id", {"unique_id": "test.da_platform.not_null_x_id.abc"}, "dbt_test"),
        ("contract", {"suite": "raw_crimes", "success_percent": 100.0}, "great_expectations"),
        ("silhouette_ok", {"silhouette": 0.2}, "python"),
    ],
)
def test_check_kinds(name, metadata, kind):
    assert mf.classify_check(name, metadata) == kind


def test_manifest_is_queryable_with_duckdb(small_run):
    """docs/auditors.md's SQL over the manifest (the audit tables and the HTML page it replaces)."""
    import duckdb

    manifest, json_path, _ = small_run
    inputs = duckdb.sql(
        f"SELECT i.table, i.sha256 FROM (SELECT unnest(inputs) AS i FROM read_json('{json_path}')) ORDER BY 1"
    ).fetchall()
    assert inputs == [(i["table"], i["sha256"]) for i in manifest["inputs"]]
    failed = duckdb.sql(
        f"SELECT c.asset, c.name FROM (SELECT unnest(checks) AS c FROM read_json('{json_path}')) WHERE NOT c.passed"
    ).fetchall()
    assert failed == [("marts/dim_offenders", "gx_distribution")]


def test_audit_says_inputs_match_then_names_the_edited_file(small_run, capsys):
    _, json_path, extract = small_run
    assert main(["audit", "--manifest", str(json_path)]) == 0
    out = capsys.readouterr().out
    assert "inputs match" in out and "2 input files" in out

    with open(extract / "offenders.csv", "a") as handle:
        handle.write("O3,1990-01-01\n")
    assert main(["audit", "--manifest", str(json_path)]) == 1
    out = capsys.readouterr().out
    assert "CHANGED" in out and "offenders.csv" in out
    assert "do NOT match: 1 of 2" in out
    assert "ok       crimes" in out

    (extract / "crimes.csv").unlink()
    assert main(["audit", "--manifest", str(json_path)]) == 1
    assert "MISSING  crimes" in capsys.readouterr().out


def test_audit_finds_a_run_by_id_in_the_published_and_build_folders(small_run, tmp_path, capsys):
    manifest, json_path, _ = small_run
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    build_reports = warehouse.with_name("warehouse.duckdb.builds") / manifest["run"]["run_id"] / "reports"
    (build_reports / "audit").mkdir(parents=True)
    (build_reports / "audit" / "manifest.json").write_text(json_path.read_text())
    args = [
        "audit",
        manifest["run"]["run_id"][:8],
        "--warehouse",
        str(warehouse),
        "--output",
        str(tmp_path / "out"),
    ]
    assert main(args) == 0
    assert manifest["run"]["run_id"] in capsys.readouterr().out
    assert main(["audit", "ffffffff", "--warehouse", str(warehouse), "--output", str(tmp_path / "out")]) == 2
    assert "no audit manifest for run ffffffff" in capsys.readouterr().err


def test_trace_names_raw_tables_dbt_models_and_python_steps(small_run, capsys):
    _, json_path, _ = small_run
    assert main(["trace", "analytics.cluster_profiles", "--manifest", str(json_path)]) == 0
    out = capsys.readouterr().out
    assert "raw tables:   raw.crimes, raw.offenders" in out
    assert "dbt models:   marts.dim_offenders, staging.stg_wmp__crimes, staging.stg_wmp__offenders" in out
    assert "Python steps: analytics.cluster_profiles, analytics.offender_clusters" in out
    assert "dbt_project/models/marts/dim_offenders.sql" in out
    assert "orchestration/defs/typology.py:cluster_profiles" in out
    assert "crimes.csv" in out and "code version 1" in out and "last run" in out


def test_trace_of_a_column_follows_column_lineage_to_the_file_column(small_run, capsys):
    manifest, json_path, _ = small_run
    assert main(["trace", "marts.dim_offenders.n_da_incidents", "--manifest", str(json_path)]) == 0
    out = capsys.readouterr().out
    assert "staging.stg_wmp__crimes [offence_code]" in out
    assert "raw.crimes [offence_code]" in out
    assert "column(s) offence_code of file" in out
    assert "raw.offenders" not in out  # not an input of this column


def test_column_trace_through_a_python_step_falls_back_to_its_inputs():
    assets = {
        "analytics/x": {"key": "analytics/x", "kind": "python", "upstream": ["marts/m"]},
        "marts/m": {
            "key": "marts/m",
            "kind": "dbt",
            "upstream": ["raw/a"],
            "column_lineage": {"id": [{"asset": "raw/a", "column": "id"}]},
        },
        "raw/a": {"key": "raw/a", "kind": "raw", "upstream": []},
    }
    steps = mf.walk_upstream(assets, "analytics/x", "cluster")
    assert [(s.key, s.via) for s in steps] == [("analytics/x", ""), ("marts/m", "table"), ("raw/a", "table")]


def test_trace_of_an_unknown_table_is_a_clear_error(small_run, capsys):
    _, json_path, _ = small_run
    assert main(["trace", "analytics.nothing", "--manifest", str(json_path)]) == 2
    assert "not a table of this run" in capsys.readouterr().err


def test_dagster_openlineage_events_validate_and_pair_up(tmp_path, monkeypatch):
    """dagster-openlineage's events of a Python asset and its check (dbt models are left to openlineage-dbt)
    and, through the job's failure hook, of a failed step: valid, START paired with COMPLETE or FAIL."""
    from types import SimpleNamespace

    import dagster as dg

    from orchestration.defs import lineage as defs

    monkeypatch.setenv(openlineage.LOG_VARIABLE, str(tmp_path / "cumulative.jsonl"))
    run_id, profiles, dim = (
        str(uuid.uuid4()),
        dg.AssetKey(["analytics", "cluster_profiles"]),
        ["marts", "dim_offenders"],
    )
    metadata = {
        "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn("cluster", "INTEGER")]),
        "dagster/column_lineage": dg.TableColumnLineage(
            {"cluster": [dg.TableColumnDep(dg.AssetKey(dim), "offender_id")]}
        ),
    }
    check = dg.AssetCheckEvaluation(asset_key=profiles, check_name="silhouette_ok", passed=False)
    run = {
        "materializations": {
            "analytics/cluster_profiles": {
                "dagster_run_id": run_id,
                "started": 1.7e9,
                "at": 1.7e9 + 5,
                "metadata": metadata,
            },
            "marts/dim_offenders": {
                "dagster_run_id": run_id,
                "started": 1.7e9,
                "at": 1.7e9 + 1,
                "metadata": {},
            },
        },
        "evaluations": {"analytics/cluster_profiles": [(run_id, 1.7e9 + 6, check)]},
    }
    assets = [
        {"key": "analytics/cluster_profiles", "kind": "python", "upstream": ["marts/dim_offenders"]},
        {"key": "marts/dim_offenders", "kind": "dbt", "upstream": []},
    ]
    defs.emit_dagster_events(defs.dagster_adapter(openlineage.Emitter(tmp_path / "out")), run, assets)

    @dg.asset(key=["analytics", "broken"])
    def broken():
        raise ValueError("boom")

    platform = SimpleNamespace(resolved_output_dir=tmp_path / "out")
    job = dg.define_asset_job("refresh_all", hooks={defs.openlineage_failure_hook})
    resources = {"platform": dg.ResourceDefinition.hardcoded_resource(platform)}
    result = dg.Definitions(assets=[broken], jobs=[job], resources=resources).resolve_job_def("refresh_all")
    assert not result.execute_in_process(raise_on_error=False).success

    written = list(read_jsonl(tmp_path / "out" / "lineage" / "openlineage.jsonl"))
    assert written == list(read_jsonl(tmp_path / "cumulative.jsonl"))
    for event in written:
        assert event_errors(event) == [], event
    states: dict[str, list[str]] = {}
    for event in written:
        states.setdefault(event["job"]["name"], []).append(event["eventType"])
    assert states == {
        "analytics/cluster_profiles": ["START", "COMPLETE"],
        "analytics/cluster_profiles__checks": ["COMPLETE"],
        "analytics/broken": ["START", "FAIL"],
    }
    complete = next(e for e in written if e["eventType"] == "COMPLETE" and e["outputs"])
    assert {i["name"] for i in complete["inputs"]} == {"marts/dim_offenders"}
    fields = complete["outputs"][0]["facets"]["columnLineage"]["fields"]
    assert fields["cluster"]["inputFields"][0]["name"] == "marts/dim_offenders"
    assertions = next(e for e in written if e["job"]["name"].endswith("__checks"))["inputs"][0]["inputFacets"]
    assert assertions["dataQualityAssertions"]["assertions"][0]["success"] is False
    fail = next(e for e in written if e["eventType"] == "FAIL")
    assert "boom" in fail["run"]["facets"]["errorMessage"]["message"]


def test_schema_rejects_a_malformed_event():
    good = {
        "eventTime": "2026-01-01T00:00:00+00:00",
        "eventType": "START",
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "0b8a9d2e-1c1c-4f3e-9b55-6f5f0e2a1a11"},
        "job": {"namespace": "n", "name": "j"},
    }
    assert event_errors(good) == []
    assert event_errors({**good, "eventTime": "yesterday"})
    assert event_errors({**good, "run": {"runId": "run-1"}})
    assert event_errors({k: v for k, v in good.items() if k != "job"})
    facet = {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/x", "fields": {"a": {}}}
    assert event_errors(
        {**good, "outputs": [{"namespace": "n", "name": "t", "facets": {"columnLineage": facet}}]}
    )
