"""The matched estimates' interval, against a direct simulation where comparisons are heavily reused.

Each world: 200 selected people high on a covariate, 100 candidates mostly low on it, so the few
candidates near the selected are each the nearest neighbour of many of them (one is reused by about 30 on
average); counts before and after are Poisson with a gamma frailty shared by both periods; no programme
effect. Matching with replacement, one neighbour, on the fitted propensity. The spread of the log DiD over
300 independent worlds is the standard error an interval should carry. The plain bootstrap of people
(Abadie & Imbens 2008: not valid for nearest-neighbour matching) comes out about 10% short of it, and the
linear terms with the matches held fixed about 20% short (the re-matching is part of the variance); the
half-samples drawn without replacement (delete-half jackknife) get it right, and their 95% interval covers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.evaluation.matching import (
    MatchedDesign,
    MatchingConfig,
    bootstrap,
    half_samples,
    linearised_se,
    run_replicate,
)
from tests.evaluation.designs import one_period_design


def _world(rng: np.random.Generator, n_t: int = 200, n_c: int = 100) -> MatchedDesign:
    x_all = np.r_[rng.normal(1.5, 0.6, n_t), rng.normal(0.0, 0.8, n_c)]
    rate = np.exp(0.8 + 0.6 * x_all) * rng.gamma(1.0, 1.0, len(x_all))
    pre, post = rng.poisson(rate).astype(float), rng.poisson(rate).astype(float)
    config = MatchingConfig(n_matches=1, outcome_adjustment=False)
    return one_period_design("y", pre, post, n_t, pd.DataFrame({"x": x_all}), config)


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(7)
    direct, reuse = [], []
    for _ in range(300):
        design = _world(rng)
        point = run_replicate(design, None, design.beta, keep_sets=True)
        direct.append(point.log_did["y"])
        reuse.append(np.bincount(point.set_comparison).max())
    per_world = []
    for r in range(40):
        design = _world(rng)
        point = run_replicate(design, None, design.beta, keep_sets=True)
        halves, factor = half_samples(design, 49, r)
        boots = bootstrap(design, 49, r)
        per_world.append(
            {
                "point": point.log_did["y"],
                "half": np.sqrt(factor) * np.std([h.log_did["y"] for h in halves], ddof=1),
                "boot": np.std([b.log_did["y"] for b in boots], ddof=1),
                "linear": linearised_se(design, point)["log_did"]["y"],
            }
        )
    return np.std(direct, ddof=1), np.mean(direct), np.mean(reuse), pd.DataFrame(per_world)


def test_the_worlds_reuse_comparisons_heavily_and_the_estimate_is_unbiased(simulated):
    sd, mean, reuse, _ = simulated
    assert reuse > 15  # the most used comparison serves 15+ selected people
    assert abs(mean) < 3 * sd / np.sqrt(300)


def test_half_samples_carry_the_direct_standard_error(simulated):
    sd, _, _, w = simulated
    assert 0.9 * sd < w["half"].mean() < 1.12 * sd
    covered = (w["point"].abs() <= 1.959964 * w["half"]).mean()
    assert covered >= 0.9


def test_the_bootstrap_and_the_fixed_match_linearisation_are_too_narrow_here(simulated):
    sd, _, _, w = simulated
    assert w["boot"].mean() < 0.94 * sd
    assert w["linear"].mean() < 0.9 * sd
    assert w["half"].mean() > w["boot"].mean()


def test_the_run_config_chooses_the_interval_and_rejects_unknown_ones():
    from ml.evaluation.pipeline import EvaluationConfig
    from orchestration.defs.evaluation import EvaluationAssetConfig

    assert EvaluationAssetConfig().to_evaluation_config().matched_interval == "half_sample"
    chosen = EvaluationAssetConfig(matched_interval="bootstrap").to_evaluation_config()
    assert chosen.effect_settings().matched_interval == "bootstrap"
    with pytest.raises(ValueError, match="matched_interval='jackknife'"):
        EvaluationConfig(matched_interval="jackknife")


def test_the_share_a_half_sample_keeps_sets_the_delete_d_factor():
    design = _world(np.random.default_rng(3), n_t=20, n_c=11)
    default, factor = half_samples(design, 3, 0)
    explicit, same = half_samples(design, 3, 0, fraction=0.5)
    assert factor == same == (10 + 5) / (10 + 6)  # half of 20 and of 11 kept: m / (n − m)
    np.testing.assert_array_equal([h.log_did["y"] for h in default], [h.log_did["y"] for h in explicit])
    _, three_quarters = half_samples(design, 3, 0, fraction=0.75)
    assert three_quarters == (15 + 8) / (5 + 3)
    with pytest.raises(ValueError, match="between 0 and 1"):
        half_samples(design, 3, 0, fraction=1.0)
