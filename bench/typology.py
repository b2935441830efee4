"""Typology benchmark at DA_BENCH_SCALE (default wmp), on the pipeline's own PCA matrix
(``marts.dim_offenders`` → features → z-scores → PCA, as ``analytics/pca``).

1. **CLARA beside R**, three columns in one run on the same matrix, for every K of the sweep:
   R ``cluster::clara(x, k)`` with its defaults; the project's CLARA in R-exact mode
   (``ClaraSettings.r_exact()``: it must reproduce R's objective); the project's CLARA in the pipeline's mode
   (the defaults of ``KSweepConfig``). Each is its own process with BLAS, OpenMP and numba pinned to one
   thread (R's clara is single-threaded), timed per K inside the process (wall and CPU seconds), with the
   process's own peak memory. Per K: objectives, seconds and the ratios; the sweep totals and ratios.
   Targets (spec/performance.md): pipeline objective ≥ 7% below R's at every K, sweep ≥ 3× faster.
2. **The typology step as ``dap run`` runs it**: the subsample-silhouette matrix, the K sweep, the
   stability sweeps (``stability_seeds``) and the final fit, with the pipeline's thread settings, in one
   process; target ≤ 300 s (spec/performance.md: K sweep + final clustering ≤ 5 min).

Every measurement is repeated DA_BENCH_REPEATS times (default 3) and the medians are printed; objectives are
deterministic and must agree across repeats. The machine's load average is printed beside the timings
(shared machines are noisy: compare ratios measured in the same run). Without ``Rscript`` and the ``cluster``
package the R column is skipped and the output says so (``apt-get install r-base-core r-cran-cluster``).
A step that fails raises, so that ``make bench`` exits non-zero. The PCA matrix is cached in
``data/bench/`` beside the benchmark warehouse it came from. ``python -m bench.typology`` runs this alone.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import (
    BENCH_DIR,
    ONE_THREAD,
    bench_scale,
    header,
    machine_load,
    print_peak,
    repeats,
    run_measured,
    warehouse_with_marts,
)

R_SCRIPT = r"""
suppressMessages(library(cluster))
args <- commandArgs(trailingOnly = TRUE)
n <- as.integer(args[2]); d <- as.integer(args[3])
x <- matrix(readBin(args[1], "double", n = n * d), nrow = n, ncol = d, byrow = TRUE)
for (k in as.integer(strsplit(args[4], ",")[[1]])) {
  t <- system.time(cl <- clara(x, k, medoids.x = FALSE, keep.data = FALSE))
  cat(sprintf("RESULT %d %.17g %.6f %.6f %s\n", k, cl$objective, t[["elapsed"]],
              t[["user.self"]] + t[["sys.self"]], paste(cl$i.med - 1, collapse = ",")))
}
hwm <- grep("^VmHWM:", readLines("/proc/self/status"), value = TRUE)
cat(sprintf("PEAK_KIB %s\n", gsub("[^0-9]", "", hwm)))
"""

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("r", "exact", "pipeline")
TITLES = {
    "r": "R clara defaults",
    "exact": "project, R-exact mode",
    "pipeline": "project, pipeline mode",
}


# --- the matrix -------------------------------------------------------------------------------------------


def pca_matrix(scale: str) -> tuple[Path, str]:
    """The PCA scores of the benchmark warehouse's ``marts.dim_offenders`` as ``analytics/pca`` computes
    them, cached as .npy next to the warehouse (rebuilt when the warehouse changes)."""
    warehouse = warehouse_with_marts(scale)
    if warehouse is None:
        raise RuntimeError(f"the benchmark marts at {scale} scale could not be built (see above)")
    cache, stamp_file = BENCH_DIR / f"pca_{scale}.npy", BENCH_DIR / f"pca_{scale}.json"
    stat = warehouse.stat()
    stamp = {"warehouse": warehouse.name, "size": stat.st_size, "mtime": stat.st_mtime}
    if cache.exists() and stamp_file.exists() and json.loads(stamp_file.read_text()).get("stamp") == stamp:
        info = json.loads(stamp_file.read_text())["source"]
        return cache, f"{info} (cached)"
    import duckdb

    from ml.features import PCA_FEATURES, build_feature_matrix, fit_pca, standardise

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        dim = con.execute(
            f"SELECT offender_id, has_missing_age, {', '.join(PCA_FEATURES)} FROM marts.dim_offenders"
        ).df()
    finally:
        con.close()
    start = time.perf_counter()
    matrix, dropped = build_feature_matrix(dim)
    z, _ = standardise(matrix)
    pca = fit_pca(z, variance_target=0.90)
    source = (
        f"marts.dim_offenders ({scale}): {len(matrix):,} offenders, {pca.n_components} of "
        f"{len(PCA_FEATURES)} PCs ({pca.kept_ratio:.2%} of variance); features + PCA "
        f"{time.perf_counter() - start:.1f} s; dropped {dropped.as_dict()}"
    )
    np.save(cache, np.ascontiguousarray(pca.scores, dtype=np.float64))
    stamp_file.write_text(json.dumps({"stamp": stamp, "source": source}))
    return cache, source


# --- the children (one process per measured run) ------------------------------------------------------------


def _sweep_settings():
    """The ClaraSettings of the pipeline's K sweep: the defaults of ``KSweepConfig``."""
    from ml.typology import ClaraSettings
    from orchestration.defs.typology import KSweepConfig

    config = KSweepConfig()
    return ClaraSettings(**{f.name: getattr(config, f.name) for f in fields(ClaraSettings)}), config


def _clara_child(mode: str, matrix: str, ks: str) -> None:
    """Time the project's CLARA per K in this process, one thread; print one RESULT line per K."""
    from threadpoolctl import threadpool_limits

    from ml.clara import clara
    from ml.typology import ClaraSettings

    x = np.load(matrix)
    settings = ClaraSettings.r_exact() if mode == "exact" else _sweep_settings()[0]
    with threadpool_limits(1):
        start = time.perf_counter()
        warm = np.ascontiguousarray(x[:: max(1, len(x) // 2000)])  # compile the kernels (cached on disk)
        for k in (2, 12):
            settings.fit(warm, k)
        clara(
            warm,
            3,
            samples=1,
            sampsize=100,
            polish_iterations=1,
            polish_screen=10,
            score_rows=500,
            score_polish_iterations=1,
        )
        print(f"WARMUP {time.perf_counter() - start:.3f}", flush=True)
        for k in map(int, ks.split(",")):
            wall, cpu = time.perf_counter(), time.process_time()
            result = settings.fit(x, k)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            medoids = ",".join(str(m) for m in sorted(int(m) for m in result.medoids))
            print(f"RESULT {k} {result.objective!r} {wall:.6f} {cpu:.6f} {medoids}", flush=True)
    print_peak()


def _typology_child(matrix: str) -> None:
    """The typology step as the pipeline runs it (its threads, its settings); print one JSON line."""
    from ml.clara import SubsampleSilhouette
    from ml.typology import fit_typology, k_stability, run_k_sweep, select_k
    from orchestration.defs.typology import FinalFitConfig

    x = np.load(matrix)
    settings, config = _sweep_settings()
    final = FinalFitConfig()
    ks = range(config.k_min, min(config.k_max, len(x) - 1) + 1)
    times = {}
    start = time.perf_counter()
    subsample = SubsampleSilhouette(x, config.subsample_size, None, config.subsample_seed, config.threads)
    times["subsample_matrix"] = time.perf_counter() - start
    sweep = run_k_sweep(x, ks, settings, subsample)
    times["sweep"] = time.perf_counter() - start - times["subsample_matrix"]
    times["sweep_clara"] = float(sweep["clara_seconds"].sum())
    chosen = select_k(sweep, config.criterion, config.exclude_k2)
    mark = time.perf_counter()
    seeds = [config.seed, *[s for s in config.stability_seeds if s != config.seed]]
    choices, _ = k_stability(x, seeds, ks, settings, subsample, config.exclude_k2, {config.seed: sweep})
    times["stability"] = time.perf_counter() - mark
    final_settings = final.clara_settings()
    typology = fit_typology(x, np.arange(len(x)), chosen, final_settings)
    times["final_fit"] = typology.seconds
    times["total"] = time.perf_counter() - start
    main = choices[choices["criterion"] == config.criterion]["chosen_k"].tolist()
    print(
        "TYPOLOGY "
        + json.dumps(
            {
                **times,
                "chosen_k": chosen,
                "chosen_by_seed": main,
                "final_objective": typology.objective,
                "seeds": len(seeds),
            }
        )
    )
    print_peak()


# --- measuring ---------------------------------------------------------------------------------------------


def r_available() -> bool:
    if not shutil.which("Rscript"):
        return False
    return subprocess.run(["Rscript", "-e", "library(cluster)"], capture_output=True).returncode == 0


def _parse(stdout: str) -> pd.DataFrame:
    rows = []
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            _, k, objective, wall, cpu, medoids = line.split(" ")
            rows.append(
                {
                    "k": int(k),
                    "objective": float(objective),
                    "seconds": float(wall),
                    "cpu": float(cpu),
                    "medoids": tuple(sorted(int(m) for m in medoids.split(","))),
                }
            )
    return pd.DataFrame(rows)


def measure(column: str, matrix: Path, shape: tuple[int, int], ks: list[int], folder: Path):
    """One measured run of one column: (per-K frame, peak GiB, warm-up seconds or None)."""
    if column == "r":
        script = folder / "clara_peer.R"
        script.write_text(R_SCRIPT)
        raw = folder / "x.bin"
        if not raw.exists():
            np.load(matrix).astype("<f8").tofile(raw)
        cmd = ["Rscript", str(script), str(raw), str(shape[0]), str(shape[1]), ",".join(map(str, ks))]
    else:
        cmd = [sys.executable, "-m", "bench.typology", "clara", column, str(matrix), ",".join(map(str, ks))]
    run = run_measured(cmd, env=ONE_THREAD, cwd=ROOT)
    frame = _parse(run.stdout)
    if sorted(frame["k"]) != sorted(ks):
        raise RuntimeError(f"{TITLES[column]}: results for K {sorted(frame['k'])}, expected {ks}")
    warm = [float(line.split()[1]) for line in run.stdout.splitlines() if line.startswith("WARMUP ")]
    return frame, run.peak_gib, (warm[0] if warm else None)


def _median_frame(frames: list[pd.DataFrame], column: str) -> pd.DataFrame:
    stacked = pd.concat(frames)
    objectives = stacked.groupby("k")["objective"].nunique()
    if (objectives > 1).any():
        raise RuntimeError(
            f"{TITLES[column]}: objectives differ between repeats at K {list(objectives[objectives > 1].index)}"
        )
    out = stacked.groupby("k").agg(
        objective=("objective", "first"),
        seconds=("seconds", "median"),
        cpu=("cpu", "median"),
        medoids=("medoids", "first"),
    )
    return out.add_prefix(f"{column}_")


def peer_comparison(matrix: Path, ks: list[int], n_repeats: int) -> None:
    x = np.load(matrix, mmap_mode="r")
    columns = list(COLUMNS) if r_available() else ["exact", "pipeline"]
    if "r" not in columns:
        print("R not installed: the R column is skipped (apt-get install r-base-core r-cran-cluster)")
    settings, _ = _sweep_settings()
    print(f"pipeline mode: {asdict(settings)}")
    print(
        f"one thread each (BLAS, OpenMP, numba); {n_repeats} repeat(s); K = {ks[0]}..{ks[-1]}; {machine_load()}"
    )
    runs: dict[str, list[pd.DataFrame]] = {c: [] for c in columns}
    peaks: dict[str, list[float]] = {c: [] for c in columns}
    warmups: dict[str, list[float]] = {c: [] for c in columns}
    with tempfile.TemporaryDirectory(prefix="clara-peer-") as tmp:
        for repeat in range(n_repeats):
            for column in columns:
                frame, peak, warm = measure(column, matrix, x.shape, ks, Path(tmp))
                runs[column].append(frame)
                peaks[column].append(peak)
                if warm is not None:
                    warmups[column].append(warm)
                print(
                    f"  repeat {repeat + 1}, {TITLES[column]}: sweep {frame['seconds'].sum():.2f} s wall, "
                    f"{frame['cpu'].sum():.2f} s CPU, peak {peak:.2f} GiB; {machine_load()}",
                    flush=True,
                )
    table = pd.concat([_median_frame(runs[c], c) for c in columns], axis=1).reset_index()
    totals = {c: [f["seconds"].sum() for f in runs[c]] for c in columns}
    cpu_totals = {c: [f["cpu"].sum() for f in runs[c]] for c in columns}

    header("CLARA per K: objective (mean distance to the medoid over all rows) and seconds (median wall)")
    view = pd.DataFrame({"K": table["k"]})
    for c in columns:
        view[f"{c} objective"] = table[f"{c}_objective"]
    for c in columns:
        view[f"{c} s"] = table[f"{c}_seconds"]
    if "r" in columns:
        view["pipeline/R objective"] = table["pipeline_objective"] / table["r_objective"]
        view["exact/R objective"] = table["exact_objective"] / table["r_objective"]
        view["R/pipeline time"] = table["r_seconds"] / table["pipeline_seconds"]
        view["R/exact time"] = table["r_seconds"] / table["exact_seconds"]
    else:
        view["pipeline/exact objective"] = table["pipeline_objective"] / table["exact_objective"]
    print(view.to_string(index=False, float_format=lambda v: f"{v:.4f}"))

    header("CLARA sweep totals (median over repeats; ratios are per repeat, then the median)")
    for c in columns:
        print(
            f"{TITLES[c]:>24}: {statistics.median(totals[c]):7.2f} s wall, {statistics.median(cpu_totals[c]):7.2f} s CPU, "
            f"peak memory {statistics.median(peaks[c]):.2f} GiB (max {max(peaks[c]):.2f})"
            + (
                f", warm-up (numba compile or cache load) {statistics.median(warmups[c]):.2f} s, not timed"
                if warmups[c]
                else ""
            )
        )
    if "r" not in columns:
        return
    wall_ratio = statistics.median(r / p for r, p in zip(totals["r"], totals["pipeline"], strict=True))
    cpu_ratio = statistics.median(r / p for r, p in zip(cpu_totals["r"], cpu_totals["pipeline"], strict=True))
    exact_ratio = statistics.median(r / p for r, p in zip(totals["r"], totals["exact"], strict=True))
    objective_ratio = view["pipeline/R objective"]
    below = int((objective_ratio <= 0.93).sum())
    exact_gap = float(np.max(np.abs(view["exact/R objective"] - 1)))
    same_medoids = sum(a == b for a, b in zip(table["exact_medoids"], table["r_medoids"], strict=True))
    print(
        f"pipeline vs R: objective {1 - objective_ratio.max():.1%} to {1 - objective_ratio.min():.1%} lower "
        f"(worst K = {int(view.loc[objective_ratio.idxmax(), 'K'])}); ≥ 7% lower at {below} of {len(view)} K "
        f"(target: all)"
    )
    print(
        f"pipeline vs R: sweep {wall_ratio:.2f}× faster in wall time, {cpu_ratio:.2f}× in CPU time (target ≥ 3×)"
    )
    print(
        f"R-exact vs R: objective equal to {exact_gap:.1e} (relative) at every K, the same medoids at "
        f"{same_medoids} of {len(view)} K; sweep {exact_ratio:.2f}× faster in wall time"
    )


def typology_step(matrix: Path, n_repeats: int) -> None:
    header("the typology step as the pipeline runs it: subsample matrix + K sweep + stability + final fit")
    results, peaks = [], []
    for repeat in range(n_repeats):
        run = run_measured([sys.executable, "-m", "bench.typology", "typology", str(matrix)], cwd=ROOT)
        line = next(line for line in run.stdout.splitlines() if line.startswith("TYPOLOGY "))
        results.append(json.loads(line[len("TYPOLOGY ") :]))
        peaks.append(run.peak_gib)
        print(
            f"  repeat {repeat + 1}: {results[-1]['total']:.1f} s, peak {run.peak_gib:.2f} GiB; {machine_load()}",
            flush=True,
        )
    med = {
        key: statistics.median(r[key] for r in results)
        for key in ("subsample_matrix", "sweep", "sweep_clara", "stability", "final_fit", "total")
    }
    last = results[-1]
    print(
        f"subsample-silhouette matrix {med['subsample_matrix']:.1f} s; K sweep {med['sweep']:.1f} s (CLARA "
        f"{med['sweep_clara']:.1f} s, the rest is the subsample silhouettes); stability sweeps ({last['seeds'] - 1} "
        f"more seeds) {med['stability']:.1f} s; final fit K = {last['chosen_k']} {med['final_fit']:.1f} s "
        f"(objective {last['final_objective']:.4f})"
    )
    print(f"K chosen by seed: {last['chosen_by_seed']}")
    print(
        f"typology step, all of it: median {med['total']:.1f} s (target ≤ 300 s), peak memory "
        f"{statistics.median(peaks):.2f} GiB (max {max(peaks):.2f})"
    )


def main() -> None:
    from orchestration.defs.typology import KSweepConfig

    scale = bench_scale()
    header(f"typology at {scale} scale")
    matrix, source = pca_matrix(scale)
    print(source)
    config = KSweepConfig()
    n = np.load(matrix, mmap_mode="r").shape[0]
    ks = list(range(config.k_min, min(config.k_max, n - 1) + 1))
    header("CLARA beside R cluster::clara (same matrix, one thread each)")
    peer_comparison(matrix, ks, repeats())
    typology_step(matrix, repeats())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "clara":
        _clara_child(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) > 1 and sys.argv[1] == "typology":
        _typology_child(sys.argv[2])
    else:
        main()
