"""The estimability wrapper: data that cannot support a model degrades to a row with a reason; bugs still fail."""

import numpy as np
import pytest
import statsmodels.api as sm

from ml.estimability import ESTIMATED, NOT_ESTIMABLE, NotEstimable, attempt, estimate_row, not_estimable


def _ratio(y):
    if len(y) < 2:
        raise NotEstimable(f"{len(y)} person(s): too few to estimate a rate ratio")
    return {"estimate": float(np.mean(y)), "ci_low": 0.0, "ci_high": 2.0, "n_treated": len(y)}


def test_estimated_row_gets_status_and_keeps_its_fields():
    row = estimate_row("demo ratio", _ratio, [1.0, 1.0])
    assert row["status"] == ESTIMATED and row["reason"] == ""
    assert row["estimate"] == 1.0 and row["n_treated"] == 2


def test_estimator_reason_is_the_row_reason():
    row = estimate_row("demo ratio", _ratio, [1.0])
    assert row["status"] == NOT_ESTIMABLE
    assert row["reason"] == "1 person(s): too few to estimate a rate ratio"
    assert np.isnan(row["estimate"])


def test_singular_design_is_not_estimable_not_a_crash():
    # Two identical columns and a constant outcome: statsmodels' discrete NB fit inverts a singular Hessian.
    x = np.column_stack([np.ones(6), np.ones(6)])
    result = attempt("singular", lambda: np.linalg.inv(x.T @ x))
    assert not result.ok and result.status == NOT_ESTIMABLE
    assert "singular" in result.reason


def test_non_finite_estimate_is_not_estimable():
    row = estimate_row("nan ratio", lambda: {"estimate": float("inf"), "ci_low": 1.0, "ci_high": 2.0})
    assert row["status"] == NOT_ESTIMABLE and "not finite" in row["reason"]
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])


def test_programming_errors_still_raise():
    with pytest.raises(KeyError):
        attempt("bug", lambda: {}["missing column"])
    with pytest.raises(TypeError):
        estimate_row("bug", lambda: None + 1)


def test_not_estimable_lines_name_the_row():
    import pandas as pd

    rows = pd.DataFrame(
        [
            estimate_row("a", _ratio, [1.0, 2.0]) | {"programme": "DRIVE", "outcome": "harm"},
            estimate_row("b", _ratio, [1.0]) | {"programme": "DRIVE", "outcome": "da_incidents"},
        ]
    )
    assert not_estimable(rows, ("programme", "outcome")) == [
        "DRIVE, da_incidents: 1 person(s): too few to estimate a rate ratio"
    ]


def test_a_statsmodels_failure_on_degenerate_data_is_caught():
    # Every count zero in one arm and a perfectly collinear baseline: the discrete NB2 fit may raise
    # LinAlgError on some CPUs and return NaN on others; either way the row is not estimable.
    y = np.array([0, 0, 0, 0, 1, 0], float)
    x = np.column_stack([np.ones(6), [1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0]])

    def fit():
        result = sm.NegativeBinomial(y, x, loglike_method="nb2").fit(disp=0, maxiter=50)
        return {"estimate": float(np.exp(result.params[1])), "ci_low": 0.0, "ci_high": 1.0}

    row = estimate_row("negbin", fit)
    if row["status"] == ESTIMATED:
        assert np.isfinite(row["estimate"]) and row["reason"] == ""
    else:
        assert row["status"] == NOT_ESTIMABLE and row["reason"] and np.isnan(row["estimate"])


def test_estimate_rows_gives_every_part_its_own_status():
    from ml.estimability import estimate_rows

    def design():
        return {
            "effect": {"estimate": 0.8, "ci_low": 0.6, "ci_high": 1.1, "n_treated": 12},
            "comparison": {
                "estimate": 0.5,
                "ci_low": 0.2,
                "ci_high": 0.9,
                "reason": "too few people for a bootstrap interval",
            },
        }

    rows = estimate_rows("design", design, parts=("effect", "comparison"), required=("estimate", "ci_low"))
    assert rows["effect"]["status"] == ESTIMATED and rows["effect"]["n_treated"] == 12
    assert rows["comparison"]["status"] == NOT_ESTIMABLE
    assert rows["comparison"]["reason"] == "too few people for a bootstrap interval"
    assert np.isnan(rows["comparison"]["estimate"]) and np.isnan(rows["comparison"]["ci_low"])

    def empty():
        raise NotEstimable("no treated person with a matched comparison")

    rows = estimate_rows("design", empty, parts=("effect", "comparison"))
    assert {r["reason"] for r in rows.values()} == {"no treated person with a matched comparison"}
    assert all(np.isnan(r["estimate"]) for r in rows.values())
