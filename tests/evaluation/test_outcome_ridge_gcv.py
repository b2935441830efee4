"""The outcome models' ridge penalty chosen by generalised cross-validation (``fit_rate_ls_gcv``).

Hand-checked against the definition computed the long way (explicit residuals and hat matrix on the rows),
and on two worlds whose answer is known: a strong signal in a few covariates with many people (little
shrinkage) and noise in many covariates with few people (strong shrinkage)."""

from __future__ import annotations

import numpy as np

from ml.evaluation.matching import GCV_GRID, fit_rate_ls, fit_rate_ls_gcv


def _data(rng, n, p, signal):
    x = np.c_[np.ones(n), rng.normal(size=(n, p))]
    e = rng.uniform(30, 365, n)
    rate = np.maximum(0.01, 0.5 + signal * x[:, 1])
    y = rng.poisson(rate * e / 100).astype(float)
    w = rng.integers(1, 4, n).astype(float)
    return x, y, e, w


def _gcv_long_way(x, y, e, w, ridge):
    s = np.sqrt(w * e)
    z, r = x * s[:, None], (y / e) * s
    penalty = np.diag(np.r_[0.0, np.full(x.shape[1] - 1, ridge)] + 1e-8)
    hat = z @ np.linalg.solve(z.T @ z + penalty, z.T)
    resid = r - hat @ r
    n = len(y)
    return n * (resid @ resid) / (n - np.trace(hat)) ** 2


def test_the_chosen_penalty_minimises_gcv_computed_the_long_way_and_fits_as_the_fixed_ridge_does():
    x, y, e, w = _data(np.random.default_rng(1), 80, 12, 0.2)
    beta, ridge = fit_rate_ls_gcv(x, y, e, w)
    scale = np.mean(np.diag((x.T * (w * e)) @ x)[1:])
    scores = [_gcv_long_way(x, y, e, w, m * scale) for m in GCV_GRID]
    assert np.isclose(ridge, GCV_GRID[int(np.argmin(scores))] * scale)
    np.testing.assert_allclose(beta, fit_rate_ls(x, y, e, w, ridge=ridge), rtol=1e-8, atol=1e-12)


def test_a_strong_signal_with_many_people_is_hardly_shrunk_and_noise_with_few_is_shrunk_hard():
    rng = np.random.default_rng(2)
    x, y, e, w = _data(rng, 3000, 4, 0.3)
    scale = np.mean(np.diag((x.T * (w * e)) @ x)[1:])
    _, ridge = fit_rate_ls_gcv(x, y, e, w)
    assert ridge / scale <= 1e-2
    x, y, e, w = _data(rng, 60, 40, 0.0)
    scale = np.mean(np.diag((x.T * (w * e)) @ x)[1:])
    _, ridge = fit_rate_ls_gcv(x, y, e, w)
    assert ridge / scale >= 0.1
