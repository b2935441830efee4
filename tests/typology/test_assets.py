"""The typology assets end to end on a warehouse holding synthetic marts (no dbt needed)."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from orchestration.defs import typology as typology_defs
from orchestration.lib.warehouse_io import read_table, write_table
from orchestration.resources import PlatformResource
from tests.typology.synthetic import make_marts

RUN_CONFIG = {
    "ops": {
        "analytics__k_sweep": {
            "config": {
                "k_max": 8,
                "samples": 4,
                "subsample_size": 1200,
                "stability_seeds": [1, 2],
                "threads": 1,
            }
        },
        "analytics__offender_clusters": {"config": {"samples": 5, "sampsize": 300}},
    }
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    folder = tmp_path_factory.mktemp("typology_assets")
    path = folder / "warehouse.duckdb"
    marts = make_marts(n=2500, seed=3)
    dim = marts.dim_offenders.copy()
    dim["da_volume_band"] = (dim["n_da_incidents"] >= 3).map({True: "high", False: "low"})
    dim["non_da_volume_band"] = dim["n_non_da_incidents"].map(
        lambda n: "none" if n == 0 else "low" if n < 3 else "high"
    )
    con = duckdb.connect(str(path))
    write_table(con, "marts.dim_offenders", dim)
    write_table(con, "marts.fct_incidents", marts.fct_incidents)
    write_table(con, "marts.fct_offences", marts.fct_offences)
    write_table(con, "staging.stg_wmp__victims", marts.victims)
    write_table(con, "staging.stg_wmp__relationships", marts.relationships)
    con.close()
    return path, folder / "reports"


def test_assets_materialise_with_passing_checks(warehouse):
    path, reports = warehouse
    platform = PlatformResource(warehouse_path=str(path), output_dir=str(reports), threads=1)
    result = dg.materialize(
        [*typology_defs.defs.assets, *typology_defs.defs.asset_checks],
        resources={"platform": platform},
        run_config=RUN_CONFIG,
    )
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == {
        "typology_estimable",
        "explained_variance_floor",
        "no_empty_cluster",
        "medoids_belong_to_their_clusters",
        "sizes_sum_to_clustered_n",
        "profiles_consistent",
    }
    assert all(e.passed for e in evaluations)

    con = duckdb.connect(str(path))
    sweep = read_table(con, "analytics.k_sweep")
    clusters = read_table(con, "analytics.offender_clusters")
    profiles = read_table(con, "analytics.cluster_profiles")
    stability = read_table(con, "analytics.k_stability")
    selection = read_table(con, "analytics.k_selection")
    con.close()
    assert list(sweep.columns[:6]) == [
        "k",
        "objective",
        "sample_silhouette",
        "medoid_silhouette",
        "subsample_silhouette",
        "seconds",
    ]
    assert list(sweep["k"]) == list(range(2, 9))
    assert list(clusters.columns) == ["offender_id", "cluster", "is_medoid", "distance_to_medoid"]
    k = int(selection["chosen_k"].iloc[0])
    assert k != 2 and clusters["cluster"].nunique() == k == len(profiles)
    assert set(stability["seed"]) == {0, 1, 2}
    assert {
        "cluster",
        "n_offenders",
        "share",
        "offender_group",
        "median_da_incidents",
        "median_non_da_incidents",
    } <= set(profiles.columns)
    mats = result.asset_materializations_for_node("analytics__k_sweep")
    assert mats[0].metadata["chosen_k"].value == k
    page = (reports / "typology.html").read_text()
    assert "Medoid timelines" in page and "data:image/png;base64" in page


def test_every_setting_has_a_documented_default():
    for config_class in (typology_defs.PCAConfig, typology_defs.KSweepConfig, typology_defs.FinalFitConfig):
        for name, field in config_class.model_fields.items():
            assert field.default is not None or name == "n_components", f"{config_class.__name__}.{name}"
    sweep = typology_defs.KSweepConfig()
    assert (sweep.k_min, sweep.k_max, sweep.subsample_size, sweep.exclude_k2) == (2, 40, 20_000, True)
    assert typology_defs.PCAConfig().variance_target == 0.90


@pytest.mark.parametrize("n_offenders", [0, 1, 3])
def test_too_few_offenders_to_cluster_is_not_estimable_and_says_why(tmp_path, n_offenders):
    """The publication rule: the typology degrades to rows with a reason, a WARN check and the reason in
    the report; the blocking checks judge nothing and pass."""
    marts = make_marts(n=60, seed=5)
    keep = marts.dim_offenders["offender_id"].head(n_offenders)
    dim = marts.dim_offenders.loc[marts.dim_offenders["offender_id"].isin(keep)].copy()
    dim["da_volume_band"], dim["non_da_volume_band"] = "low", "none"
    path, reports = tmp_path / "warehouse.duckdb", tmp_path / "reports"
    con = duckdb.connect(str(path))
    write_table(con, "marts.dim_offenders", dim)
    for name in ("fct_incidents", "fct_offences"):
        frame = getattr(marts, name)
        write_table(con, f"marts.{name}", frame.loc[frame["offender_id"].isin(keep)])
    con.close()
    platform = PlatformResource(warehouse_path=str(path), output_dir=str(reports), threads=1)
    result = dg.materialize(
        [*typology_defs.defs.assets, *typology_defs.defs.asset_checks],
        resources={"platform": platform},
        run_config=RUN_CONFIG,
    )
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    warning = checks.pop("typology_estimable")
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN
    assert "too few to cluster" in warning.metadata["reason"].value
    blocking = {"no_empty_cluster", "medoids_belong_to_their_clusters", "sizes_sum_to_clustered_n"}
    assert all(checks[name].passed for name in blocking | {"profiles_consistent"})

    con = duckdb.connect(str(path))
    selection = read_table(con, "analytics.k_selection")
    fit = read_table(con, "analytics.typology_fit")
    clusters = read_table(con, "analytics.offender_clusters")
    con.close()
    assert selection["status"].tolist() == fit["status"].tolist() == ["not estimable"]
    assert "too few to cluster" in fit["reason"].iloc[0] and clusters.empty
    page = (reports / "typology.html").read_text()
    assert "not estimable:" in page and "too few to cluster" in page
