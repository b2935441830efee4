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

SPEC_COLUMNS = [
    "model",
    "term",
    "estimate",
    "std_error",
    "p_value",
    "q_value",
    "ci_low",
    "ci_high",
    "n_with_term",
    "n_obs",
]


def _warehouse(tmp_path, with_clusters: bool, time_ordered: bool = True, lone_offender: bool = False):
    offenders, offences, _ = reg.simulate_section_c_inputs(3_000, n_codes=60, seed=11)
    if lone_offender:  # one DA perpetrator alone holds an offence type: leverage 1 in the offence-type models
        lone = pd.DataFrame(
            {
                "offender_id": [offenders["offender_id"].iloc[0]],
                "offence_code": ["X1"],
                "offence_description": ["rare"],
                "offence_type": ["kidnapping"],
                "is_da": [False],
            }
        )
        offences = pd.concat([offences, lone], ignore_index=True)
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.register("offenders_frame", offenders)
    con.execute("CREATE TABLE marts.dim_offenders AS SELECT * FROM offenders_frame")
    con.register("offences_frame", offences)
    con.execute("CREATE TABLE marts.fct_offences AS SELECT * FROM offences_frame")
    if time_ordered:
        onset, pre_da = reg.simulate_time_order(offenders, offences, seed=11)
        con.register("onset_frame", onset)
        con.execute("CREATE TABLE marts.dim_da_onset AS SELECT * FROM onset_frame")
        con.register("pre_frame", pre_da)
        con.execute("CREATE TABLE marts.fct_pre_da_offences AS SELECT * FROM pre_frame")
    # Without clusters: the empty table the typology writes when it is not estimable.
    clusters = pd.DataFrame(
        {"offender_id": offenders["offender_id"], "cluster": np.arange(len(offenders)) % 5 + 1}
    ).iloc[: len(offenders) if with_clusters else 0]
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
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert len(checks) == len(regression_defs.ASSET_CHECKS)
    assert all(check.passed for check in checks.values()), [
        (c.check_name, c.metadata) for c in checks.values()
    ]

    con = duckdb.connect(str(path), read_only=True)
    results = con.execute("SELECT * FROM analytics.regression_results").df()
    validation = con.execute("SELECT * FROM analytics.risk_assessment_validation").df()
    model_fit = con.execute("SELECT * FROM analytics.regression_model_fit").df()
    con.close()
    assert set(SPEC_COLUMNS) <= set(results.columns)
    assert {
        "offence_type",
        "offence_code",
        "offence_type_adjusted",
        "offence_code_adjusted",
        "offence_type_pre_da",
        "offence_code_pre_da",
        "risk_first_non_crime",
        "risk_first_da",
        "risk_share_high",
        "offence_type_log1p",
        "offence_code_tweedie",
    } <= set(results["model"])
    assert (model_fit["status"] == "estimated").all()
    assert (model_fit["min_offenders_presentation"] == reg.scaled_min_offenders(3_000)).all()
    assert ((validation["section"] == "cluster").any()) == with_clusters
    # The validation is among the 3,000 DA perpetrators (the 150 people without DA are out).
    graded = validation.loc[(validation["section"] == "ever_high") & (validation["group"] != "ever vs never")]
    assert graded["n_offenders"].sum() == 3_000

    page = (tmp_path / "out" / "regression.html").read_text()
    assert "Figure 12" in page and "Figure 13" in page and "Time-ordered" in page
    assert ("Share of high first grades per cluster" in page) == with_clusters

    metadata = result.asset_materializations_for_node("regression_results")[0].metadata
    assert metadata["offence_type_n_obs"].value == 3_000
    assert metadata["n_without_da_incident"].value == 150
    assert metadata["models_not_estimable"].value == "none"


def test_a_term_held_by_one_offender_warns_and_leaves_the_rest(tmp_path):
    path = _warehouse(tmp_path, with_clusters=False, lone_offender=True)
    platform = PlatformResource(warehouse_path=str(path), output_dir=str(tmp_path / "out"))
    config = {"ops": {"regression_results": {"config": {"sensitivity": "none"}}}}
    result = dg.materialize(
        [*regression_defs.ASSETS, *regression_defs.ASSET_CHECKS],
        resources={"platform": platform},
        run_config=config,
    )
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    warn = checks["regression_estimable"]
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN
    assert "offence_type, kidnapping: held by 1 offender only" in warn.description
    blocking = [c for name, c in checks.items() if name != "regression_estimable"]
    assert all(c.passed for c in blocking), [(c.check_name, c.metadata) for c in blocking]
    con = duckdb.connect(str(path), read_only=True)
    results = con.execute("SELECT * FROM analytics.regression_results WHERE model = 'offence_type'").df()
    con.close()
    rest = results.loc[results["term"] != "kidnapping"]
    assert (rest["status"] == "estimated").all() and np.isfinite(rest["std_error"]).all()
    page = (tmp_path / "out" / "regression.html").read_text()
    assert "Not estimable on this data" in page and "kidnapping" in page


def test_a_missing_declared_input_is_an_error_naming_it(tmp_path):
    """The time-ordered marts and the typology's clusters are declared inputs: when one is missing the step
    fails and names it, rather than publishing fewer models (or no per-cluster rows) without a word."""
    path = _warehouse(tmp_path, with_clusters=False, time_ordered=False)
    platform = PlatformResource(warehouse_path=str(path), output_dir=str(tmp_path / "out"))
    config = {"ops": {"regression_results": {"config": {"sensitivity": "none"}}}}
    result = dg.materialize(
        [regression_defs.regression_results],
        resources={"platform": platform},
        run_config=config,
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "dim_da_onset" in str(failure.step_failure_data.error)

    (tmp_path / "no_clusters").mkdir()
    path = _warehouse(tmp_path / "no_clusters", with_clusters=False)
    con = duckdb.connect(str(path))
    con.execute("DROP TABLE analytics.offender_clusters")
    con.close()
    platform = PlatformResource(warehouse_path=str(path), output_dir=str(tmp_path / "out"))
    result = dg.materialize(
        [regression_defs.risk_assessment_validation], resources={"platform": platform}, raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "offender_clusters" in str(failure.step_failure_data.error)


def test_config_reaches_the_fit(tmp_path):
    path = _warehouse(tmp_path, with_clusters=False)
    platform = PlatformResource(warehouse_path=str(path), output_dir=str(tmp_path / "out"))
    config = {
        "ops": {
            "regression_results": {
                "config": {
                    "adjusted_controls": ["has_non_da_history"],
                    "se_type": "nonrobust",
                    "sensitivity": "none",
                    "fit_time_ordered": False,
                    "min_offenders": 30,
                }
            }
        }
    }
    result = dg.materialize(
        [regression_defs.regression_results], resources={"platform": platform}, run_config=config
    )
    assert result.success
    con = duckdb.connect(str(path), read_only=True)
    results = con.execute("SELECT * FROM analytics.regression_results").df()
    model_fit = con.execute("SELECT * FROM analytics.regression_model_fit").df()
    con.close()
    assert set(results["model"]) == {
        "offence_type",
        "offence_code",
        "offence_type_adjusted",
        "offence_code_adjusted",
        "risk_first_non_crime",
        "risk_first_da",
        "risk_share_high",
    }
    assert (results["se_type"] == "nonrobust").all()
    np.testing.assert_allclose(results["std_error"], results["std_error_classical"])
    adjusted = results.loc[results["model"] == "offence_type_adjusted"]
    assert list(adjusted.loc[adjusted["term_kind"] == "control", "term"]) == ["has_non_da_history"]
    headline = results.loc[results["model"] == "offence_type"]
    assert not (headline["term_kind"] == "control").any()
    assert (model_fit["min_offenders_presentation"] == 30).all()
