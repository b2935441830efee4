"""Benchmark of the transformation layer at wmp scale: loading the extract into `raw`, then `dbt build`
(every model and every test), median of DA_BENCH_REPEATS runs, with the marts' row counts.
Target (spec/performance.md): dbt build <= 90 s.

It builds the shared benchmark warehouse (data/bench/warehouse_<scale>.duckdb) that the typology, regression
and evaluation benchmarks then read, so they always run on marts made by the current code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from bench.common import BENCH_DIR, bench_scale, ensure_extract, header, median_seconds, repeats
from dap import settings
from dap.extract import load_raw


def _dbt_build(warehouse: Path) -> None:
    dbt = Path(sys.executable).with_name("dbt")
    with tempfile.TemporaryDirectory(prefix="bench-dbt-") as target:
        subprocess.run(
            [
                str(dbt),
                "build",
                "--exclude",
                "test_type:unit",
                "--project-dir",
                str(settings.DBT_PROJECT_DIR),
                "--profiles-dir",
                str(settings.DBT_PROJECT_DIR),
                "--target-path",
                target,
                "--log-path",
                target,
                "--quiet",
            ],
            check=True,
            env={**os.environ, "DA_DBT_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        )


def main() -> None:
    extract = ensure_extract()
    header(f"dbt build (staging → marts, with tests) on {extract.name}")
    warehouse = BENCH_DIR / f"warehouse_{bench_scale()}.duckdb"
    warehouse.unlink(missing_ok=True)
    start = time.perf_counter()
    con = duckdb.connect(str(warehouse))
    summary = load_raw(con, extract)
    con.close()
    load_seconds = time.perf_counter() - start
    print(f"load extract into raw: {load_seconds:.1f} s ({summary.tables['crimes'].rows:,} crime rows)")
    median, times = median_seconds(lambda: _dbt_build(warehouse), repeats())
    print(
        f"dbt build: median {median:.1f} s over {len(times)} runs {[round(t, 1) for t in times]} (target <= 90 s)"
    )
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for relation in ("marts.fct_offences", "marts.fct_incidents", "marts.dim_offenders"):
            print(f"  {relation}: {con.execute(f'SELECT count(*) FROM {relation}').fetchone()[0]:,} rows")
        quarantined = con.execute(
            "SELECT sum(rows_quarantined) FROM audit.audit_row_conservation"
        ).fetchone()[0]
        print(f"  quarantined rows: {quarantined:,}")
    finally:
        con.close()


if __name__ == "__main__":
    main()
