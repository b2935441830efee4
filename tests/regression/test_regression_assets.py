"""The Section C assets end to end on a warehouse holding simulated marts (no dbt needed)."""

from __future__ import annotations

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from ml import regression as reg
from orchestration.defs import regression as regression_defs
from orchestration.resources import PlatformResource

SPEC_COLUMNS = ["model", "term", "estimate", "std_error", "p_value", "q_value", "ci_low", "ci_high",
                "n_with_term", "n_obs"]  # fmt: skip


def _warehouse(tmp_path, with_clusters: bool):
    offenders, offences, _ = reg.simulate_section_c_inputs(3_000, n_codes=60, seed=11)
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.register("offenders_frame", offenders)
    con.execute("CREATE TABLE marts.dim_offenders AS SELECT * FROM offenders_frame")
    con.register("offences_frame", offences)
    con.execute("CREATE TABLE marts.fct_offences AS SELECT * FROM offences_frame")
    if with_clusters:
        clusters = pd.DataFrame(
            {"offender_id": offenders["offender_id"], "cluster": np.arange(3_000) % 5 + 1}
        )
        con.execute("CREATE SCHEMA analytics")
        con.register("clusters_frame", clusters)
        con.execute("CREATE TABLE analytics.offender_clusters AS SELECT * FROM clusters_frame")
    con.close()
    return path


@pytest.mark.parametrize("with_clusters", [False, True])
def test_assets_materialise_tables_report_and_passing_checks(tmp_path, with_clusters):
    path = _warehouse(tmp_path, with_clusters)
    platform = PlatformResource(warehouse_path=str(path), output_dir=str(tmp_path / "out"))
    result = dg.materialize(
        [*regression_defs.ASSETS, *regression_defs.ASSET_CHECKS], resources={"platform": platform}
    )
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert len(checks) == len(regression_defs.ASSET_CHECKS)
    assert all(check.passed for check in checks), [(c.check_name, c.metadata) for c in checks]

    con = duckdb.connect(str(path), read_only=True)
    results = con.execute("SELECT * FROM analytics.regression_results").df()
    validation = con.execute("SELECT * FROM analytics.risk_assessment_validation").df()
    model_fit = con.execute("SELECT * FROM analytics.regression_model_fit").df()
    con.close()
    assert set(SPEC_COLUMNS) <= set(results.columns)
    assert {"offence_type", "offence_code", "risk_first_non_crime", "risk_first_da", "risk_share_high",
            "offence_type_log1p", "offence_code_tweedie"} <= set(results["model"])  # fmt: skip
    assert (model_fit["min_offenders_presentation"] == reg.scaled_min_offenders(3_000)).all()
    assert ((validation["section"] == "cluster").any()) == with_clusters

    page = (tmp_path / "out" / "regression.html").read_text()
    assert "Figure 12" in page and "Figure 13" in page
    assert ("Share of high first grades per cluster" in page) == with_clusters

    metadata = result.asset_materializations_for_node("regression_results")[0].metadata
    assert metadata["offence_type_n_obs"].value == 3_000


def test_config_reaches_the_fit(tmp_path):
    path = _warehouse(tmp_path, with_clusters=False)
    platform = PlatformResource(warehouse_path=str(path), output_dir=str(tmp_path / "out"))
    config = {"ops": {"regression_results": {"config": {
        "controls": ["has_non_da_history"], "se_type": "nonrobust", "sensitivity": "none",
        "fit_unadjusted": False, "min_offenders": 30}}}}  # fmt: skip
    result = dg.materialize(
        [regression_defs.regression_results], resources={"platform": platform}, run_config=config
    )
    assert result.success
    con = duckdb.connect(str(path), read_only=True)
    results = con.execute("SELECT * FROM analytics.regression_results").df()
    model_fit = con.execute("SELECT * FROM analytics.regression_model_fit").df()
    con.close()
    assert set(results["model"]) == {"offence_type", "offence_code", "risk_first_non_crime", "risk_first_da",
                                     "risk_share_high"}  # fmt: skip
    assert (results["se_type"] == "nonrobust").all()
    np.testing.assert_allclose(results["std_error"], results["std_error_classical"])
    controls = results.loc[(results["model"] == "offence_type") & (results["term_kind"] == "control"), "term"]
    assert list(controls) == ["has_non_da_history"]
    assert (model_fit["min_offenders_presentation"] == 30).all()
