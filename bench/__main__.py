"""`make bench`: every benchmark in turn, at DA_BENCH_SCALE (default wmp), DA_BENCH_REPEATS runs (default 3).

Benchmarks print medians; they assert nothing (timings belong here, not in the tests).
"""

from __future__ import annotations

import importlib
import sys
import traceback

from bench.common import bench_scale, repeats

BENCHMARKS = [
    "bench.synth",
    "bench.dbt_build",
    "bench.typology",
    "bench.regression",
    "bench.evaluation",
    "bench.pipeline",
]


def main() -> int:
    print(f"benchmarks at scale {bench_scale()!r}, {repeats()} repeat(s) where repeated", flush=True)
    failed = []
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            print(f"\n== {name}: not available ({error}) ==")
            continue
        try:
            module.main()
        except Exception:  # one broken benchmark should not hide the others
            failed.append(name)
            traceback.print_exc()
        sys.stdout.flush()
    if failed:
        print(f"\nbenchmarks that failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
