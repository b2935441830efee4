"""Small-sample behaviour of the randomised trial's intention-to-treat intervals: a fast simulation of
trials only, independent of the platform's data generators and of the estimators it checks.

Run it with ``python -m validation.rct_small_sample`` (``--replicates``, ``--sizes``, ``--seed``,
``--out``); it prints one table per outcome and writes them as CSV when ``--out`` is given. The trial
(everything below is drawn here, sharing nothing with ``ml.evaluation``):

* **People.** ``2 × n`` people randomised to equal arms. Each has a yearly rate of DA incidents
  ``1.5 · g_i`` with ``g_i ~ Gamma(0.7, 1/0.7)`` (mean 1, variance 1.4: counts are negative binomial
  over people). Prior-year count ``Poisson(1.5 · g_i)`` (the baseline the ITT model adjusts for).
* **Follow-up.** 75% are followed for 365 days; the rest for 30–364 days (moved away, died, end of
  data): exposure varies.
* **Outcomes.** Incidents in follow-up ``Poisson(1.5 · g_i · days/365)``; in the treated arm each is
  prevented with probability ``−effect`` (true rate ratio ``1 + effect``, for counts and harm alike).
  Each incident's harm is an offence weight: 1, 5, 20, 100, 1,000 or 3,000 with probabilities
  .40/.30/.18/.10/.018/.002, times a log-normal(0, 0.3) jitter; a person's harm is the sum over their
  incidents (zero-inflated, heavy-tailed).
* **Assumption failure** (scenario ``extreme``): 2% of people have a 25-fold rate (a handful of very
  prolific people) and weights are Pareto with tail index 1.3 (finite mean, infinite variance) scaled to
  the same mean weight.

Estimators (``ml.evaluation.estimators``): the Poisson ITT rate ratio adjusted for the prior-year count
with the earlier HC0 sandwich and normal quantiles and with the corrected sandwiches (HC1, HC3) and ``t``
quantiles; the harm ratio with the earlier within-arm percentile bootstrap and with the permutation-test
inversion. Per cell: the share of replicates with an estimate, the bias of the log ratio, 95% interval
coverage of the truth and the share of intervals excluding 1 (the false-positive rate at zero effect, the
power at −30%), each with its Monte Carlo standard error.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ml.estimability import NotEstimable
from ml.evaluation import estimators as est

WEIGHTS = np.array([1.0, 5.0, 20.0, 100.0, 1000.0, 3000.0])
WEIGHT_P = np.array([0.40, 0.30, 0.18, 0.10, 0.018, 0.002])
MEAN_WEIGHT = float(WEIGHTS @ WEIGHT_P) * float(np.exp(0.3**2 / 2))
PARETO_TAIL = 1.3
SCENARIOS = ("standard", "extreme")
EFFECTS = (0.0, -0.3)
SIZES = (10, 25, 100, 500)
ESTIMATORS = {
    "da_incidents": {
        "poisson HC0, normal (before)": ("poisson", "HC0"),
        "poisson HC1, t": ("poisson", "HC1"),
        "poisson HC3, t (after)": ("poisson", "HC3"),
    },
    "harm": {
        "bootstrap percentile (before)": ("harm", "bootstrap"),
        "permutation inversion (after)": ("harm", "inversion"),
    },
}


def simulate_trial(rng: np.random.Generator, n_per_arm: int, effect: float, scenario: str) -> dict:
    """One randomised trial of ``2 × n_per_arm`` people: arm, prior-year count, follow-up days, incidents
    and harm in follow-up."""
    n = 2 * n_per_arm
    treated = rng.permutation(n) < n_per_arm
    frailty = rng.gamma(0.7, 1 / 0.7, n)
    if scenario == "extreme":
        frailty = np.where(rng.random(n) < 0.02, 25.0 * frailty, frailty)
    rate = 1.5 * frailty
    prior = rng.poisson(rate)
    days = np.where(rng.random(n) < 0.75, 365, rng.integers(30, 365, n)).astype(float)
    incidents = rng.poisson(rate * days / 365.0)
    incidents = np.where(treated, rng.binomial(incidents, 1.0 + effect), incidents)
    owner = np.repeat(np.arange(n), incidents)
    if scenario == "extreme":
        # Pareto (Lomax + 1) with tail 1.3, scaled to the standard scenario's mean weight
        raw = rng.pareto(PARETO_TAIL, len(owner)) + 1.0
        weight = raw * MEAN_WEIGHT * (PARETO_TAIL - 1) / PARETO_TAIL
    else:
        weight = rng.choice(WEIGHTS, len(owner), p=WEIGHT_P) * rng.lognormal(0.0, 0.3, len(owner))
    harm = np.bincount(owner, weights=weight, minlength=n)
    return {"treated": treated, "prior": prior, "days": days, "incidents": incidents, "harm": harm}


def _estimate(kind: str, option: str, trial: dict, reps: int, seed: int) -> dict | None:
    try:
        if kind == "poisson":
            return est.rct_rate_ratio(
                trial["incidents"],
                trial["days"],
                trial["treated"],
                trial["prior"],
                "poisson",
                variance=option,
            )
        return est.harm_ratio_permutation(
            trial["harm"], trial["days"], trial["treated"], reps, seed, interval=option
        )
    except NotEstimable:
        return None


def run_cell(
    n_per_arm: int, effect: float, scenario: str, replicates: int, seed: int, reps: int
) -> list[dict]:
    """Every estimator on ``replicates`` trials of one cell; one summary row per outcome and estimator."""
    rng = np.random.default_rng([seed, n_per_arm, int(round(-effect * 100)), SCENARIOS.index(scenario)])
    truth = np.log1p(effect)
    found = {(o, name): [] for o, names in ESTIMATORS.items() for name in names}
    for r in range(replicates):
        trial = simulate_trial(rng, n_per_arm, effect, scenario)
        for outcome, names in ESTIMATORS.items():
            for name, (kind, option) in names.items():
                with np.errstate(all="ignore"):
                    row = _estimate(kind, option, trial, reps, seed + r) or {}
                found[(outcome, name)].append(
                    [row.get(key, np.nan) for key in ("estimate", "ci_low", "ci_high")]
                )
    rows = []
    for (outcome, name), values in found.items():
        a = np.array(values, float)
        estimated = np.isfinite(a[:, 0]) & (a[:, 0] > 0)
        log_est = np.log(a[estimated, 0])
        ok = estimated & np.isfinite(a[:, 1]) & np.isfinite(a[:, 2])
        lo, hi, m = a[ok, 1], a[ok, 2], int(ok.sum())
        cover = (lo <= np.exp(truth)) & (np.exp(truth) <= hi)
        excl = (lo > 1) | (hi < 1)
        rows.append(
            {
                "outcome": outcome,
                "scenario": scenario,
                "n_per_arm": n_per_arm,
                "effect": effect,
                "estimator": name,
                "replicates": replicates,
                "with_estimate": len(log_est) / replicates,
                "with_interval": m / replicates,
                "bias": float(log_est.mean() - truth) if len(log_est) else np.nan,
                "bias_se": float(log_est.std(ddof=1) / np.sqrt(len(log_est))) if len(log_est) > 1 else np.nan,
                "coverage": float(cover.mean()) if m else np.nan,
                "coverage_se": float(np.sqrt(cover.mean() * (1 - cover.mean()) / m)) if m else np.nan,
                "excludes_1": float(excl.mean()) if m else np.nan,
                "excludes_1_se": float(np.sqrt(excl.mean() * (1 - excl.mean()) / m)) if m else np.nan,
            }
        )
    return rows


def run(
    sizes=SIZES, replicates: int = 2000, seed: int = 2026, reps: int = 199, scenarios=SCENARIOS
) -> pd.DataFrame:
    rows = []
    for scenario in scenarios:
        for n in sizes:
            for effect in EFFECTS:
                started = time.perf_counter()
                rows += run_cell(n, effect, scenario, replicates, seed, reps)
                print(f"{scenario} n={n} effect={effect}: {time.perf_counter() - started:.0f} s", flush=True)
    return pd.DataFrame(rows)


def format_table(summary: pd.DataFrame, outcome: str) -> str:
    """Markdown: one row per cell and estimator, 'bias (se) / coverage (se) / excludes 1 (se) [share]'."""
    s = summary[summary["outcome"] == outcome].copy()
    s["cell"] = (
        s["bias"].map("{:+.3f}".format)
        + " ("
        + s["bias_se"].map("{:.3f}".format)
        + ") / "
        + (100 * s["coverage"]).map("{:.1f}%".format)
        + " ("
        + (100 * s["coverage_se"]).map("{:.1f}".format)
        + ") / "
        + (100 * s["excludes_1"]).map("{:.1f}%".format)
        + " ("
        + (100 * s["excludes_1_se"]).map("{:.1f}".format)
        + ") ["
        + (100 * s["with_interval"]).map("{:.0f}%".format)
        + "]"
    )
    table = s.pivot_table(
        index=["scenario", "effect", "n_per_arm"], columns="estimator", values="cell", aggfunc="first"
    )
    table = table[list(ESTIMATORS[outcome])]
    return table.reset_index().to_markdown(index=False)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--reps", type=int, default=199, help="bootstrap / permutation draws per estimate")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument("--out", type=Path, default=None, help="write summary.csv here")
    args = parser.parse_args(argv)
    summary = run(args.sizes, args.replicates, args.seed, args.reps, args.scenarios)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        summary.to_csv(args.out / "summary.csv", index=False)
    for outcome in ESTIMATORS:
        print(
            f"\n{outcome}: bias of log ratio (MC SE) / 95% coverage (MC SE) / excludes 1 (MC SE) [with interval]\n"
        )
        print(format_table(summary, outcome))


if __name__ == "__main__":
    main()
