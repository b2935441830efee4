"""Benchmark of the transformation layer at wmp scale: loading the extract into `raw`, then `dbt build`
(every model and every test), median of DA_BENCH_REPEATS runs, with the marts' row counts.
Target (spec/performance.md): dbt build <= 90 s.

It builds the shared benchmark warehouse (data/bench/warehouse_<scale>.duckdb) that the typology, regression
and evaluation benchmarks then read, so they always run on marts made by the current code.
"""

from __future__ import annotations

import time

import duckdb

from bench.common import (
    dbt_build,
    ensure_extract,
    header,
    load_extract,
    median_seconds,
    repeats,
    shared_warehouse,
)


def main() -> None:
    extract = ensure_extract()
    header(f"dbt build (staging → marts, with tests) on {extract.name}")
    warehouse = shared_warehouse()
    start = time.perf_counter()
    crime_rows = load_extract(warehouse, extract)
    print(f"load extract into raw: {time.perf_counter() - start:.1f} s ({crime_rows:,} crime rows)")
    median, times = median_seconds(lambda: dbt_build(warehouse), repeats())
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
