"""The silhouette diagnostic (synth/calibration_silhouette.py) on small hand-made matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth import calibration_silhouette as cs


def test_eta_squared_by_hand():
    # groups {1, 3} and {5, 7}: group means 2 and 6, grand mean 4; total SS 20, within SS 4 -> 1 - 4/20
    assert cs.eta_squared(np.array([1.0, 3.0, 5.0, 7.0]), np.array([0, 0, 1, 1])) == pytest.approx(0.8)
    assert cs.eta_squared(np.array([1.0, 1.0, 2.0, 2.0]), np.array([0, 0, 1, 1])) == pytest.approx(1.0)
    assert cs.eta_squared(np.array([1.0, 2.0, 1.0, 2.0]), np.array([0, 0, 1, 1])) == pytest.approx(0.0)
    assert np.isnan(cs.eta_squared(np.ones(4), np.array([0, 0, 1, 1])))


def _two_blobs(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Column 'apart' separates two groups by 8 SDs of its noise; column 'noise' is noise only."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n // 2)
    matrix = pd.DataFrame({"apart": 8.0 * labels + rng.standard_normal(n), "noise": rng.standard_normal(n)})
    return matrix, labels


def test_the_separating_column_carries_the_clusters_and_the_silhouette():
    matrix, labels = _two_blobs()
    z = ((matrix - matrix.mean()) / matrix.std()).to_numpy()
    table = cs.feature_separation(matrix, z, labels)
    assert table.loc[0, "column"] == "apart"
    assert table.loc[0, "eta_squared"] > 0.9
    assert table.set_index("column").loc["noise", "eta_squared"] < 0.05
    base, ablation = cs.silhouette_ablation(z, labels, list(matrix.columns), rows=300)
    change = ablation.set_index("column")["change_when_left_out"]
    # leaving out the separating column leaves noise only (silhouette near 0); leaving out the noise raises it
    assert change["apart"] < -0.3
    assert change["noise"] > 0
    assert 0 < base < 1


def test_noise_goes_only_to_recorded_values():
    matrix = pd.DataFrame(
        {
            "mean_days_between_da_incidents": [10.0, 20.0, 15.0, 30.0],
            "mean_days_between_da_incidents_missing": [0.0, 0.0, 1.0, 0.0],
            "da_timespan_days": [10.0, 20.0, 0.0, 60.0],
            "n_da_incidents": [2, 2, 1, 3],
            "mean_non_da_severity": [0.0, 5.0, 0.0, 7.0],
            "n_non_da_incidents": [0, 1, 0, 2],
        }
    )
    columns = ["mean_days_between_da_incidents", "da_timespan_days", "mean_non_da_severity"]
    noisy = cs.add_noise(matrix, columns, sd=1.0, seed=3)
    changed = noisy[columns].to_numpy() != matrix[columns].to_numpy()
    # row 2: the neutral value of a missing gap, the zero span of one incident, no non-DA history
    assert not changed[2].any()
    # row 0 has no non-DA history either; every recorded value was perturbed
    assert changed[:, 0].tolist() == [True, True, False, True]
    assert changed[:, 1].tolist() == [True, True, False, True]
    assert changed[:, 2].tolist() == [False, True, False, True]
    assert matrix.equals(matrix.copy())  # the input is left alone
    assert noisy["n_da_incidents"].equals(matrix["n_da_incidents"])


def test_sweep_summary_on_planted_blobs():
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]])
    labels = np.repeat(np.arange(4), 150)
    matrix = pd.DataFrame(centres[labels] + rng.standard_normal((600, 3)), columns=["a", "b", "c"])
    summary = cs.sweep_summary(matrix, clara_seeds=(0,), k_values=range(2, 8))
    row = summary.iloc[0]
    assert row["chosen_k"] == 4
    assert row["silhouette_chosen_k"] > 0.6
    noisier = cs.sweep_summary(cs.add_noise(matrix, ["a", "b", "c"], sd=2.0), (0,), range(2, 8)).iloc[0]
    assert noisier["silhouette_chosen_k"] < row["silhouette_chosen_k"]
