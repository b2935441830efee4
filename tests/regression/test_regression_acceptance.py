"""Acceptance: on generated extracts with planted effects, the Section C offence models recover them.

For each seed: generate a `demo` extract, build the marts with dbt, materialise the regression asset, and
compare with ``_truth/regression_effects.csv``. Checks, per the generator's design (indicators assigned
independently of the latent profile among offenders with non-DA history; default controls include
``has_non_da_history``):
* every planted effect is significant at 5%;
* its 95% interval covers the true value: misses stay within what 95% intervals allow (binomial 99.9%
  quantile), and every true value lies inside the Bonferroni-simultaneous interval of its seed;
* planted nulls are significant no more often than the nominal 5% allows across seeds (binomial bound).
Seeds: ``DA_REGRESSION_ACCEPTANCE_SEEDS`` (comma-separated), default 1,2.
"""

from __future__ import annotations

import importlib
import os

import dagster as dg
import duckdb
import pandas as pd
import pytest
from scipy import stats

from orchestration.defs import regression as regression_defs
from orchestration.resources import PlatformResource

pytestmark = pytest.mark.slow

ALPHA = 0.05


def _seeds() -> list[int]:
    return [int(s) for s in os.environ.get("DA_REGRESSION_ACCEPTANCE_SEEDS", "1,2").split(",") if s.strip()]


def _require_generator_and_marts():
    from tests.helpers import build_marts

    generator = importlib.import_module("synth.generate")

    def generate_extract(scale, seed, out_dir):
        # The function of the submodule: after a first call, the attribute ``synth.generate`` is the
        # submodule rather than the package-level function.
        generator.generate(scale, seed, out_dir)
        return out_dir

    return generate_extract, build_marts


def _fit_seed(seed: int, tmp_path_factory) -> pd.DataFrame:
    generate_extract, build_marts = _require_generator_and_marts()
    root = tmp_path_factory.mktemp(f"regression_seed{seed}")
    extract = generate_extract("demo", seed, root / "extract")
    truth_path = extract / "_truth" / "regression_effects.csv"
    assert truth_path.exists(), "the generator wrote no _truth/regression_effects.csv"
    warehouse = root / "warehouse.duckdb"
    # Only the models the regressions read (dbt tests run in the transform suite).
    build_marts(extract, warehouse, dbt_args=["run", "--select", "+dim_offenders", "+fct_offences"])
    platform = PlatformResource(warehouse_path=str(warehouse), output_dir=str(root / "out"))
    run_config = {"ops": {"regression_results": {"config": {"sensitivity": "none"}}}}
    result = dg.materialize([regression_defs.regression_results], resources={"platform": platform},
                            run_config=run_config)  # fmt: skip
    assert result.success
    con = duckdb.connect(str(warehouse), read_only=True)
    results = con.execute("SELECT * FROM analytics.regression_results").df()
    con.close()
    truth = pd.read_csv(truth_path)
    truth["planted"] = truth["planted"].astype(str).str.lower().isin(["true", "1"])
    results = results.rename(columns={"term_kind": "result_term_kind"})
    merged = truth.merge(results, left_on=["term_kind", "term"], right_on=["model", "term"], how="left")
    missing = merged.loc[merged["estimate"].isna(), ["term_kind", "term"]]
    assert missing.empty, f"seed {seed}: planted terms not fitted:\n{missing}"
    return merged.assign(seed=seed)


@pytest.fixture(scope="module")
def acceptance_table(tmp_path_factory) -> pd.DataFrame:
    return pd.concat([_fit_seed(seed, tmp_path_factory) for seed in _seeds()], ignore_index=True)


def test_every_planted_effect_is_significant(acceptance_table):
    planted = acceptance_table.loc[acceptance_table["planted"]]
    assert len(planted) > 0
    failing = planted.loc[~(planted["p_value"] < ALPHA)]
    assert failing.empty, failing[["seed", "term_kind", "term", "true_effect", "estimate", "p_value"]]


def test_planted_effects_are_covered_by_their_intervals(acceptance_table):
    planted = acceptance_table.loc[acceptance_table["planted"]].copy()
    covered = (planted["ci_low"] <= planted["true_effect"]) & (planted["true_effect"] <= planted["ci_high"])
    assert (~covered).sum() <= stats.binom.ppf(0.999, len(planted), 0.05), planted.loc[~covered]
    # Simultaneous (Bonferroni) 95% intervals per seed and model must cover every true value.
    for (seed, kind), part in planted.groupby(["seed", "term_kind"]):
        crit = stats.norm.ppf(1 - ALPHA / (2 * len(part)))
        z = (part["estimate"] - part["true_effect"]).abs() / part["std_error"]
        assert (z <= crit).all(), (seed, kind, part.assign(z=z)[["term", "true_effect", "estimate", "z"]])


def test_planted_nulls_significant_at_no_more_than_the_nominal_rate(acceptance_table):
    nulls = acceptance_table.loc[~acceptance_table["planted"]]
    assert len(nulls) > 0
    rejected = int((nulls["p_value"] < ALPHA).sum())
    assert rejected <= stats.binom.ppf(0.999, len(nulls), ALPHA), nulls[
        ["seed", "term", "estimate", "p_value"]
    ]
