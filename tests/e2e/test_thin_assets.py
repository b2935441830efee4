"""Thin assets, checked on a real `dap run` of the tiny extract: every table an asset writes carries
``dagster/row_count`` (the manifest, `dap trace` and OpenLineage read it), and the published RFG snapshots
are those the programme evaluation uses: scoring them again the evaluation's way gives the same table."""

from __future__ import annotations

import dataclasses

import duckdb
import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def _tables(warehouse) -> set[tuple[str, str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return set(con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall())
    finally:
        con.close()


def test_every_table_materialisation_carries_its_row_count(published):
    import dagster as dg

    tables = _tables(published.warehouse)
    checked, missing = set(), []
    with dg.DagsterInstance.from_config(str(published.dagster_home)) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
        assert runs, "the published fixture made no successful run"
        for run in runs:
            for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
                materialization = entry.asset_materialization
                key = materialization.asset_key
                if tuple(key.path[-2:]) not in tables:  # a report or another non-table output
                    continue
                checked.add(key.to_user_string())
                if "dagster/row_count" not in materialization.metadata:
                    missing.append(key.to_user_string())
    assert missing == [], f"materialisations without dagster/row_count: {sorted(set(missing))}"
    # Not vacuous: the ingest, dbt and every analytics domain's tables were among those checked.
    for key in (
        "raw/crimes",
        "marts/fct_incidents",
        "analytics/rfg_scores",
        "analytics/effect_estimates",
        "analytics/evaluation_summary",
        "analytics/regression_results",
        "analytics/offender_clusters",
    ):
        assert key in checked, key


def test_published_rfg_scores_are_those_the_evaluation_uses(published):
    from ml.evaluation.pipeline import run_evaluation
    from orchestration.defs.evaluation import EvaluationAssetConfig, _read_inputs, _sources
    from orchestration.lib.warehouse_io import read_table, write_table

    con = duckdb.connect(str(published.warehouse), read_only=True)
    try:
        incidents, offenders, participants = _read_inputs(con)
        sources = _sources(con, incidents, offenders)
        published_scores = read_table(con, "analytics.rfg_scores")
    finally:
        con.close()
    assert participants is not None and len(participants), "the tiny extract has programme participants"
    # The run's defaults; the bootstraps (which do not touch RFG) kept short.
    config = dataclasses.replace(
        EvaluationAssetConfig().to_evaluation_config(),
        bootstrap_reps=19,
        matched_bootstrap_reps=19,
        library_estimator=False,
    )
    # Without rfg_scores, run_evaluation scores the snapshots itself, on the validated participants.
    scored = run_evaluation(incidents, offenders, participants, config, sources=sources).rfg_scores
    memory = duckdb.connect()
    try:  # the same round trip through the warehouse as the published table
        write_table(memory, "analytics.rfg_scores", scored)
        scored = read_table(memory, "analytics.rfg_scores")
    finally:
        memory.close()
    assert len(published_scores) > 0
    pd.testing.assert_frame_equal(scored, published_scores)
