"""The typology library on its own: features, PCA, CLARA, the K sweep and selection, profiles, groups,
timelines and the report, on synthetic frames (no pipeline, no Dagster)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from ml import clara as clara_mod
from ml.features import (
    MODEL_COLUMNS,
    PCA_FEATURES,
    PCA_FEATURES_BY_THEME,
    PROTECTED_COLUMNS,
    assert_no_protected_features,
    build_feature_matrix,
    fit_pca,
    standardise,
)
from ml.typology import (
    SWEEP_CLARA,
    ClaraSettings,
    cluster_profiles,
    fit_typology,
    group_summary,
    medoid_timelines,
    offender_group,
    run_k_sweep,
    select_k,
    severity_band,
)
from ml.typology_report import build_typology_report
from tests.typology.synthetic import make_marts


@pytest.fixture(scope="module")
def marts():
    return make_marts(n=3000, seed=0)


@pytest.fixture(scope="module")
def pcs(marts):
    matrix, dropped = build_feature_matrix(marts.dim_offenders)
    z, _ = standardise(matrix)
    return matrix, dropped, fit_pca(z, variance_target=0.90, columns=list(matrix.columns))


def test_feature_list_matches_data_model_and_excludes_sex_and_ethnicity():
    assert len(PCA_FEATURES) == 38
    assert sum(len(v) for v in PCA_FEATURES_BY_THEME.values()) == 38
    for column in PROTECTED_COLUMNS:
        assert column not in PCA_FEATURES
    assert not [c for c in PCA_FEATURES if "sex" in c or "ethnic" in c]
    with pytest.raises(ValueError):
        assert_no_protected_features(PCA_FEATURES + ["modal_sex"])


def test_build_feature_matrix_never_uses_sex_or_ethnicity(marts):
    with pytest.raises(ValueError):
        build_feature_matrix(marts.dim_offenders, features=PCA_FEATURES + ["modal_ethnicity"])
    matrix, _ = build_feature_matrix(marts.dim_offenders)
    assert not set(matrix.columns) & set(PROTECTED_COLUMNS)


def test_missing_ages_and_values_are_dropped_and_counted(marts):
    dim = marts.dim_offenders.copy()
    dim.loc[dim.index[:7], "mean_da_severity"] = np.nan  # never missing: an error upstream, dropped
    dim.loc[dim.index[:7], "has_missing_age"] = False
    dim.loc[dim.index[7:12], "mean_da_imd_score"] = np.nan  # may be missing: neutral value + indicator
    dim.loc[dim.index[7:12], "has_missing_age"] = False
    matrix, dropped = build_feature_matrix(dim)
    assert dropped.n_missing_age == int(dim["has_missing_age"].sum()) > 0
    assert dropped.n_missing_other == 7
    assert dropped.missing_other_by_column == {"mean_da_severity": 7}
    assert dropped.n_kept == len(matrix) == len(dim) - dropped.n_missing_age - 7
    assert dropped.imputed_by_column["mean_da_imd_score"] == 5
    assert list(matrix.columns) == MODEL_COLUMNS
    assert matrix["mean_da_imd_score_missing"].sum() == 5
    assert matrix.index.name == "offender_id"
    assert not matrix.isna().any().any()


def test_standardise_and_pca(pcs):
    matrix, _, pca = pcs
    z, scaler = standardise(matrix, weights={})
    assert np.allclose(z.mean(axis=0), 0, atol=1e-9)
    features = [j for j, c in enumerate(matrix.columns) if c in PCA_FEATURES]
    assert np.allclose(z[:, features].std(axis=0, ddof=1), 1, atol=1e-9)
    # no feature is missing in these marts: the indicators are constant (all zero after scaling)
    assert set(scaler.constant_columns) == set(MODEL_COLUMNS) - set(PCA_FEATURES)
    assert pca.kept_ratio >= 0.90
    assert pca.n_components == 1 or pca.cumulative_ratio[pca.n_components - 2] < 0.90
    assert np.isclose(pca.explained_variance_ratio.sum(), 1.0)
    assert np.allclose(
        np.cov(pca.scores, rowvar=False), np.diag(pca.explained_variance[: pca.n_components]), atol=1e-8
    )
    fixed = fit_pca(z, n_components=3)
    assert fixed.scores.shape == (len(z), 3)
    table = pca.variance_table()
    assert table["kept"].sum() == pca.n_components


def test_r_clara_sampler_is_the_documented_generator():
    r = clara_mod.RClaraRandom()
    values = [r.uniform() for _ in range(3)]
    assert values[0] == 999 / 65536
    assert values[1] == ((999 * 5761 + 999) % 65536) / 65536
    sample = clara_mod.draw_sample(1000, 50, None, "r", r_random=clara_mod.RClaraRandom())
    again = clara_mod.draw_sample(1000, 50, None, "r", r_random=clara_mod.RClaraRandom())
    assert np.array_equal(sample, again) and len(np.unique(sample)) == 50


def test_clara_forces_the_best_medoids_into_later_samples(monkeypatch):
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(c, 0.3, size=(400, 2)) for c in ((0, 0), (5, 5), (0, 6))])
    seen = []
    original = clara_mod.draw_sample

    def spy(n, sampsize, forced, sampler, rng=None, r_random=None):
        sample = original(n, sampsize, forced, sampler, rng=rng, r_random=r_random)
        seen.append((None if forced is None else forced.copy(), sample))
        return sample

    monkeypatch.setattr(clara_mod, "draw_sample", spy)
    result = clara_mod.clara(x, 3, samples=4, seed=3, polish_iterations=0)
    assert seen[0][0] is None
    for forced, sample in seen[1:]:
        assert forced is not None and set(forced) <= set(sample)
    # The objective is the mean distance to the nearest medoid over all rows.
    d = np.sqrt(((x[:, None, :] - x[result.medoids][None]) ** 2).sum(-1))
    assert np.isclose(result.objective, d.min(axis=1).mean())
    assert np.array_equal(result.labels, d.argmin(axis=1))
    assert set(result.medoids) <= set(result.best_sample)
    assert -1 <= result.sample_silhouette <= 1 and 0 <= result.medoid_silhouette <= 1
    assert np.array_equal(result.labels[result.medoids], np.arange(3))


def test_restart_and_polish_never_lose_to_r_style_build_only():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3000, 5))
    for k in (4, 9):
        plain = clara_mod.clara(x, k, samples=5, sampler="r", restart_from_best=False, polish_iterations=0)
        restarted = clara_mod.clara(x, k, samples=5, sampler="r", restart_from_best=True, polish_iterations=0)
        polished = clara_mod.clara(x, k, samples=5, sampler="r", restart_from_best=True, polish_iterations=3)
        assert restarted.objective <= plain.objective + 1e-12
        assert polished.objective <= restarted.objective + 1e-12
        d = np.sqrt(((x[:, None, :] - x[polished.medoids][None]) ** 2).sum(-1))
        assert np.isclose(polished.objective, d.min(axis=1).mean())


def plain_assignment(x: np.ndarray, medoids: np.ndarray):
    """The straightforward assignment: squared differences summed dimension by dimension, argmin, the
    second-nearest by masking the nearest, square roots; a medoid is its own cluster."""
    centres = x[medoids]
    sq = np.zeros((len(x), len(medoids)))
    for t in range(x.shape[1]):
        diff = x[:, t, None] - centres[None, :, t]
        sq += diff * diff
    rows = np.arange(len(x))
    labels = sq.argmin(axis=1)
    first = sq[rows, labels].copy()
    sq[rows, labels] = np.inf
    second = sq.min(axis=1) if len(medoids) > 1 else np.full(len(x), np.inf)
    labels[medoids] = np.arange(len(medoids))
    return labels, np.sqrt(first), np.sqrt(second)


@pytest.mark.parametrize("k", [1, 2, 3, 7, 8, 9, 23])
def test_compiled_assignment_equals_the_plain_one_exactly(k):
    rng = np.random.default_rng(k)
    x = np.round(rng.normal(size=(700, 6)) * 4) / 4  # coarse values: many exact ties
    x[600:] = x[:100]  # duplicate rows
    medoids = rng.choice(700, size=k, replace=False)
    medoids[: min(k, 2)] = [5, 605][: min(k, 2)]  # a medoid and its duplicate when k > 1
    result = clara_mod.assign_to_medoids(x, medoids)
    labels, first, second = plain_assignment(x, medoids)
    assert np.array_equal(result.labels, labels)
    assert np.array_equal(result.distance, first)
    assert np.array_equal(result.second_distance, second)
    assert result.total == np.add.accumulate(first)[-1]  # summed in row order, as R's clara does
    some = np.sort(rng.choice(700, size=50, replace=False))
    subset = clara_mod.assign_to_medoids(x, medoids, rows=some)
    assert np.array_equal(
        subset.distance, plain_assignment(np.vstack([x[some], x[medoids]]), np.arange(50, 50 + k))[1][:50]
    )


def test_compiled_distances_equal_the_plain_ones_exactly():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 5))
    plain = np.zeros((60, 60))
    for t in range(5):
        diff = x[:, t, None] - x[None, :, t]
        plain += diff * diff
    plain = np.sqrt(plain)
    assert np.array_equal(clara_mod.sample_dissimilarities(x), plain)
    pool, members = np.array([3, 9, 41]), np.arange(10, 60, 3)
    expected = [np.add.accumulate(plain[p, members])[-1] for p in pool]
    assert np.array_equal(clara_mod.total_distances(x, pool, members), expected)


def r_fixture_matrix(n: int, duplicates: int) -> np.ndarray:
    """Four blobs in 3 dimensions from integer arithmetic (exact in R and numpy), the first rows repeated."""
    centres = [(0, 0, 0), (40, 40, 0), (0, 40, 40), (48, 0, 24)]
    state, rows = 12345, []
    for i in range(n - duplicates):
        row = []
        for c in centres[i % len(centres)]:
            state = (1103515245 * state + 12345) % 2**31
            row.append((8 * c + state % 161 - 80) / 8)
        rows.append(row)
    return np.array(rows + rows[:duplicates])


# R 4.2.2, cluster 2.1.4: `cl <- clara(x, k)` (defaults) on r_fixture_matrix(240, 12) ("a") and
# r_fixture_matrix(70, 4) ("b", where clara's sample exceeds n/2 and it draws the rows left out instead):
# cl$objective, cl$i.med - 1, cl$silinfo$avg.width.
R_CLARA = {
    ("a", 2): (26.63063399243639, [35, 222], 0.41750160928165625),
    ("a", 3): (18.296397988324209, [8, 45, 222], 0.63089043443961623),
    ("a", 4): (9.8587001516052748, [128, 5, 222, 219], 0.76126480180289036),
    ("a", 6): (9.0948729115778768, [144, 13, 54, 15, 236, 35], 0.50239180254882376),
    ("b", 2): (27.101626701768062, [35, 54], 0.44569760966443694),
    ("b", 3): (18.234834627596417, [36, 9, 22], 0.57812146309394064),
    ("b", 4): (9.3063105491892326, [56, 13, 54, 51], 0.75391164913928888),
    ("b", 6): (7.9070209572959174, [56, 13, 54, 51, 36, 15], 0.50762815085619339),
}


@pytest.mark.parametrize("case", sorted(R_CLARA))
def test_r_exact_mode_reproduces_r_clara(case):
    name, k = case
    objective, medoids, silhouette = R_CLARA[case]
    x = r_fixture_matrix(240, 12) if name == "a" else r_fixture_matrix(70, 4)
    result = ClaraSettings.r_exact().fit(x, k)
    assert result.objective == objective  # to the last bit: same samples, swaps and sums as R's C code
    assert sorted(result.medoids.tolist()) == sorted(medoids)
    assert result.sample_silhouette == pytest.approx(silhouette, abs=1e-12)


def test_k_sweep_does_not_depend_on_thread_count():
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(4)
    x = np.vstack([rng.normal(c, 1.0, size=(1500, 5)) for c in (0, 3, 6)])
    settings = SWEEP_CLARA
    sweeps = []
    for threads in (1, 2):
        with threadpool_limits(threads):
            sub = clara_mod.SubsampleSilhouette(x, size=800, seed=0, n_threads=threads)
            sweep = run_k_sweep(x, range(2, 7), settings, sub)
        sweeps.append(sweep.drop(columns=["seconds", "clara_seconds"]))
    pd.testing.assert_frame_equal(sweeps[0], sweeps[1], check_exact=True)


def test_pipeline_mode_objective_is_exact_and_never_worse_than_its_start():
    rng = np.random.default_rng(6)
    x = np.vstack([rng.gamma(1.0 + c, 1.0, size=(1200, 4)) for c in range(4)])
    for k in (3, 8):
        result = SWEEP_CLARA.fit(x, k)
        _, first, _ = plain_assignment(x, result.medoids)
        assert result.objective == pytest.approx(first.mean(), rel=1e-12)
        unpolished = replace(SWEEP_CLARA, polish_iterations=0).fit(x, k)
        assert result.objective <= unpolished.objective


def test_subsample_silhouette_matches_sklearn():
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(2)
    x = np.vstack([rng.normal(c, 1, size=(300, 3)) for c in (0, 4, 8)])
    strata = np.repeat([0, 1, 2], 300)
    sub = clara_mod.SubsampleSilhouette(x, size=450, strata=strata, seed=0, n_threads=1)
    assert sub.size == 450
    assert np.bincount(strata[sub.rows]).tolist() == [150, 150, 150]
    labels = strata
    expected = silhouette_score(x[sub.rows], labels[sub.rows])
    assert np.isclose(sub.score(labels), expected, atol=1e-5)


def test_well_separated_blobs_are_recovered():
    """The acceptance criterion on the library alone: ARI ≥ 0.8 on well-separated synthetic profiles."""
    m = make_marts(n=4000, separation=6.0, seed=11)
    matrix, _ = build_feature_matrix(m.dim_offenders)
    z, _ = standardise(matrix)
    pca = fit_pca(z)
    settings = ClaraSettings(samples=5, sampsize_base=80, sampsize_per_k=4, seed=0)
    sub = clara_mod.SubsampleSilhouette(pca.scores, size=1500, seed=0, n_threads=1)
    sweep = run_k_sweep(pca.scores, range(2, 9), settings, sub)
    k = select_k(sweep, "subsample_silhouette", exclude_k2=True)
    typology = fit_typology(
        pca.scores, matrix.index.to_numpy(), k, ClaraSettings(samples=10, sampsize_base=400, sampsize_per_k=0)
    )
    truth = m.truth.loc[matrix.index].to_numpy()
    assert k == 5
    assert adjusted_rand_score(truth, typology.clusters) >= 0.8


def test_select_k_rules():
    sweep = pd.DataFrame(
        {
            "k": [2, 3, 4, 5],
            "subsample_silhouette": [0.5, 0.2, 0.3, 0.3],
            "sample_silhouette": [0.1, 0.4, 0.2, 0.1],
            "medoid_silhouette": [0.6, 0.5, 0.4, 0.3],
        }
    )
    assert select_k(sweep, "subsample_silhouette", exclude_k2=False) == 2
    assert select_k(sweep, "subsample_silhouette", exclude_k2=True) == 4  # tie goes to the smaller K
    assert select_k(sweep, "sample_silhouette") == 3
    with pytest.raises(ValueError):
        select_k(sweep, "objective")


@pytest.mark.parametrize(
    "da,non_da,group",
    [
        (3, 2, "A"),
        (7, 0, "A"),
        (4, 17, "B"),
        (3, 3, "B"),
        (2, 1, "C"),
        (2, 2.5, "C"),
        (2, 3, "D"),
        (1, 0, "E"),
        (2.5, 0, "E"),
    ],
)
def test_group_rule_follows_the_digest(da, non_da, group):
    assert offender_group(da, non_da) == group


def test_all_29_report_clusters_get_their_printed_group():
    rows = [
        (3, 2, "A"),
        (4, 17, "B"),
        (1, 0, "E"),
        (2, 3, "D"),
        (10, 5, "B"),
        (20, 12, "B"),
        (7, 0, "A"),
        (2, 1, "C"),
        (2, 0, "E"),
        (2, 2, "C"),
        (3, 43, "B"),
        (31, 29, "B"),
        (12, 62, "B"),
    ]
    assert all(offender_group(da, nda) == g for da, nda, g in rows)


def test_severity_bands():
    assert [severity_band(v) for v in (0, 99.9, 100, 500, 500.1, None)] == [
        "Low",
        "Low",
        "Medium",
        "Medium",
        "High",
        None,
    ]


def test_profiles_timelines_and_report(marts, pcs):
    matrix, dropped, pca = pcs
    settings = ClaraSettings(samples=5, sampsize_base=80, sampsize_per_k=4)
    sub = clara_mod.SubsampleSilhouette(pca.scores, size=1000, n_threads=1)
    sweep = run_k_sweep(pca.scores, range(2, 8), settings, sub)
    k = select_k(sweep)
    typology = fit_typology(pca.scores, matrix.index.to_numpy(), k, settings)
    clusters = typology.offender_clusters()
    sizes = typology.sizes()
    assert sizes.sum() == len(matrix) and (sizes > 0).all()
    assert list(sizes) == sorted(sizes, reverse=True)  # numbered from the largest
    medoids = clusters[clusters["is_medoid"]]
    assert len(medoids) == k and sorted(medoids["cluster"]) == list(range(1, k + 1))

    profiles = cluster_profiles(clusters, marts.dim_offenders, marts.fct_incidents, marts.fct_offences)
    assert len(profiles) == k and profiles["n_offenders"].sum() == len(matrix)
    assert np.isclose(profiles["share"].sum(), 1.0)
    member_medians = (
        clusters.merge(marts.dim_offenders, on="offender_id").groupby("cluster")["n_da_incidents"].median()
    )
    assert np.allclose(profiles.set_index("cluster")["median_da_incidents"], member_medians)
    for row in profiles.itertuples():
        assert row.offender_group == offender_group(row.median_da_incidents, row.median_non_da_incidents)
        assert np.isclose(row.share_da_risk_standard + row.share_da_risk_medium + row.share_da_risk_high, 1.0)
    assert set(group_summary(profiles)["offender_group"]) == set("ABCDE")

    timelines = medoid_timelines(typology.medoids(), marts.fct_offences, marts.victims, marts.relationships)
    for cluster, rows in timelines.groupby("cluster"):
        assert rows["committed_from"].is_monotonic_increasing
        medoid = typology.medoid_ids[cluster - 1]
        own = rows[rows["role"] == "offender"]
        assert len(own) == (marts.fct_offences["offender_id"] == medoid).sum()
    assert timelines["relationship"].notna().any() and timelines["victim_age"].notna().any()

    page = build_typology_report(
        variance=pca.variance_table(),
        variance_target=0.9,
        dropped=dropped.as_dict(),
        sweep=sweep,
        chosen_k=k,
        criterion="subsample_silhouette",
        exclude_k2=True,
        stability=pd.DataFrame(
            {"seed": [0, 1], "criterion": ["subsample_silhouette"] * 2, "chosen_k": [k, k]}
        ),
        profiles=profiles,
        timelines=timelines,
        final_fit={
            "k": k,
            "samples": 5,
            "sampsize": 100,
            "objective": typology.objective,
            "medoid_silhouette": 0.3,
        },
        settings={"k_max": 7},
    )
    assert page.startswith("<!doctype html>") and "data:image/png;base64" in page
    assert "Medoid timelines" in page and "Caveats" in page and "Groups A–E" in page
    assert "http://" not in page and "https://" not in page  # readable offline
