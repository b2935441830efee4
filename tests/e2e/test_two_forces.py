"""Two forces side by side on one machine: each force's extract in its own warehouse, reports folder and
Dagster home, the two `dap run`s started together (docs/scaling.md, "Past one machine"). This is the
per-force layout a partitioned deployment would use, run as two processes; it is not Dagster partitions.

Each run must publish on its own, and what force A publishes beside force B must be what A publishes
alone: no shared state (locks, Dagster storage, build folders, dbt target) between the two.
"""

from __future__ import annotations

import time

import duckdb
import pytest

from tests.e2e.conftest import make_platform

pytestmark = pytest.mark.slow

# What must agree (a run's timings, e.g. the K sweep's seconds, do not).
TABLES = {
    "marts.dim_offenders": "*",
    "marts.fct_incidents": "*",
    "analytics.k_sweep": "k, objective, sample_silhouette, medoid_silhouette, smallest_cluster",
    "analytics.offender_clusters": "*",
    "analytics.effect_estimates": "*",
}


def _digest(warehouse, table: str, columns: str = "*") -> tuple[int, str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "SELECT count(*), md5(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR))) "
            f"FROM (SELECT {columns} FROM {table}) t"
        ).fetchone()
    finally:
        con.close()


def test_two_forces_run_side_by_side_and_publish_what_each_publishes_alone(
    published, tiny_extract, tmp_path_factory
):
    from tests.helpers import generate_extract

    force_b_extract = generate_extract("tiny", 2, tmp_path_factory.mktemp("force_b_extract"))
    force_a = make_platform(tmp_path_factory, tiny_extract, "force_a")
    force_b = make_platform(tmp_path_factory, force_b_extract, "force_b")
    logs = {name: tmp_path_factory.mktemp(f"log_{name}") / "dap.log" for name in ("a", "b")}
    runs = {"a": force_a.start("run", log=logs["a"]), "b": force_b.start("run", log=logs["b"])}
    deadline = time.monotonic() + 1800
    for name, process in runs.items():
        code = process.wait(timeout=max(1, deadline - time.monotonic()))
        assert code == 0, logs[name].read_text()[-5000:]
    for platform in (force_a, force_b):
        assert platform.warehouse.exists() and (platform.reports / "current").exists()
    for table, columns in TABLES.items():
        assert _digest(force_a.warehouse, table, columns) == _digest(published.warehouse, table, columns), (
            table
        )
    a_people, _ = _digest(force_a.warehouse, "marts.dim_offenders")
    b_people, _ = _digest(force_b.warehouse, "marts.dim_offenders")
    con = duckdb.connect(str(force_b.warehouse), read_only=True)
    try:
        (b_ids,) = con.execute("SELECT count(DISTINCT offender_id) FROM marts.dim_offenders").fetchone()
    finally:
        con.close()
    assert b_ids == b_people and b_people > 0
    assert _digest(force_b.warehouse, "marts.dim_offenders") != _digest(
        force_a.warehouse, "marts.dim_offenders"
    )
