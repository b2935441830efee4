"""``python -m validation.generator_null``: zero true effect on the platform's own synthetic extracts.

The simulation study (``python -m validation``) draws its worlds from ``validation/dgp.py``. This second
check uses the extract generator instead (``synth/``, whose DRIVE selection is its own code: recency,
frequency and gravity by report date, the top-scored people picked with weights score**8), with the true
DRIVE effect set to 0, and runs the whole path a user runs: generate, build the marts with dbt, evaluate.
Over many generator seeds it counts how often each adjusted estimate of each outcome excludes "no effect".
With a 95% interval that should be about 5%.

It is slow (a dbt build per seed, about 15 s at demo scale), so it is not part of ``make test``; the result
of the last run is in docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

# Estimates that claim to adjust for selection. The naive before/after and the comparison group's own
# fall are descriptive (they are expected to exclude 1), and the placebo designs test the design itself.
ADJUSTED = ("matched_did", "matched_post", "library_did")
# The focused-deterrence trial of the same extracts (its true effect is the generator's default, not 0):
# the coverage of its intention-to-treat intervals is measured on the side.
TRIAL = ("rct_itt", "rct_itt_negbin")
# Each seed's rows, written as the run goes (``--pool`` summarises whatever is there).
SEEDS_DIR = "generator_null_seeds"


def one_seed(
    seed: int, scale: str, work: Path, keep: bool = False, matched_interval: str = "half_sample"
) -> pd.DataFrame:
    import duckdb

    from ml.evaluation.pipeline import EvaluationConfig, run_evaluation
    from orchestration.defs.evaluation import _read_inputs
    from synth.generate import generate
    from tests.helpers import build_marts

    root = work / f"seed{seed}"
    built = (root / "warehouse.duckdb").exists() and (root / "extract" / "_truth").exists()
    if not (keep and built):
        shutil.rmtree(root, ignore_errors=True)
        generate(scale, seed, root / "extract", drive_effect=0.0)
        build_marts(root / "extract", root / "warehouse.duckdb")
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        incidents, offenders, participants = _read_inputs(con)
    finally:
        con.close()
    truth = json.loads((root / "extract" / "_truth" / "programme_effects.json").read_text())
    result = run_evaluation(
        incidents, offenders, participants, EvaluationConfig(matched_interval=matched_interval)
    )
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    e = result.effect_estimates
    drive = (e["programme"] == "DRIVE") & e["design"].isin(ADJUSTED)
    trial = (e["programme"] == "focused deterrence") & e["design"].isin(TRIAL)
    e = e[drive | trial].copy()
    e["true_effect"] = np.where(
        e["programme"] == "DRIVE", truth["DRIVE"]["true_effect"], truth["focused deterrence"]["true_effect"]
    )
    e["seed"] = seed
    cols = ["seed", "programme", "design", "outcome", "estimand", "estimate", "ci_low", "ci_high", "status"]
    return e[[*cols, "true_effect"]]


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    est = raw[(raw["status"] == "estimated") & raw["estimand"].str.contains("ratio")].copy()
    null = pd.Series(1.0, index=est.index)
    truth = 1.0 + est["true_effect"]
    est["excludes_no_effect"] = (est["ci_low"] > null) | (est["ci_high"] < null)
    # By side: a size failure on one side only (e.g. a skewed t-statistic) shows here.
    est["excludes_above"] = est["ci_low"] > null
    est["covers_truth"] = (est["ci_low"] <= truth) & (truth <= est["ci_high"])
    # Rate ratios, averaged on the log scale, less the log of the true ratio: the bias.
    est["log_bias"] = np.log(est["estimate"].clip(lower=1e-9)) - np.log(truth)
    # The interval's own standard error on the log scale (exact for a Wald interval, the percentile
    # interval's equivalent otherwise), to set beside the spread of the estimates across seeds.
    est["interval_se"] = (np.log(est["ci_high"]) - np.log(est["ci_low"])) / (2 * 1.959963984540054)
    g = est.groupby(["programme", "design", "outcome"])
    out = pd.DataFrame(
        {
            "seeds": g["seed"].nunique(),
            "true_ratio": g["true_effect"].first() + 1.0,
            "mean_estimate": g["estimate"].mean(),
            "bias_log": g["log_bias"].mean(),
            "bias_log_se": g["log_bias"].std() / np.sqrt(g["log_bias"].count()),
            "spread_log": g["log_bias"].std(),
            "mean_interval_se": g["interval_se"].mean(),
            "coverage": g["covers_truth"].mean(),
            "excludes_no_effect": g["excludes_no_effect"].mean(),
            "n_excluding": g["excludes_no_effect"].sum().astype(int),
            "n_excluding_above": g["excludes_above"].sum().astype(int),
        }
    ).reset_index()
    # Monte-Carlo uncertainty of the exclusion share: exact (Clopper–Pearson) 95% binomial interval.
    bounds = [_clopper_pearson(k, n) for k, n in zip(out["n_excluding"], out["seeds"], strict=True)]
    out["excludes_ci_low"] = [b[0] for b in bounds]
    out["excludes_ci_high"] = [b[1] for b in bounds]
    return out


def _clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    from scipy import stats

    a = (1 - level) / 2
    low = float(stats.beta.ppf(a, k, n - k + 1)) if k > 0 else 0.0
    high = float(stats.beta.ppf(1 - a, k + 1, n - k)) if k < n else 1.0
    return low, high


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m validation.generator_null", description=__doc__)
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--scale", default="demo")
    parser.add_argument("--out", default="reports/validation")
    parser.add_argument(
        "--work",
        default=None,
        help="keep each seed's extract and warehouse in this folder and reuse them when they are there "
        "(re-evaluating after an estimator change then costs seconds a seed); default: a temporary folder",
    )
    parser.add_argument(
        "--matched-interval",
        default="half_sample",
        choices=("half_sample", "bootstrap"),
        help="the matched estimates' interval (the evaluation's matched_interval); 'bootstrap' gives the "
        "earlier, too narrow one for comparison",
    )
    parser.add_argument(
        "--pool",
        action="store_true",
        help="run no seed: summarise every per-seed file already in OUT/generator_null_seeds (runs in "
        "chunks, e.g. --first-seed 143 --seeds 10 at a time, pooled afterwards)",
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    seeds_dir = out / SEEDS_DIR
    seeds_dir.mkdir(parents=True, exist_ok=True)
    frames = []
    start = time.perf_counter()
    if args.pool:
        frames = [pd.read_csv(f) for f in sorted(seeds_dir.glob("seed*.csv"))]
        if not frames:
            parser.error(f"no per-seed files in {seeds_dir}")
        args.seeds = sum(f["seed"].nunique() for f in frames)
    else:
        with tempfile.TemporaryDirectory(prefix="generator-null-") as tmp:
            work = Path(args.work) if args.work else Path(tmp)
            for i, seed in enumerate(range(args.first_seed, args.first_seed + args.seeds), 1):
                rows = one_seed(
                    seed, args.scale, work, keep=args.work is not None, matched_interval=args.matched_interval
                )
                # Each seed's rows are written as soon as they exist, so a stopped run keeps its seeds.
                rows.to_csv(seeds_dir / f"seed{seed}.csv", index=False)
                frames.append(rows)
                print(f"{i}/{args.seeds} seeds ({time.perf_counter() - start:.0f} s)", flush=True)
    raw = pd.concat(frames, ignore_index=True)
    raw.to_csv(out / "generator_null_replicates.csv", index=False)
    table = summarise(raw)
    table.to_csv(out / "generator_null_summary.csv", index=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(
        f"\n{args.seeds} seeds at {args.scale} in {time.perf_counter() - start:.0f} s; {out}/generator_null_summary.csv"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
