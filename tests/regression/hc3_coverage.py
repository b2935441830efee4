"""Coverage of HC3 intervals when some terms rest on leverage-one rows (simulation).

The data are generated here with numpy only, independently of the estimator: an intercept, a continuous
covariate, a common indicator (30% of offenders), a rare one (8 offenders) and, in every replicate, one or
two terms held so narrowly that their offenders have leverage 1. Errors are heteroskedastic. For each
replicate ``ml.regression.fit_ols`` (HC3) is fitted once; the terms on leverage-one rows must come back not
estimable and every other term's 95% interval is checked against the true coefficient.

Scenarios:
  normal        normal errors, sd rising with the common indicator and |x|
  skewed        centred log-normal errors (sigma 1.2): the t interval's normality assumption fails
  outlier       as normal, but the one-offender term's holder has an error 200 sd wide
  two_terms     two terms on two leverage-one rows (A held by offenders i and j, B by j alone)

``python -m tests.regression.hc3_coverage --replicates 10000`` prints the table in docs/regression.md.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

SCENARIOS = ("normal", "skewed", "outlier", "two_terms")
TRUTH = {
    "intercept": 50.0,
    "x": 4.0,
    "common": 30.0,
    "rare": 25.0,
    "single": 300.0,
    "pair_a": 80.0,
    "pair_b": 120.0,
}
ESTIMABLE = ("intercept", "x", "common", "rare")


@dataclass
class Replicate:
    X: np.ndarray
    y: np.ndarray
    names: list[str]
    leverage_one_terms: tuple[str, ...]
    leverage_one_rows: np.ndarray


def simulate(rng: np.random.Generator, scenario: str, n: int = 300) -> Replicate:
    """One data set: design columns, outcome, and which terms and rows have leverage one by construction."""
    x = rng.normal(size=n)
    common = (rng.random(n) < 0.3).astype(float)
    order = rng.permutation(n)
    rare = np.zeros(n)
    rare[order[:8]] = 1.0
    special = order[8:10]  # offenders holding the narrow terms, never the rare ones
    columns = {"intercept": np.ones(n), "x": x, "common": common, "rare": rare}
    if scenario == "two_terms":
        pair_a = np.zeros(n)
        pair_a[special] = 1.0
        pair_b = np.zeros(n)
        pair_b[special[1]] = 1.0
        columns |= {"pair_a": pair_a, "pair_b": pair_b}
        narrow, rows = ("pair_a", "pair_b"), special
    else:
        single = np.zeros(n)
        single[special[0]] = 1.0
        columns["single"] = single
        narrow, rows = ("single",), special[:1]
    names = list(columns)
    X = np.column_stack([columns[c] for c in names])
    sd = 10.0 + 15.0 * common + 5.0 * np.abs(x)
    if scenario == "skewed":
        s = 1.2
        raw = rng.lognormal(0.0, s, n)
        noise = (raw - np.exp(s**2 / 2)) / np.sqrt((np.exp(s**2) - 1) * np.exp(s**2))
    else:
        noise = rng.normal(size=n)
    error = sd * noise
    if scenario == "outlier":
        error[rows] *= 200.0
    beta = np.array([TRUTH[c] for c in names])
    return Replicate(X, X @ beta + error, names, narrow, np.sort(rows))


def run(scenario: str, replicates: int, seed: int = 0, n: int = 300) -> pd.DataFrame:
    """One row per replicate × term: estimate, interval, status."""
    from ml import regression as reg

    rng = np.random.default_rng([seed, SCENARIOS.index(scenario)])
    rows = []
    for r in range(replicates):
        data = simulate(rng, scenario, n)
        kinds = ["intercept"] + ["covariate"] * (len(data.names) - 1)
        fit = reg.fit_ols(data.X, data.y, data.names, kinds=kinds, se_type="HC3")
        # The published interval (ml.regression.coefficient_table): estimate ± t(0.975, df) × SE; a term
        # reported not estimable has none. Built here with numpy: the pandas table per replicate is slow.
        crit = stats.t.ppf(0.975, fit.df_resid)
        lost = np.array([term in fit.not_estimable for term in fit.terms])
        estimate = np.where(lost, np.nan, fit.estimate)
        rows.append(
            pd.DataFrame(
                {
                    "replicate": r,
                    "term": fit.terms,
                    "truth": [TRUTH[t] for t in fit.terms],
                    "estimate": estimate,
                    "std_error": fit.std_error,
                    "ci_low": estimate - crit * fit.std_error,
                    "ci_high": estimate + crit * fit.std_error,
                    "status": np.where(lost, "not estimable", "estimated"),
                }
            )
        )
    return pd.concat(rows, ignore_index=True).assign(scenario=scenario)


def summarise(draws: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and term: replicates, share not estimable, bias, SD of the estimate, mean SE, coverage."""
    out = []
    for (scenario, term), part in draws.groupby(["scenario", "term"], sort=False):
        ok = part.loc[part["status"] == "estimated"]
        covered = (ok["ci_low"] <= ok["truth"]) & (ok["truth"] <= ok["ci_high"])
        out.append(
            dict(
                scenario=scenario,
                term=term,
                replicates=len(part),
                share_not_estimable=float((part["status"] != "estimated").mean()),
                bias=float((ok["estimate"] - ok["truth"]).mean()) if len(ok) else np.nan,
                sd_estimate=float(ok["estimate"].std()) if len(ok) > 1 else np.nan,
                mean_se=float(ok["std_error"].mean()) if len(ok) else np.nan,
                coverage=float(covered.mean()) if len(ok) else np.nan,
            )
        )
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    draws = pd.concat([run(s, args.replicates, args.seed) for s in SCENARIOS], ignore_index=True)
    table = summarise(draws)
    with pd.option_context("display.width", 160, "display.float_format", "{:.4g}".format):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
