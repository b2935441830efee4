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


MARTS = ("dim_offenders", "fct_offences", "fct_incidents")


def shared_warehouse(scale: str | None = None) -> Path:
    """The one benchmark warehouse per scale: built by `bench.dbt_build`, read by the later benchmarks."""
    return BENCH_DIR / f"warehouse_{scale or bench_scale()}.duckdb"


def load_extract(warehouse: Path, extract: Path) -> int:
    """Load ``extract`` into the ``raw`` schema of a new ``warehouse``; returns the crime rows read."""
    import duckdb

    from dap.extract import load_raw

    warehouse.unlink(missing_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        return load_raw(con, extract).tables["crimes"].rows
    finally:
        con.close()


def dbt_build(warehouse: Path) -> None:
    """`dbt build` (every model and test, not the unit tests) on ``warehouse``."""
    import tempfile

    dbt = Path(sys.executable).with_name("dbt")
    with tempfile.TemporaryDirectory(prefix="bench-dbt-") as target:
        subprocess.run(
            [str(dbt), "build", "--exclude", "test_type:unit", "--project-dir", str(settings.DBT_PROJECT_DIR),
             "--profiles-dir", str(settings.DBT_PROJECT_DIR), "--target-path", target, "--log-path", target,
             "--quiet"],
            check=True,
            env={**os.environ, "DA_DBT_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        )  # fmt: skip


def _has_marts(warehouse: Path) -> bool:
    import duckdb

    if not warehouse.exists():
        return False
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:  # being written by another benchmark right now
        return False
    try:
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'marts' AND table_name IN "
            f"({', '.join('?' for _ in MARTS)})",
            list(MARTS),
        ).fetchone()[0]
        return found == len(MARTS)
    finally:
        con.close()


def warehouse_with_marts(scale: str | None = None) -> Path | None:
    """The shared benchmark warehouse with its marts, built here if `bench.dbt_build` has not built it;
    None (with the reason printed) when it cannot be built, so a benchmark can say what it fell back to."""
    warehouse = shared_warehouse(scale)
    if _has_marts(warehouse):
        return warehouse
    try:
        load_extract(warehouse, ensure_extract(scale))
        dbt_build(warehouse)
        return warehouse
    except Exception as error:  # noqa: BLE001 - say what could not be done; the caller falls back
        print(f"could not build the marts from the extract ({type(error).__name__}: {error})")
        return None
