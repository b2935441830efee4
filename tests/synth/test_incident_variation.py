"""Within-person variation at incident level (synth/engine.py): the place of each incident and the share of an
offender's DA crimes drawn from another profile's offence mix. Off by default (the shipped generator); these
tests hold what each setting does when it is turned on."""

from __future__ import annotations

import numpy as np
import pytest

from synth import engine, reference


@pytest.fixture(scope="module")
def sorted_scores() -> np.ndarray:
    scores = reference.reference_tables()["ref_lsoa"].column("imd_score").to_numpy()
    return np.sort(scores)


def _simulate(sorted_scores: np.ndarray, n: int = 4_000, seed: int = 5):
    rng = np.random.default_rng(seed)
    opts = engine.Options()
    off = engine.simulate_offenders(rng, n, opts, sorted_scores)
    inc = engine.simulate_times(rng, off, opts)
    det = engine.simulate_incidents(rng, off, inc, opts)
    return off, inc, det


def test_beta_around_keeps_the_mean_and_has_the_beta_variance():
    """Beta(m c, (1 - m) c) has mean m and variance m (1 - m) / (c + 1): for m = 0.2 and c = 2,
    0.16 / 3 = 0.0533. Without a concentration the mean itself; a mean of 0 stays 0."""
    rng = np.random.default_rng(0)
    draws = engine._beta_around(rng, np.full(200_000, 0.2), 2.0)
    assert abs(draws.mean() - 0.2) < 0.003
    assert abs(draws.var() - 0.16 / 3) < 0.002
    assert np.array_equal(engine._beta_around(rng, np.array([0.2, 0.0]), None), [0.2, 0.0])
    assert np.array_equal(engine._beta_around(rng, np.array([0.0, 0.0]), 2.0), [0.0, 0.0])


def test_by_default_every_incident_not_away_is_at_home(sorted_scores):
    off, inc, det = _simulate(sorted_scores)
    io = inc["inc_off"]
    assert np.array_equal(det["area"], off["home"][io])
    # the away share is the same for everyone: DA_AWAY_SHARE of DA incidents (binomial SE about 0.004)
    assert abs(det["away"][inc["is_da"]].mean() - engine.DA_AWAY_SHARE) < 0.02


def test_incident_areas_vary_around_home_deprivation(sorted_scores, monkeypatch):
    """With INCIDENT_IMD_SIGMA = 0.5 each incident's area is the LSOA nearest a lognormal draw around the
    home area's score (then jittered by up to LSOA_JITTER places in the score order): the log ratio of
    the incident's score to home's is centred near 0 with an SD near 0.5 (less where the draw runs past
    the most or least deprived area), and most offenders with several incidents use several areas."""
    monkeypatch.setattr(engine, "INCIDENT_IMD_SIGMA", 0.5)
    off, inc, det = _simulate(sorted_scores)
    io = inc["inc_off"]
    home_score = sorted_scores[off["home"][io]]
    log_ratio = np.log(sorted_scores[det["area"]] / home_score)
    assert abs(np.median(log_ratio)) < 0.05
    assert 0.35 < log_ratio.std() < 0.6
    several = np.bincount(io) >= 3
    areas_per_offender = np.array([np.unique(det["area"][io == i]).size for i in np.flatnonzero(several)])
    assert (areas_per_offender >= 2).mean() > 0.9


def test_away_propensity_varies_between_offenders(sorted_scores, monkeypatch):
    """With AWAY_CONCENTRATION = 1 each offender's DA away share is a Beta(0.2, 0.8) draw: mean 0.2,
    variance 0.16 / 2 = 0.08, against none at all by default."""
    monkeypatch.setattr(engine, "AWAY_CONCENTRATION", 1.0)
    off, _, _ = _simulate(sorted_scores)
    assert abs(off["p_away"].mean() - engine.DA_AWAY_SHARE) < 0.02
    assert abs(off["p_away"].var() - 0.08) < 0.01


def test_other_profiles_offence_mix(sorted_scores, monkeypatch):
    """With OTHER_MIX_SHARE = 1 (no concentration: every DA crime) a profile's DA crimes come from every
    profile's mix with equal chance, so codes outside its own mix appear; with 0 they never do."""
    own = engine.DA_CRIME[engine.DA_MIX_NAMES[0]][0]
    serious = set(engine.DA_SERIOUS[0].tolist())

    def foreign_share():
        off, inc, det = _simulate(sorted_scores, seed=9)
        io = inc["inc_off"]
        crime = inc["is_da"] & ~det["nc"] & (engine.P_DA_MIX[off["prof"][io]] == 0)
        codes = det["main"][crime]
        codes = codes[~np.isin(codes, list(serious)) & (codes != engine.CI["8L"])]
        return np.isin(codes, own, invert=True).mean()

    assert foreign_share() == 0.0
    monkeypatch.setattr(engine, "OTHER_MIX_SHARE", 1.0)
    assert foreign_share() > 0.05


def test_incidents_recorded_as_a_window_of_days(sorted_scores, monkeypatch):
    """With RANGE_SHARE = 1 and RANGE_SIGMA = 0 every incident is a window of exactly RANGE_MEDIAN_DAYS (7)
    days ending when it was committed (profiles 21, 23, 24 and 27 keep their own long or multi-day
    incidents); by default no incident lasts a day or more outside those profiles."""
    special = np.isin(engine.P_CLUSTER, (21, 23, 24, 27))

    def durations():
        off, inc, det = _simulate(sorted_scores, n=2_000, seed=11)
        ordinary = ~special[off["prof"][inc["inc_off"]]]
        recorded = ordinary & (det["t_to"] >= 0)
        return (det["t_to"] - det["t_from"])[recorded], recorded.sum(), ordinary.sum()

    length, n_recorded, _ = durations()
    assert n_recorded > 0 and (length < engine.DAY).all()
    monkeypatch.setattr(engine, "RANGE_SHARE", 1.0)
    monkeypatch.setattr(engine, "RANGE_SIGMA", 0.0)
    length, n_recorded, n_ordinary = durations()
    assert n_recorded == n_ordinary
    assert (length == 7 * engine.DAY).all()
