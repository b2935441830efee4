"""The simulation study in small (``make validate`` runs it in full): 30 replicates of one scenario.

Data from ``validation.dgp`` (written independently of the platform's RFG and of the generator); selection on
recorded harm only, true effect zero. The assertions are the ones 30 replicates can support:

* the naive before/after is biased (regression to the mean): its mean log ratio is far below 0;
* the RCT intention to treat and the matched DiD for DA incidents: |bias| within 0.05 plus three Monte
  Carlo standard errors, and coverage of at least 80% (with a true coverage of 95%, fewer than 24 of 30
  intervals covering has probability below 1%);
* no adjusted estimate of DA incidents excludes "no effect" in more than 5 of 30 replicates (with a true
  rate of 5% that has probability below 2%).
"""

import numpy as np
import pandas as pd
import pytest

from validation.study import StudySettings, run_study, summarise


@pytest.fixture(scope="module")
def study():
    settings = StudySettings(
        replicates=30,
        scenarios=("recorded_harm",),
        effects=(0.0,),
        bootstrap_reps=99,
        naive_bootstrap_reps=99,
        library_bootstrap_reps=19,  # the fewest the library's bootstrap-t uses (its own test covers it)
    )
    return summarise(run_study(settings, progress=None))


def _row(table: pd.DataFrame, estimator: str, outcome: str = "da_incidents") -> pd.Series:
    return table.loc[(table["estimator"] == estimator) & (table["outcome"] == outcome)].iloc[0]


def test_naive_before_after_shows_the_regression_to_the_mean(study):
    naive = _row(study, "naive_pre_post")
    assert naive["bias"] < -0.3 and naive["rejects_no_effect"] > 0.8


@pytest.mark.parametrize("estimator", ["rct_itt", "matched_did"])
def test_adjusted_estimates_are_unbiased_and_cover(study, estimator):
    row = _row(study, estimator)
    assert row["estimated"] >= 25
    assert abs(row["bias"]) <= 0.05 + 3 * row["bias_mcse"], row.to_dict()
    assert row["coverage"] >= 0.80, row.to_dict()
    assert row["rejects_no_effect"] * row["estimated"] <= 5


def test_every_estimator_reported(study):
    assert {"naive_pre_post", "matched_did", "matched_post", "library_did", "rct_itt", "placebo_did"} <= set(
        study["estimator"]
    )
    assert np.isfinite(study["rmse"]).all()


def test_markdown_table_carries_the_summary_figures(study):
    from validation.page import markdown

    text = markdown(study)
    matched = _row(study, "matched_did")
    cell = f"{matched['bias']:+.2f} / {matched['rmse']:.2f} / {matched['coverage']:.0%} (n={matched['estimated']})"
    assert cell in text
    assert "| da_incidents | recorded_harm | " in text and f"{matched['rejects_no_effect']:.1%}" in text
