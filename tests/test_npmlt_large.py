"""npmlt on a large study: where ℓ sums 100,000 observations its rounding (~1e-9) hides the last
increases a Newton step promises; the fit must still be reported converged at its maximum, not
as "not converged" (which also sent it through twelve restarts to the same optimum)."""

from __future__ import annotations

import warnings

import numpy as np

import glmmx as gx
from glmmx.exceptions import ConvergenceWarning, FitWarning


def four_point_study(n_clusters=20_000, per=5, seed=7):
    """Q = 4 cumulative logit, a 4-point random intercept, two covariates (benches/bench_npmlt.py's study)."""
    import polars as pl

    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(n_clusters), per)
    x = rng.normal(size=ids.size)
    g = (ids % 2).astype(float)
    support, mass = np.array([-2.5, -0.5, 1.0, 3.0]), np.array([0.2, 0.35, 0.3, 0.15])
    b = (support - mass @ support)[rng.choice(4, size=n_clusters, p=mass)][ids]
    eta = np.array([-1.5, 0.0, 1.5])[None, :] - (0.8 * x + 0.5 * g + b)[:, None]
    y = 1 + (rng.uniform(size=ids.size)[:, None] > 1 / (1 + np.exp(-eta))).sum(axis=1)
    return pl.DataFrame({"id": ids, "y": y, "x": x, "g": g})


def test_a_maximum_within_the_rounding_of_a_large_likelihood_is_converged():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("error", FitWarning)
        fit = gx.npmlt("y ~ x + g", four_point_study(), random="~1", id="id", k=4)
    assert fit.converged and fit.message == "converged"
    assert fit.max_grad < 1e-6
    assert fit.warnings == ()
    # the estimates recover the simulation (β = -0.8, -0.5 in mixcat's sign; masses 0.2/0.35/0.3/0.15)
    assert np.allclose(fit.beta, [-0.8, -0.5], atol=0.05)
    assert np.allclose(np.sort(fit.masses), np.sort([0.2, 0.35, 0.3, 0.15]), atol=0.03)
