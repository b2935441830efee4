"""The publication rule (docs/publication-rule.md) held by tests: every check of the platform is classified
as blocking (data integrity, an internally wrong number) or warning (a property of the data, an analysis
that could not be estimated); the definitions agree with the classification and the document names every
check; and Dagster gates publication the way the rule relies on."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from dap import settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "publication-rule.md"

# (asset key, check name) → blocks publication? Raw contract suites are matched by their check name.
BLOCKING = {
    ("raw/*", "contract"),
    ("analytics/effect_estimates", "effect_estimates_valid"),
    ("analytics/effect_estimates", "participants_valid"),
    ("analytics/regression_model_fit", "regression_residuals_finite"),
    ("analytics/regression_results", "regression_inference_valid"),
    ("analytics/regression_results", "regression_no_empty_indicator"),
    ("analytics/risk_assessment_validation", "risk_validation_shares_in_range"),
    ("analytics/offender_clusters", "no_empty_cluster"),
    ("analytics/offender_clusters", "medoids_belong_to_their_clusters"),
    ("analytics/offender_clusters", "sizes_sum_to_clustered_n"),
    ("analytics/cluster_profiles", "profiles_consistent"),
}
WARNING = {
    ("analytics/effect_estimates", "effect_estimates_estimable"),
    ("analytics/regression_model_fit", "regression_estimable"),
    ("analytics/offender_clusters", "typology_estimable"),
    ("analytics/pca", "explained_variance_floor"),
    ("analytics/balance", "balance_smd_below_0_1"),
    ("analytics/reoffending_rates", "censoring_reported"),
    ("analytics/risk_assessment_validation", "risk_validation_sane"),
    ("marts/fct_incidents", "gx_distribution"),
    ("marts/dim_offenders", "gx_distribution"),
    ("publish/warehouse", "freshness_check"),
}
# dbt tests block through the dbt step (dbt build fails on a test of severity error); these are the kinds
# the rule calls keys, relationships, accepted values, conservation and grouping invariants.
DBT_TEST_KINDS = {
    "unique", "unique_combination_of_columns", "not_null", "relationships", "accepted_values",
    "expression_is_true", "assert_rows_conserved", "assert_each_raw_row_in_exactly_one_place",
    "assert_sequences_contiguous", "assert_incident_counts_match_dim_offenders",
    "assert_offence_count_matches_incidents", "assert_da_onset_covers_da_perpetrators",
    "quarantined_share_within_threshold",
}  # fmt: skip


def _classified(key: str, name: str) -> str | None:
    for table, label in ((BLOCKING, "blocking"), (WARNING, "warning")):
        if (key, name) in table or (key.split("/")[0] + "/*", name) in table:
            return label
    return None


@pytest.fixture(scope="module")
def platform_checks() -> dict[tuple[str, str], bool]:
    """(asset key, check name) → blocking, for every check that is not a dbt test."""
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    dbt_tests = _dbt_tests()
    found = {}
    for key in graph.asset_check_keys:
        if key.name in dbt_tests:
            continue
        found[(key.asset_key.to_user_string(), key.name)] = bool(graph.get(key).blocking)
    return found


def _dbt_tests() -> dict[str, dict]:
    from orchestration.defs.transform import dbt_project

    manifest = json.loads(Path(dbt_project().manifest_path).read_text())
    return {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "test"}


def test_every_check_is_classified_and_blocks_exactly_when_the_rule_says(platform_checks):
    unclassified = [f"{k}:{n}" for k, n in platform_checks if _classified(k, n) is None]
    assert not unclassified, f"checks the publication rule does not classify: {unclassified}"
    wrong = [
        f"{k}:{n} is {'blocking' if blocking else 'not blocking'} but the rule says {_classified(k, n)}"
        for (k, n), blocking in platform_checks.items()
        if blocking != (_classified(k, n) == "blocking")
    ]
    assert not wrong


def test_the_document_names_every_check(platform_checks):
    text = DOC.read_text()
    missing = sorted({n for _, n in platform_checks if f"`{n}`" not in text and f":{n}`" not in text})
    assert not missing, f"docs/publication-rule.md does not mention {missing}"


def test_every_dbt_test_is_a_structural_test_with_severity_error():
    odd = []
    for name, node in _dbt_tests().items():
        kind = (node.get("test_metadata") or {}).get("name") or name
        if kind not in DBT_TEST_KINDS or node["config"].get("severity", "error").lower() != "error":
            odd.append(f"{name} ({kind}, severity {node['config'].get('severity')})")
    assert not odd, f"dbt tests outside the rule's blocking kinds: {odd}"
    assert settings.DBT_PROJECT_DIR.is_dir()


def test_dagster_gates_publication_as_the_rule_relies_on(tmp_path):
    """A failing blocking ERROR check stops everything downstream (so `publish/warehouse` never runs); a
    failing non-blocking check, WARN or even ERROR, does not."""

    def graph(blocking: bool, severity: dg.AssetCheckSeverity):
        @dg.asset(check_specs=[dg.AssetCheckSpec("rule", asset="figure", blocking=blocking)])
        def figure():
            yield dg.Output(1)
            yield dg.AssetCheckResult(check_name="rule", passed=False, severity=severity)

        @dg.asset(deps=[figure])
        def publish():
            return 1

        return [figure, publish]

    instance = dg.DagsterInstance.ephemeral()
    blocked = dg.materialize(
        graph(True, dg.AssetCheckSeverity.ERROR), instance=instance, raise_on_error=False
    )
    assert not blocked.success
    assert not blocked.asset_materializations_for_node("publish")
    for severity in (dg.AssetCheckSeverity.WARN, dg.AssetCheckSeverity.ERROR):
        for blocking in (False, True) if severity == dg.AssetCheckSeverity.WARN else (False,):
            done = dg.materialize(graph(blocking, severity), instance=instance)
            assert done.success and done.asset_materializations_for_node("publish")
