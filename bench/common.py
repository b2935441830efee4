"""Shared pieces of the benchmarks: timing medians, peak memory, the cached wmp extract."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from dap import settings

BENCH_DIR = settings.DATA_DIR / "bench"


def bench_scale() -> str:
    """`wmp` unless DA_BENCH_SCALE says otherwise (e.g. `demo` for a quick look)."""
    return os.environ.get("DA_BENCH_SCALE", "wmp")


def repeats() -> int:
    return int(os.environ.get("DA_BENCH_REPEATS", "3"))


def median_seconds(fn: Callable[[], object], n: int | None = None) -> tuple[float, list[float]]:
    """Run ``fn`` ``n`` times; return the median wall time and all times."""
    times = []
    for _ in range(n or repeats()):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def run_measured(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Run a command; return (seconds, peak resident memory of the child in GiB)."""
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(cmd, check=True, env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss for children is the max over all waited-for children so far; report it as an upper bound.
    return seconds, max(peak_kib, before) / (1024 * 1024)


def ensure_extract(scale: str | None = None, seed: int = 1) -> Path:
    """The benchmark extract, generated once and reused."""
    scale = scale or bench_scale()
    out = BENCH_DIR / f"extract_{scale}_{seed}"
    if not (out / "_truth").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "dap.cli",
                "synth",
                "--scale",
                scale,
                "--seed",
                str(seed),
                "--out",
                str(out),
            ],
            check=True,
        )
    return out


def header(title: str) -> None:
    print(f"\n== {title} ==", flush=True)
