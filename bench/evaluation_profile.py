"""Where the programme evaluation's memory goes: the `programme_evaluation` asset's work (read the marts,
build the indexes, every programme's matched design, replicates, library panel and Cox model) re-run alone on
a kept warehouse, with the resident memory of this process sampled every 10 ms and the peak of each named
step printed, beside the sizes of the matched design's structures (rows, bytes) per programme.

    DA_BENCH_PIPELINE=1 DA_BENCH_SCALE=300000 DA_BENCH_KEEP=1 python -m bench.pipeline   # once: the warehouse
    python -m bench.evaluation_profile data/bench/pipeline_300000/warehouse.duckdb

Nothing is written to the warehouse (it is opened read-only). Steps nest: a step's peak includes what its
callers hold. ``DA_PROFILE_REPS`` overrides the number of matched replicates (default: the asset's 199) for
a quicker look; the per-replicate working set does not depend on it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

GIB = 1024**3


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Sampler:
    """Resident memory every 10 ms; ``peak`` since the last ``reset``."""

    def __init__(self):
        self.peak = _rss()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            self.peak = max(self.peak, _rss())
            time.sleep(0.01)

    def stop(self):
        self._stop = True


SAMPLER: Sampler | None = None
ROWS: list[tuple[str, float, float, float, float]] = []  # step, seconds, rss before, peak, rss after
_DEPTH = [0]


@contextmanager
def step(name: str):
    before = _rss()
    outer = SAMPLER.peak
    SAMPLER.peak = before
    start = time.perf_counter()
    _DEPTH[0] += 1
    try:
        yield
    finally:
        _DEPTH[0] -= 1
        peak = max(SAMPLER.peak, _rss())
        ROWS.append(
            ("  " * _DEPTH[0] + name, time.perf_counter() - start, before / GIB, peak / GIB, _rss() / GIB)
        )
        print(
            f"{ROWS[-1][0]:40s} {ROWS[-1][1]:8.1f} s  rss {before / GIB:6.2f} → peak {peak / GIB:6.2f} GiB",
            flush=True,
        )
        SAMPLER.peak = max(outer, peak)


def _wrap(module, name: str, label: str | None = None):
    original = getattr(module, name)

    def wrapped(*args, **kwargs):
        with step(label or name):
            return original(*args, **kwargs)

    setattr(module, name, wrapped)
    return original


def _design_sizes(design) -> None:
    o = design.outcomes

    def mib(*arrays):
        return sum(getattr(a, "nbytes", 0) for a in arrays) / 2**20

    n_t = int(design.is_treated.sum())
    print(
        f"    design: {len(design.codes):,} stacked rows ({n_t:,} treated, {len(design.codes) - n_t:,} candidates, "
        f"{len(np.unique(design.anchors)):,} dates), {len(o.cut_row):,} cuts, {len(o.seg_row):,} segments",
        flush=True,
    )
    cov = design.covariates.memory_usage(deep=True).sum() / 2**20
    print(
        f"    MiB: covariates {cov:.0f}, x {mib(design.x):.0f} ({design.x.dtype}, {design.x.shape[1]} cols), "
        f"x_outcome {mib(design.x_outcome):.0f}"
        f"{'' if design.x_outcome is None else f' ({design.x_outcome.shape[1]} cols)'}, cut_x {mib(o.cut_x):.0f}, "
        f"pre/placebo {mib(*o.pre.values(), *o.placebo_pre.values()):.0f}, "
        f"segments {mib(o.seg_row, o.seg_cut, o.seg_days, *o.seg_sum.values()):.0f}, "
        f"row vectors {mib(design.codes, design.anchors, design.is_treated, design.cluster, design.stratum_treated):.0f}",
        flush=True,
    )


def main() -> None:
    global SAMPLER
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    warehouse = Path(sys.argv[1])
    import duckdb

    from ml.evaluation import effects, matching, pipeline, staggered
    from ml.evaluation import estimators as est
    from orchestration.defs import evaluation as asset

    SAMPLER = Sampler()
    original_build = matching.build_design

    def build_and_report(*args, **kwargs):
        with step("build_design"):
            design = original_build(*args, **kwargs)
        _design_sizes(design)
        return design

    effects.build_design = build_and_report
    _wrap(matching, "matching_covariates")
    _wrap(matching, "_precompute_outcomes", "precompute_outcomes (windows, cuts)")
    _wrap(effects, "run_replicate", "point replicate")
    _wrap(effects, "half_samples", "half-sample replicates")
    _wrap(effects, "bootstrap", "bootstrap replicates")
    _wrap(effects, "balance_table")
    _wrap(effects, "_matches_frame", "matches frame")
    _wrap(staggered, "build_panel", "library panel")
    _wrap(staggered, "callaway_santanna", "library fit (one measure)")
    _wrap(est, "cox_hazard_ratio", "Cox model")
    _wrap(pipeline, "_descriptive", "descriptive (rates, blocks)")
    _wrap(pipeline, "_equality", "equality")
    original_programme = pipeline._evaluate_programme

    def programme(name, *args, **kwargs):
        with step(f"programme {name}"):
            return original_programme(name, *args, **kwargs)

    pipeline._evaluate_programme = programme

    config = asset.EvaluationAssetConfig()
    reps = os.environ.get("DA_PROFILE_REPS")
    if reps:
        config = asset.EvaluationAssetConfig(matched_bootstrap_reps=int(reps))
    eval_config = config.to_evaluation_config()
    con = duckdb.connect(str(warehouse), read_only=True)
    start = time.perf_counter()
    try:
        with step("programme_evaluation (all)"):
            with step("read marts"):
                incidents, offenders, participants = asset._read_inputs(con)
            with step("indexes (build_sources)"):
                sources = asset._sources(con, incidents, offenders)
                del incidents
            with step("rfg summaries"):
                summaries = (
                    asset._power_few_from_warehouse(con, eval_config.power_few_top_n),
                    asset._concentration_from_warehouse(con, eval_config.concentration_top_ns),
                )
            with step("run_evaluation"):
                result = pipeline.run_evaluation(
                    None, offenders, participants, eval_config, rfg_summaries=summaries, sources=sources
                )
            with step("tables"):
                tables = result.tables()
                tables["evaluation_summary"] = pipeline.summary_table(result)
    finally:
        con.close()
        SAMPLER.stop()
    print(
        f"total {time.perf_counter() - start:.1f} s; peak resident {max(r[3] for r in ROWS):.2f} GiB; "
        f"{sum(len(t) for t in tables.values()):,} table rows"
    )


if __name__ == "__main__":
    main()
