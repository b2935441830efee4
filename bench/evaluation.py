"""Evaluation benchmark: the whole outcome evaluation (RFG snapshots at every selection date, power few and
concentration, reoffending rates, six-month blocks, matching, every effect estimate with 999 bootstrap
replicates, survival, equality, funnel, and the HTML reports) at `wmp` scale. Target: under 3 minutes.

Inputs: the marts built from the benchmark extract (``bench.common.ensure_extract`` + dbt); when they cannot
be built, a simulated panel of the same size (``ml.evaluation.simulate``). The output says which.
Environment: DA_BENCH_SCALE (default wmp), DA_BENCH_REPEATS (default 3).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import duckdb

from bench.common import bench_scale, header, median_seconds, repeats, warehouse_with_marts
from ml.evaluation.pipeline import EvaluationConfig, run_evaluation
from ml.evaluation.report import evaluation_report

SCALE_OFFENDERS = {"tiny": 500, "demo": 10_000, "wmp": 145_392, "national": 2_907_840}
TARGET_SECONDS = 180


def _inputs(scale: str):
    try:
        warehouse = warehouse_with_marts(scale)
    except Exception as error:  # noqa: BLE001 - say what could not be done and fall back
        print(f"could not build the marts ({type(error).__name__}: {error})")
        warehouse = None
    if warehouse is not None:
        from orchestration.defs.evaluation import _read_inputs

        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            try:
                incidents, offenders, participants = _read_inputs(con)
                return incidents, offenders, participants, f"marts built from the generated `{scale}` extract"
            except duckdb.Error as error:
                print(f"marts incomplete ({error}); using a simulated panel")
        finally:
            con.close()
    from ml.evaluation.simulate import simulate_panel

    n = SCALE_OFFENDERS.get(scale, 145_392)
    sim = simulate_panel(
        n_offenders=n,
        years=10,
        seed=1,
        per_panel=max(5, n // 2000),
        rct_per_panel=max(5, n // 4000),
        n_panels=24,
    )
    return (
        sim.incidents,
        sim.offenders,
        sim.participants,
        f"a simulated panel of {n:,} offenders (marts unavailable)",
    )


def main() -> None:
    scale = bench_scale()
    header(f"evaluation ({scale})")
    start = time.perf_counter()
    incidents, offenders, participants, source = _inputs(scale)
    n_da = int(incidents["is_da"].fillna(False).astype(bool).sum())
    print(
        f"input: {source}: {n_da:,} DA incidents, {len(offenders):,} offenders, "
        f"{0 if participants is None else len(participants):,} participants "
        f"(prepared in {time.perf_counter() - start:.1f} s, not timed)"
    )
    config = EvaluationConfig()

    def whole_evaluation():
        result = run_evaluation(incidents, offenders, participants, config)
        with tempfile.TemporaryDirectory(prefix="evaluation-bench-") as folder:
            for programme in result.programmes:
                (Path(folder) / f"{programme}.html").write_text(evaluation_report(result, programme))
        return result

    median, times = median_seconds(whole_evaluation, repeats())
    result = whole_evaluation()
    print(
        f"whole evaluation: median {median:.1f} s over {len(times)} runs "
        f"({', '.join(f'{t:.1f}' for t in times)}); target < {TARGET_SECONDS} s: "
        f"{'met' if median < TARGET_SECONDS else 'NOT met'}"
    )
    print(
        f"RFG snapshots: {result.rfg_scores['as_of_date'].nunique()} as-of dates, {len(result.rfg_scores):,} rows"
    )
    e = result.effect_estimates
    headline = e.loc[
        (e["outcome"] == "da_incidents")
        & e["design"].isin(["naive_pre_post", "matched_did", "rct_itt"])
        & e["estimand"].str.startswith("rate ratio")
    ]
    for row in headline.itertuples(index=False):
        print(
            f"  {row.programme:20s} {row.design:16s} {row.estimate:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}] "
            f"n={row.n_treated}/{row.n_comparison}"
        )


if __name__ == "__main__":
    main()
