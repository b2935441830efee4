"""Fixtures for the lineage tests: a small manifest written the way a run writes it, over real files."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dap.lineage import facts
from dap.lineage import manifest as mf


def make_manifest(extract: Path, output: Path) -> dict:
    """A manifest of a run over two real input files: raw → staging → marts (dbt) → analytics (Python)."""
    extract.mkdir(parents=True, exist_ok=True)
    files = {"crimes": extract / "crimes.csv", "offenders": extract / "offenders.csv"}
    files["crimes"].write_text("crime_number,offender_id,offence_code\nC1,O1,8/1\nC2,O2,105/1\n")
    files["offenders"].write_text("offender_id,date_of_birth\nO1,1980-01-01\nO2,1975-05-05\n")
    run_id = str(uuid.uuid4())
    at = "2026-01-01T10:00:00+00:00"
    load_log = [
        {
            "table_name": t,
            "source": "extract",
            "file": str(p),
            "format": "csv",
            "sha256": facts.sha256_file(p),
            "rows_read": 2,
        }
        for t, p in files.items()
    ]

    def asset(key, kind, upstream, **extra):
        return {
            "key": key,
            "kind": kind,
            "upstream": upstream,
            "materialized_in_this_run": True,
            "dagster_run_id": run_id,
            "started_at": at,
            "materialized_at": at,
            "code_version": "1",
            "data_version": "d" * 64,
            "row_count": 2,
            "checks": [],
            "column_lineage": {},
            "last_materialization": {"run_id": run_id, "timestamp": at},
            **extra,
        }

    assets = [
        asset(
            "raw/crimes",
            "raw",
            [],
            checks=[
                {
                    "name": "contract",
                    "kind": "great_expectations",
                    "passed": True,
                    "severity": "ERROR",
                    "description": "",
                }
            ],
        ),
        asset("raw/offenders", "raw", []),
        asset(
            "staging/stg_wmp__crimes",
            "dbt",
            ["raw/crimes"],
            dbt={
                "unique_id": "model.da_platform.stg_wmp__crimes",
                "path": "dbt_project/models/staging/stg_wmp__crimes.sql",
                "sql": "select * from raw.crimes",
            },
            columns=[{"name": "offender_id", "type": "VARCHAR"}, {"name": "offence_code", "type": "VARCHAR"}],
            column_lineage={
                "offender_id": [{"asset": "raw/crimes", "column": "offender_id"}],
                "offence_code": [{"asset": "raw/crimes", "column": "offence_code"}],
            },
        ),
        asset(
            "staging/stg_wmp__offenders",
            "dbt",
            ["raw/offenders"],
            dbt={
                "unique_id": "model.da_platform.stg_wmp__offenders",
                "path": "dbt_project/models/staging/stg_wmp__offenders.sql",
            },
        ),
        asset(
            "marts/dim_offenders",
            "dbt",
            ["staging/stg_wmp__crimes", "staging/stg_wmp__offenders"],
            dbt={
                "unique_id": "model.da_platform.dim_offenders",
                "path": "dbt_project/models/marts/dim_offenders.sql",
            },
            checks=[
                {
                    "name": "not_null_dim_offenders_offender_id",
                    "kind": "dbt_test",
                    "passed": True,
                    "severity": "ERROR",
                    "description": "",
                },
                {
                    "name": "gx_distribution",
                    "kind": "great_expectations",
                    "passed": False,
                    "severity": "WARN",
                    "description": "",
                },
            ],
            column_lineage={
                "offender_id": [{"asset": "staging/stg_wmp__crimes", "column": "offender_id"}],
                "n_da_incidents": [{"asset": "staging/stg_wmp__crimes", "column": "offence_code"}],
            },
        ),
        asset(
            "analytics/offender_clusters",
            "python",
            ["marts/dim_offenders"],
            python={"file": "orchestration/defs/typology.py", "function": "offender_clusters"},
        ),
        asset(
            "analytics/cluster_profiles",
            "python",
            ["analytics/offender_clusters", "marts/dim_offenders"],
            python={"file": "orchestration/defs/typology.py", "function": "cluster_profiles"},
        ),
    ]
    checks = [{**c, "asset": a["key"]} for a in assets for c in a["checks"]]
    output.mkdir(parents=True, exist_ok=True)
    (output / "typology.html").write_text("<html>report</html>")
    return {
        "manifest_version": mf.MANIFEST_VERSION,
        "run": {
            "run_id": run_id,
            "dagster_run_ids": [run_id],
            "job": "refresh_all",
            "started_at": at,
            "manifest_written_at": at,
            "config": {"ops": {}},
            "warehouse_name": "warehouse.duckdb",
        },
        "code": facts.code_facts(Path(__file__).resolve().parents[2]),
        "inputs": facts.check_inputs(load_log),
        "assets": assets,
        "checks": checks,
        "check_summary": mf.check_summary(checks),
        "outputs": facts.hash_outputs(output),
    }


@pytest.fixture
def small_run(tmp_path):
    """(manifest, path of manifest.json, extract folder) of a small run in ``tmp_path``."""
    output = tmp_path / "reports"
    manifest = make_manifest(tmp_path / "extract", output)
    json_path = output.joinpath(*mf.MANIFEST_PARTS)
    mf.write_manifest(manifest, json_path)
    return manifest, json_path, tmp_path / "extract"


def read_jsonl(path: Path) -> Iterator[dict]:
    """The events of an OpenLineage log, one JSON object a line."""
    with open(path) as handle:
        yield from (json.loads(line) for line in handle if line.strip())
