"""Section C benchmark: every regression model (offence types, ~600 specific offences: the headline fits,
the adjusted, log1p, Tweedie and time-ordered fits; the three risk models; HC3 and classical SEs) plus the
risk-grade descriptives, at `wmp` scale. Target: about 10 s.

Data: the marts of the benchmark extract when they can be had (a shared benchmark warehouse another
benchmark built, or this benchmark's own, cached); otherwise a simulated design of the same size
(``ml.regression.simulate_section_c_inputs``). The output says which.
"""

from __future__ import annotations

import time

import duckdb

from bench.common import (
    bench_scale,
    header,
    median_seconds,
    repeats,
    warehouse_with_marts,
)
from ml import regression as reg

_SCALE_OFFENDERS = {"tiny": 500, "demo": 10_000, "wmp": reg.REPORT_N_OFFENDERS, "national": 2_907_840}


def _inputs(scale: str):
    warehouse = warehouse_with_marts(scale)
    if warehouse is not None:
        from orchestration.defs.regression import _read_non_da_offences, _read_offenders, _read_time_ordered

        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            start = time.perf_counter()
            offenders, offences = _read_offenders(con), _read_non_da_offences(con)
            onset, pre_da = _read_time_ordered(con)
            read = time.perf_counter() - start
        finally:
            con.close()
        return (
            dict(offenders=offenders, offences=offences, onset=onset, pre_da_offences=pre_da),
            f"marts of the generated {scale} extract ({warehouse.name}), read in {read:.1f} s",
        )
    n = _SCALE_OFFENDERS.get(scale, reg.REPORT_N_OFFENDERS)
    return _simulated(n), f"a SIMULATED design of the same size ({n:,} offenders, 656 offence codes)"


def _simulated(n: int, seed: int = 1) -> dict:
    offenders, offences, _ = reg.simulate_section_c_inputs(n, n_codes=656, n_types=16, seed=seed)
    onset, pre_da = reg.simulate_time_order(offenders, offences, seed=seed)
    return dict(offenders=offenders, offences=offences, onset=onset, pre_da_offences=pre_da)


def main() -> None:
    scale = bench_scale()
    header(f"regression (Section C) at scale {scale!r}")
    inputs, source = _inputs(scale)
    offenders, offences = inputs["offenders"], inputs["offences"]
    print(f"data: {source}")
    if inputs.get("onset") is None:
        print(
            "the time-ordered marts (marts.dim_da_onset, marts.fct_pre_da_offences) are not in this warehouse: "
            "the time-ordered models are recorded as not estimable and not timed (rebuild it with bench.dbt_build)"
        )
    result = {}

    def fit_all():
        result["section"] = reg.fit_section_c(**inputs)

    median, times = median_seconds(fit_all, repeats())
    section = result["section"]
    fit = section.model_fit.set_index("model")
    n_codes = int(fit.loc["offence_code", "n_indicators"]) if "offence_code" in fit.index else 0
    print(
        f"offenders: {len(offenders):,}; non-DA offence rows: {len(offences):,}; specific offences fitted: "
        f"{n_codes:,}; models: {len(section.fits)}"
    )
    print(
        f"all Section C models: median {median:.1f} s over {len(times)} run(s) "
        f"({', '.join(f'{t:.1f}' for t in times)}); target about 10 s"
    )
    timings = {}
    for label, kwargs in (
        (
            "headline OLS fits and risk models only (HC3 + classical)",
            dict(sensitivity="none", fit_adjusted=False, fit_time_ordered=False),
        ),
    ):
        start = time.perf_counter()
        reg.fit_section_c(**inputs, **kwargs)
        timings[label] = time.perf_counter() - start
    for label, seconds in timings.items():
        print(f"{label}: {seconds:.1f} s")
    if n_codes < 500:
        # The report fitted 656 specific offences; time that width too on a simulated design of this size.
        simulated = _simulated(len(offenders))
        wide, wide_times = median_seconds(lambda: reg.fit_section_c(**simulated), repeats())
        width = int(
            reg.fit_section_c(**simulated, sensitivity="none", fit_adjusted=False, fit_time_ordered=False)
            .model_fit.set_index("model")
            .loc["offence_code", "n_indicators"]
        )
        print(
            f"all Section C models on a SIMULATED design of {len(offenders):,} offenders x {width} offence "
            f"codes (the report's width): median {wide:.1f} s ({', '.join(f'{t:.1f}' for t in wide_times)})"
        )


if __name__ == "__main__":
    main()
