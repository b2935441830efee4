"""Benchmark of the synthetic extract generator: wmp scale, median of DA_BENCH_REPEATS runs, peak memory.

Each run is a separate process (`dap synth`), timed from outside; peak memory is the child's maximum
resident set size. Target (spec/performance.md): <= 2 minutes and <= 6 GB at wmp scale. National scale
(20x) is streamed in chunks of 20,000 offenders; its peak memory is measured on a partial run (the first
DA_BENCH_NATIONAL_OFFENDERS offenders, default 400,000: 20 chunks), which is what bounds the full run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench.common import bench_scale, header, repeats

_CHILD = """
import resource, sys, time
from synth.generate import generate
n = sys.argv[1]
scale = int(n) if n.isdigit() else n
t = time.perf_counter()
s = generate(scale, 1, sys.argv[2], progress=False)
print(f"{time.perf_counter() - t:.3f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} {s['rows']['crimes']}")
"""


def _run(scale: str, out: str) -> tuple[float, float, float, int]:
    """(wall seconds of the process, seconds inside generate, peak RSS GiB, crime rows)"""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, scale, out], check=True, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    inner, rss_kib, rows = result.stdout.split()
    return wall, float(inner), int(rss_kib) / (1024 * 1024), int(rows)


def main() -> None:
    scale = bench_scale()
    n = repeats()
    header(f"synthetic extract generator ({scale}, {n} runs)")
    walls, peaks = [], []
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        for i in range(n):
            wall, inner, peak, rows = _run(scale, os.path.join(tmp, f"run{i}"))
            walls.append(wall)
            peaks.append(peak)
            print(
                f"  run {i + 1}: {wall:.1f} s (generate {inner:.1f} s), peak {peak:.2f} GiB, {rows:,} crime rows",
                flush=True,
            )
    print(
        f"generate {scale}: median {statistics.median(walls):.1f} s, peak memory {max(peaks):.2f} GiB "
        f"(target at wmp: <= 120 s, <= 6 GiB)"
    )
    partial = os.environ.get("DA_BENCH_NATIONAL_OFFENDERS", "400000")
    if partial != "0":
        with tempfile.TemporaryDirectory(prefix="bench-synth-national-") as tmp:
            wall, inner, peak, rows = _run(partial, tmp)
        print(
            f"national (streamed, partial run of {int(partial):,} offenders): {wall:.1f} s, "
            f"peak memory {peak:.2f} GiB, {rows:,} crime rows; the full 2,907,840 would take about "
            f"{wall * 2_907_840 / int(partial) / 60:.0f} min at the same peak memory"
        )


if __name__ == "__main__":
    main()
