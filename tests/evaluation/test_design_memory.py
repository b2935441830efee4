"""The matched design's memory handling changes no number: covariates computed a chunk of rows at a time
(stacked rows and the re-weighting cuts) and the outcome models' rows built when asked give the same
effect estimates, balance and design, bit for bit, as everything at once."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.evaluation import matching
from ml.evaluation.pipeline import EvaluationConfig, run_evaluation
from ml.evaluation.simulate import simulate_panel


def _evaluate():
    sim = simulate_panel(n_offenders=1500, years=6, seed=3, per_panel=8, n_panels=6, rct_per_panel=6)
    config = EvaluationConfig(bootstrap_reps=30, matched_bootstrap_reps=12, library_estimator=False)
    designs = []
    original = matching.build_design

    def keep(*args, **kwargs):
        designs.append(original(*args, **kwargs))
        return designs[-1]

    from ml.evaluation import effects

    effects.build_design = keep
    try:
        result = run_evaluation(sim.incidents, sim.offenders, sim.participants, config)
    finally:
        effects.build_design = original
    return result, designs[0]


def test_chunked_covariates_and_outcome_rows_change_no_number(monkeypatch):
    whole, design = _evaluate()
    assert len(design.outcomes.cut_row) > 200 and len(design.codes) > 200  # chunking below is real
    monkeypatch.setattr(matching, "_CUT_CHUNK", 37)
    chunked, chunked_design = _evaluate()
    for name in ("effect_estimates", "balance", "harm_blocks", "reoffending_rates", "survival_curves"):
        pd.testing.assert_frame_equal(getattr(whole, name), getattr(chunked, name), check_exact=True)
    pd.testing.assert_frame_equal(design.covariates, chunked_design.covariates, check_exact=True)
    np.testing.assert_array_equal(design.x, chunked_design.x)
    # cuts the re-weighting model scores have the same covariates; the others are never read
    scored = design.outcomes.cut_modelled
    np.testing.assert_array_equal(design.outcomes.cut_x[scored], chunked_design.outcomes.cut_x[scored])
    # the outcome models' rows, built when asked, are x beside the standardised raw covariates
    assert design.x_outcome is None
    rows = np.arange(0, len(design.codes), 7)
    raw = design.covariates.to_numpy(float)
    expected = np.column_stack([design.x, (raw - raw.mean(0)) / design.raw_scale])[rows]
    np.testing.assert_array_equal(design.outcome_x(rows), expected)
