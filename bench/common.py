"""Shared pieces of the benchmarks: timing medians, peak memory, the cached wmp extract."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass
class Measured:
    """One measured child process: wall seconds, its own peak resident memory, what it printed."""

    seconds: float
    peak_gib: float
    stdout: str
    samples: list[tuple[float, int]] = field(default_factory=list)
    """(wall-clock time, resident KiB of the process and its descendants), every 0.1 s: what a step of the
    run held while it ran (see :func:`peak_between`)."""


def _resident_kib(pid: int) -> int:
    """VmRSS (resident now) of a running process and of its descendants, summed; 0 if gone."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += sum(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def peak_between(samples: list[tuple[float, int]], start: float, end: float) -> float:
    """The largest resident memory (GiB) sampled between ``start`` and ``end`` (wall-clock seconds)."""
    inside = [kib for at, kib in samples if start <= at <= end]
    return max(inside, default=0) / (1024 * 1024)


def _high_water_kib(pid: int) -> int:
    """VmHWM (peak resident set) of a running process and of its descendants, the largest; 0 if gone."""
    peak, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            high = [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")]
            peak = max([peak, *high])
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return peak


def reported_peak_kib(stdout: str) -> int:
    """The ``PEAK_KIB n`` line a child prints at exit (its own VmHWM), 0 if none."""
    values = [int(line.split()[1]) for line in stdout.splitlines() if line.startswith("PEAK_KIB ")]
    return max(values, default=0)


def print_peak() -> None:
    """Print this process's own peak resident memory (VmHWM) as ``PEAK_KIB n``, for :func:`run_measured`."""
    status = Path("/proc/self/status").read_text().splitlines()
    high = [line.split()[1] for line in status if line.startswith("VmHWM:")]
    print(f"PEAK_KIB {high[0] if high else 0}", flush=True)


def run_measured(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> Measured:
    """Run a command; its wall time and the peak resident memory of that run alone: the largest VmHWM of the
    process and its descendants, sampled every 0.1 s, or the ``PEAK_KIB`` line it prints at exit if larger.
    (Not ``ru_maxrss``: the kernel carries the parent's resident size at fork into a child's, and
    ``RUSAGE_CHILDREN`` is the maximum over every child ever waited for.) Raises CalledProcessError (with
    what it printed) if the command fails, so that a failed step fails the benchmark."""
    with tempfile.TemporaryFile(mode="w+") as out, tempfile.TemporaryFile(mode="w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            cmd, stdout=out, stderr=err, env={**os.environ, **(env or {})}, cwd=cwd, text=True
        )
        peak_kib, samples = 0, []
        while process.poll() is None:
            peak_kib = max(peak_kib, _high_water_kib(process.pid))
            samples.append((time.time(), _resident_kib(process.pid)))
            time.sleep(0.1)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, cmd, stdout, stderr[-4000:])
    peak_kib = max(peak_kib, reported_peak_kib(stdout))
    return Measured(seconds=seconds, peak_gib=peak_kib / (1024 * 1024), stdout=stdout, samples=samples)


#: Environment that pins BLAS/OpenMP/numba to one thread, for peer comparisons with single-threaded tools.
ONE_THREAD = {
    name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
}


def machine_load() -> str:
    """The 1-, 5- and 15-minute load averages and the number of CPUs, to say how busy the machine was."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


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
    with duckdb.connect(str(warehouse)) as con:
        return load_raw(con, extract).tables["crimes"].rows


def dbt_build(warehouse: Path) -> None:
    """`dbt build` (every model and test, not the unit tests) on ``warehouse``."""
    import tempfile

    from orchestration.lib.dbt_cli import dbt_env, dbt_executable

    with tempfile.TemporaryDirectory(prefix="bench-dbt-") as target:
        subprocess.run(
            [
                dbt_executable(),
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
            env=dbt_env(warehouse),
        )


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
