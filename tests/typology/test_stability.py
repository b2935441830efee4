"""Stability across data (issue 13, point 3): the best-match Jaccard by hand, the verdicts, and resamples
that tell a real cluster from an arbitrary cut through one blob."""

from __future__ import annotations

import numpy as np
import pytest

from ml.typology import (
    ClaraSettings,
    best_match_jaccard,
    fit_typology,
    resample_stability,
    stability_verdict,
)


def test_best_match_jaccard_worked_by_hand():
    reference = np.array([1, 1, 1, 2, 2, 3])
    labels = np.array([7, 7, 8, 8, 8, 9])
    clusters, jaccard, matched = best_match_jaccard(reference, labels)
    assert clusters.tolist() == [1, 2, 3]
    # cluster 1 = rows {0,1,2}: with 7 = {0,1} it shares 2 of 3 rows (2/3); with 8 = {2,3,4} 1 of 5 (1/5)
    # cluster 2 = rows {3,4}: with 8 = {2,3,4} it shares 2 of 3 (2/3); cluster 3 = row {5} is 9 exactly
    assert jaccard.tolist() == pytest.approx([2 / 3, 2 / 3, 1.0])
    assert matched.tolist() == [7, 8, 9]


def test_verdicts_follow_hennigs_bands():
    assert stability_verdict(0.80, 100) == "stable"
    assert stability_verdict(0.75, 100) == "stable"
    assert stability_verdict(0.70, 100) == "pattern"
    assert stability_verdict(0.55, 100) == "weak"
    assert stability_verdict(0.40, 100) == "dissolves"
    assert stability_verdict(0.95, 3) == "too small to judge"
    assert stability_verdict(float("nan"), 100) == "too small to judge"


def test_a_real_cluster_is_stable_and_a_cut_through_a_blob_is_not():
    """Two round blobs far apart, clustered with K = 3: the small blob is a real cluster, the big one is cut
    in two along a direction the data do not fix, so each resample cuts it differently."""
    rng = np.random.default_rng(11)
    big = rng.normal(0.0, 1.0, size=(3000, 2))
    small = rng.normal(0.0, 0.3, size=(1000, 2)) + np.array([12.0, 0.0])
    x = np.vstack([big, small])
    settings = ClaraSettings(samples=5, sampsize_base=200, sampsize_per_k=0, seed=0)
    final = fit_typology(x, np.arange(len(x)), 3, settings)
    small_cluster = int(np.bincount(final.clusters[3000:]).argmax())
    result = resample_stability(
        x, final.clusters, 3, settings, n_resamples=20, subsample_size=1500, seed=1, threads=2
    )
    table = result.clusters.set_index("cluster")
    assert len(result.resamples) == 20 and (result.resamples["n_offenders"] == 1500).all()
    assert table.loc[small_cluster, "verdict"] == "stable"
    assert table.loc[small_cluster, "mean_jaccard"] > 0.95
    halves = table.drop(index=small_cluster)
    assert (halves["mean_jaccard"] < 0.9).all()  # the cut moves: the halves never match as well
    assert table["n_offenders"].sum() == len(x)
    assert result.resamples["ari"].between(-1, 1).all()
    summary = result.summary()
    assert summary["n_resamples"] == 20 and summary["n_stable"] >= 1


def test_well_separated_clusters_are_all_stable_and_resamples_agree():
    rng = np.random.default_rng(5)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=float)
    x = np.vstack([c + rng.normal(0, 0.5, size=(500, 2)) for c in centres])
    settings = ClaraSettings(samples=5, sampsize_base=200, sampsize_per_k=0, seed=0)
    final = fit_typology(x, np.arange(len(x)), 4, settings)
    result = resample_stability(x, final.clusters, 4, settings, n_resamples=20, subsample_size=800, threads=2)
    assert (result.clusters["verdict"] == "stable").all()
    assert result.resamples["ari"].min() > 0.99
    # subsamples are capped at 80% of the offenders
    capped = resample_stability(x, final.clusters, 4, settings, n_resamples=2, subsample_size=10_000)
    assert (capped.resamples["n_offenders"] == 1600).all()
