"""Benchmark of the whole pipeline: `dap run` from raw files to published reports, once, at DA_BENCH_SCALE,
with its wall time, the peak resident memory of that run alone, and the seconds of every step (from the
Dagster event log of the run). Targets (issue 15): wmp <= 2.5 minutes; national <= 60 minutes, <= 16 GB.
Skipped unless DA_BENCH_PIPELINE=1 (it takes minutes and repeats the steps measured above). A failed run
fails the benchmark (and so `make bench`). With DA_BENCH_KEEP=1 the run's warehouse, reports and Dagster home
are kept (in data/bench/pipeline_<scale>, replaced by the next kept run), so that single assets can be
re-materialised on them to compare a change step by step.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.common import (
    BENCH_DIR,
    bench_scale,
    ensure_extract,
    header,
    machine_load,
    peak_between,
    run_measured,
)


def step_times(dagster_home: Path) -> list[tuple[str, float, float]]:
    """(step, start, end) in wall-clock seconds of every step of the latest run in ``dagster_home``, the
    longest first."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return []
        stats = instance.get_run_step_stats(runs[0].run_id)
    rows = [(s.step_key, s.start_time or 0, s.end_time or s.start_time or 0) for s in stats]
    return sorted(rows, key=lambda row: row[1] - row[2])


def main() -> None:
    header(f"whole pipeline (dap run) at {bench_scale()}: raw files → published warehouse and reports")
    if os.environ.get("DA_BENCH_PIPELINE") != "1":
        print("skipped (set DA_BENCH_PIPELINE=1 to run the whole pipeline once at this scale)")
        return
    extract = ensure_extract()
    keep = os.environ.get("DA_BENCH_KEEP") == "1"
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as folder:
        root = BENCH_DIR / f"pipeline_{bench_scale()}" if keep else Path(folder)
        if keep:
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            print(f"keeping the run's warehouse, reports and Dagster home in {root}")
        env = {
            "DA_EXTRACT_DIR": str(extract),
            "DA_WAREHOUSE": str(root / "warehouse.duckdb"),
            "DA_OUTPUT_DIR": str(root / "reports"),
            "DAGSTER_HOME": str(root / "dagster_home"),
        }
        measured = run_measured([sys.executable, "-m", "dap.cli", "run"], env=env)
        print(
            f"dap run succeeded: {measured.seconds / 60:.1f} min ({measured.seconds:.0f} s), peak resident "
            f"memory of this run {measured.peak_gib:.2f} GiB; {machine_load()}"
        )
        print(
            "seconds and peak resident memory (GiB, of the whole run while the step ran) per step, the 15 longest:"
        )
        for step, start, end in step_times(root / "dagster_home")[:15]:
            print(f"  {end - start:8.1f} s  {peak_between(measured.samples, start, end):6.2f} GiB  {step}")


if __name__ == "__main__":
    main()
