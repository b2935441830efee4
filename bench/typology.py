"""Typology benchmark: the K sweep (2..40) and the final CLARA fit at `wmp` scale with the default run
config of ``orchestration/defs/typology.py``, per-K timings, and R's ``cluster::clara`` as the peer on the
same PCA matrix with the same sample settings (objective ratio ours / R's, target ≤ 1.0 at every K; time
ratio). Without ``Rscript`` and the ``cluster`` package the peer is skipped and the output says so.

Environment: DA_BENCH_SCALE (default wmp), DA_BENCH_R_FINAL=1 also runs R's clara for the final fit
(50 samples of 2,000 rows: several minutes in R), DA_BENCH_STABILITY=1 also times the stability seeds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from bench.common import bench_scale, header, warehouse_with_marts
from ml.clara import SubsampleSilhouette, assign_to_medoids
from ml.features import PCA_FEATURES, build_feature_matrix, fit_pca, standardise
from ml.typology import ClaraSettings, fit_typology, k_stability, run_k_sweep, select_k

R_SCRIPT = r"""
suppressMessages(library(cluster))
args <- commandArgs(trailingOnly = TRUE)
n <- as.integer(args[2]); d <- as.integer(args[3])
x <- matrix(readBin(args[1], "double", n = n * d), nrow = n, ncol = d, byrow = TRUE)
ks <- as.integer(strsplit(args[4], ",")[[1]])
samples <- as.integer(args[5]); base <- as.integer(args[6]); per_k <- as.integer(args[7])
for (k in ks) {
  ss <- min(n, base + per_k * k)
  t <- system.time(cl <- clara(x, k, samples = samples, sampsize = ss, medoids.x = FALSE, keep.data = FALSE,
                               rngR = FALSE, pamLike = FALSE))[["elapsed"]]
  cat(sprintf("RESULT %d %.10f %.6f %.6f %s\n", k, cl$objective, t, cl$silinfo$avg.width,
              paste(cl$i.med, collapse = ",")))
}
"""


def _r_available() -> bool:
    if not shutil.which("Rscript"):
        return False
    probe = subprocess.run(["Rscript", "-e", "library(cluster)"], capture_output=True)
    return probe.returncode == 0


def run_r_clara(x: np.ndarray, ks: list[int], samples: int, base: int, per_k: int) -> pd.DataFrame:
    with tempfile.TemporaryDirectory(prefix="clara-peer-") as folder:
        matrix = Path(folder) / "x.bin"
        np.ascontiguousarray(x, dtype="<f8").tofile(matrix)
        script = Path(folder) / "peer.R"
        script.write_text(R_SCRIPT)
        out = subprocess.run(
            ["Rscript", str(script), str(matrix), str(len(x)), str(x.shape[1]), ",".join(map(str, ks)),
             str(samples), str(base), str(per_k)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    rows = []
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            _, k, objective, seconds, silhouette, medoids = line.split(" ")
            rows.append({"k": int(k), "r_objective": float(objective), "r_seconds": float(seconds),
                         "r_sample_silhouette": float(silhouette),
                         "r_medoids": np.array([int(m) - 1 for m in medoids.split(",")])})  # fmt: skip
    return pd.DataFrame(rows)


def feature_matrix(scale: str) -> tuple[np.ndarray, np.ndarray, str]:
    warehouse = warehouse_with_marts(scale)
    if warehouse is None:
        print(
            "marts not available: using a synthetic 140,000 × 38 matrix of 30 uneven Gaussian blobs instead"
        )
        rng = np.random.default_rng(0)
        labels = rng.choice(30, size=140_000, p=rng.dirichlet(np.full(30, 0.7)))
        x = rng.normal(0, 3, size=(30, 38))[labels] + rng.normal(size=(140_000, 38))
        z, _ = standardise(pd.DataFrame(x))
        pca = fit_pca(z)
        return (
            pca.scores,
            np.arange(len(x)),
            f"synthetic blobs, {pca.n_components} PCs ({pca.kept_ratio:.1%})",
        )
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
    print(f"features + z-scores + PCA: {time.perf_counter() - start:.2f} s; {dropped.as_dict()}")
    return (
        pca.scores,
        matrix.index.to_numpy(),
        (
            f"marts.dim_offenders ({scale}): {len(matrix):,} offenders, {pca.n_components} of {len(PCA_FEATURES)} "
            f"PCs ({pca.kept_ratio:.2%} of variance)"
        ),
    )


def main() -> None:
    from orchestration.defs.typology import FinalFitConfig, KSweepConfig

    scale = bench_scale()
    header(f"typology at {scale} scale")
    sweep_config, final_config = KSweepConfig(), FinalFitConfig()
    x, ids, source = feature_matrix(scale)
    print(source)
    settings = ClaraSettings(
        samples=sweep_config.samples, sampsize_base=sweep_config.sampsize_base,
        sampsize_per_k=sweep_config.sampsize_per_k, sampler=sweep_config.sampler, method=sweep_config.method,
        init=sweep_config.init, restart_from_best=sweep_config.restart_from_best,
        polish_iterations=sweep_config.polish_iterations, polish_candidates=sweep_config.polish_candidates,
        seed=sweep_config.seed,
    )  # fmt: skip
    ks = list(range(sweep_config.k_min, sweep_config.k_max + 1))
    start = time.perf_counter()
    subsample = SubsampleSilhouette(
        x, sweep_config.subsample_size, None, sweep_config.subsample_seed, sweep_config.threads
    )
    build = time.perf_counter() - start
    print(f"subsample silhouette matrix ({subsample.size:,} rows): {build:.1f} s")
    sweep = run_k_sweep(x, ks, settings, subsample)
    sweep_seconds = time.perf_counter() - start
    chosen = select_k(sweep, sweep_config.criterion, sweep_config.exclude_k2)
    final_settings = ClaraSettings(
        samples=final_config.samples, sampsize_base=final_config.sampsize, sampsize_per_k=0,
        sampler=final_config.sampler, method=final_config.method, init=final_config.init,
        restart_from_best=final_config.restart_from_best, polish_iterations=final_config.polish_iterations,
        polish_candidates=final_config.polish_candidates, seed=final_config.seed,
    )  # fmt: skip
    typology = fit_typology(x, ids, chosen, final_settings)
    total = sweep_seconds + typology.seconds
    print(
        f"sweep K={ks[0]}..{ks[-1]} ({settings.samples} samples of {settings.sampsize_base}+{settings.sampsize_per_k}K): "
        f"{sweep_seconds:.1f} s (CLARA {sweep['clara_seconds'].sum():.1f} s, subsample silhouettes "
        f"{(sweep['seconds'] - sweep['clara_seconds']).sum():.1f} s)"
    )
    print(f"chosen K = {chosen} by {sweep_config.criterion} (exclude K=2: {sweep_config.exclude_k2}); "
          f"by sample silhouette {select_k(sweep, 'sample_silhouette')}, by medoid silhouette {select_k(sweep, 'medoid_silhouette')}")  # fmt: skip
    print(f"final fit K={chosen} ({final_config.samples} × {final_config.sampsize}): {typology.seconds:.1f} s, "
          f"objective {typology.objective:.4f}")  # fmt: skip
    print(f"sweep + final fit: {total:.1f} s (target ≤ 300 s)")

    if os.environ.get("DA_BENCH_STABILITY") == "1":
        start = time.perf_counter()
        seeds = [sweep_config.seed, *sweep_config.stability_seeds]
        choices, _ = k_stability(x, seeds, ks, settings, subsample, sweep_config.exclude_k2,
                                 known_sweeps={sweep_config.seed: sweep})  # fmt: skip
        main_choices = choices[choices["criterion"] == sweep_config.criterion]["chosen_k"].tolist()
        print(
            f"stability ({len(seeds)} seeds): K chosen {main_choices} in {time.perf_counter() - start:.1f} s"
        )

    header("per K")
    table = sweep[
        [
            "k",
            "objective",
            "sample_silhouette",
            "medoid_silhouette",
            "subsample_silhouette",
            "clara_seconds",
            "seconds",
        ]
    ]
    if not _r_available():
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        print("R not installed: skipped the peer (apt-get install r-base-core r-cran-cluster)")
        return
    header("R cluster::clara peer (same matrix, same samples and sampsize; rngR = FALSE, pamLike = FALSE)")
    start = time.perf_counter()
    peer = run_r_clara(x, ks, settings.samples, settings.sampsize_base, settings.sampsize_per_k)
    print(f"R sweep: {time.perf_counter() - start:.1f} s wall (incl. start-up and reading the matrix); "
          f"clara itself {peer['r_seconds'].sum():.1f} s")  # fmt: skip
    merged = table.merge(peer, on="k")
    merged["r_objective_check"] = [assign_to_medoids(x, m).objective for m in merged["r_medoids"]]
    merged["objective_ratio"] = merged["objective"] / merged["r_objective"]
    merged["time_ratio"] = merged["clara_seconds"] / merged["r_seconds"]
    view = merged[["k", "objective", "r_objective", "objective_ratio", "clara_seconds", "r_seconds", "time_ratio",
                   "sample_silhouette", "r_sample_silhouette", "subsample_silhouette"]]  # fmt: skip
    print(view.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    worst = merged["objective_ratio"].max()
    print(
        f"objective ratio ours/R: max {worst:.4f}, median {merged['objective_ratio'].median():.4f}; "
        f"{int((merged['objective_ratio'] <= 1.0).sum())} of {len(merged)} K at ≤ 1.0. "
        f"Time ratio (CLARA only) median {merged['time_ratio'].median():.2f}. "
        f"R objective recomputed in Python agrees to {np.max(np.abs(merged['r_objective_check'] / merged['r_objective'] - 1)):.1e}"
    )
    if os.environ.get("DA_BENCH_R_FINAL") == "1":
        start = time.perf_counter()
        final_peer = run_r_clara(x, [chosen], final_config.samples, final_config.sampsize, 0)
        row = final_peer.iloc[0]
        print(f"final fit peer: R objective {row['r_objective']:.4f} in {row['r_seconds']:.1f} s; ours "
              f"{typology.objective:.4f} in {typology.seconds:.1f} s; ratio {typology.objective / row['r_objective']:.4f} "
              f"({time.perf_counter() - start:.1f} s wall)")  # fmt: skip


if __name__ == "__main__":
    main()
