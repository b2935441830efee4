"""Benchmark of the whole pipeline at wmp scale: `dap run` from raw files to published reports, once,
with its wall time and peak memory. Target (spec/performance.md): <= 10 minutes, peak <= 8 GB.
Skipped unless DA_BENCH_PIPELINE=1 (it takes minutes and repeats the steps measured above).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ensure_extract, header


def main() -> None:
    header("whole pipeline (dap run): raw files → published warehouse and reports")
    if os.environ.get("DA_BENCH_PIPELINE") != "1":
        print("skipped (set DA_BENCH_PIPELINE=1 to run the whole pipeline once at this scale)")
        return
    extract = ensure_extract()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as folder:
        root = Path(folder)
        env = {
            **os.environ,
            "DA_EXTRACT_DIR": str(extract),
            "DA_WAREHOUSE": str(root / "warehouse.duckdb"),
            "DA_OUTPUT_DIR": str(root / "reports"),
            "DAGSTER_HOME": str(root / "dagster_home"),
        }
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "dap.cli", "run"], env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / (1024 * 1024)
        status = "succeeded" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
        print(
            f"dap run {status}: {seconds / 60:.1f} min, peak resident memory of a child process {peak:.2f} GiB "
            "(target <= 10 min, <= 8 GB)"
        )
        if result.returncode != 0:
            print(result.stderr[-2000:])


if __name__ == "__main__":
    main()
