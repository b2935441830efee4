"""Lineage and audit rules on a small run: manifest facts, `dap audit`, `dap trace`, OpenLineage events."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from dap import lineage
from dap.cli import main
from tests.lineage.openlineage_schema import event_errors


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
    log = [{"table_name": "crimes", "file": str(path), "sha256": lineage.sha256_file(path), "rows_read": 1}]
    path.write_text("a\n2\n")
    assert lineage.check_inputs(log)[0]["unchanged_during_run"] is False


def test_an_absent_optional_table_is_listed_without_a_file(tmp_path):
    # The load log of an extract without witnesses: DuckDB's NULLs arrive as None, or as NaN through pandas.
    path = tmp_path / "crimes.csv"
    path.write_text("a\n1\n")
    log = [
        {"table_name": "crimes", "source": "extract", "file": str(path), "format": "csv",
         "sha256": lineage.sha256_file(path), "rows_read": 1},
        {"table_name": "witnesses", "source": "absent", "file": float("nan"), "format": float("nan"),
         "sha256": float("nan"), "rows_read": 0},
        {"table_name": "custody", "source": "absent", "file": None, "format": None, "sha256": None,
         "rows_read": 0},
    ]  # fmt: skip
    inputs = {i["table"]: i for i in lineage.check_inputs(log)}
    for table in ("witnesses", "custody"):
        assert inputs[table]["file"] == inputs[table]["file_name"] == inputs[table]["sha256"] == ""
        assert inputs[table]["rows"] == 0 and inputs[table]["unchanged_during_run"] is None
    checks = {c.table: c.status for c in lineage.verify_inputs({"inputs": list(inputs.values())})}
    assert checks == {"crimes": "match", "custody": "absent", "witnesses": "absent"}


def test_git_facts_say_unknown_outside_a_repository(tmp_path):
    facts = lineage.git_info(tmp_path)
    assert facts["commit"] == "unknown" and facts["dirty"] == "unknown"


def test_package_versions_cover_the_pinned_stack():
    versions = lineage.package_versions()
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
    assert lineage.classify_check(name, metadata) == kind


def test_manifest_html_is_self_contained_and_lists_everything(small_run):
    manifest, json_path, _ = small_run
    page = json_path.with_name("manifest.html").read_text()
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    for entry in manifest["inputs"]:
        assert entry["sha256"] in page
    for key in ("marts/dim_offenders", "analytics/cluster_profiles", "gx_distribution", "typology.html"):
        assert key in page


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
    steps = lineage.walk_upstream(assets, "analytics/x", "cluster")
    assert [(s.key, s.via) for s in steps] == [("analytics/x", ""), ("marts/m", "table"), ("raw/a", "table")]


def test_trace_of_an_unknown_table_is_a_clear_error(small_run, capsys):
    _, json_path, _ = small_run
    assert main(["trace", "analytics.nothing", "--manifest", str(json_path)]) == 2
    assert "not a table of this run" in capsys.readouterr().err


def test_openlineage_events_validate_and_pair_up(small_run, tmp_path, monkeypatch):
    manifest, _, _ = small_run
    monkeypatch.setenv(lineage.OPENLINEAGE_LOG_VARIABLE, str(tmp_path / "cumulative.jsonl"))
    failed_run = "6f1c2a8e-3d4b-4c5d-8e9f-0a1b2c3d4e5f"  # an earlier attempt that failed
    failure = {
        "keys": ["analytics/cluster_profiles"],
        "dagster_run_id": failed_run,
        "started_at": "2026-01-01T10:00:00+00:00",
        "failed_at": "2026-01-01T10:01:00+00:00",
        "message": "boom",
    }
    events = lineage.openlineage_events(manifest, [failure])
    paths = lineage.openlineage_log_paths(tmp_path / "out")
    assert lineage.emit_openlineage(events, paths) == len(events)
    written = list(lineage.read_jsonl(paths[0]))
    assert written == list(lineage.read_jsonl(tmp_path / "cumulative.jsonl"))
    assert len(written) == 2 * len(manifest["assets"]) + 2
    for event in written:
        assert event_errors(event) == [], event
    states: dict[str, list[str]] = {}
    for event in written:
        states.setdefault(event["run"]["runId"], []).append(event["eventType"])
    assert sorted(map(tuple, states.values())).count(("START", "COMPLETE")) == len(manifest["assets"])
    assert ("START", "FAIL") in map(tuple, states.values())
    complete = {e["job"]["name"]: e for e in written if e["eventType"] == "COMPLETE"}
    dim = complete["marts.dim_offenders"]
    assert dim["outputs"][0]["namespace"] == "duckdb://warehouse.duckdb"
    assert (
        dim["outputs"][0]["facets"]["columnLineage"]["fields"]["offender_id"]["inputFields"][0]["name"]
        == "staging.stg_wmp__crimes"
    )
    assert {i["name"] for i in dim["inputs"]} == {"staging.stg_wmp__crimes", "staging.stg_wmp__offenders"}
    raw = complete["raw.crimes"]
    assert raw["inputs"][0]["namespace"] == "file"
    assert raw["inputs"][0]["facets"]["version"]["datasetVersion"] == manifest["inputs"][0]["sha256"]
    fail = next(e for e in written if e["eventType"] == "FAIL")
    assert fail["run"]["facets"]["errorMessage"]["message"] == "boom"


def test_schema_rejects_a_malformed_event():
    good = {
        "eventTime": "2026-01-01T00:00:00+00:00",
        "eventType": "START",
        "producer": lineage.PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "0b8a9d2e-1c1c-4f3e-9b55-6f5f0e2a1a11"},
        "job": {"namespace": "n", "name": "j"},
    }
    assert event_errors(good) == []
    assert event_errors({**good, "eventTime": "yesterday"})
    assert event_errors({**good, "run": {"runId": "run-1"}})
    assert event_errors({k: v for k, v in good.items() if k != "job"})
    facet = {"_producer": lineage.PRODUCER, "_schemaURL": "https://openlineage.io/x", "fields": {"a": {}}}
    assert event_errors(
        {**good, "outputs": [{"namespace": "n", "name": "t", "facets": {"columnLineage": facet}}]}
    )
