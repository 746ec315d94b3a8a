"""The analytic gradient of the Laplace / AGQ deviance against central differences, for each
family and link, nAGQ 1, 5 and 20, scalar and vector random effects; and a zero gradient at
the optimum (as MixedModels.jl checks)."""

from __future__ import annotations

import numpy as np
import pytest
from simulate import clustered

import glmmx as gx

FAMILY_LINKS = [("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"), ("poisson", "log")]


def central_gradient(core, theta, beta, nagq):
    x = np.concatenate([theta, beta])
    nt = len(theta)
    grad = np.empty_like(x)
    for k in range(len(x)):
        h = 1e-6 * max(1.0, abs(x[k]))
        xp, xm = x.copy(), x.copy()
        xp[k] += h
        xm[k] -= h
        fp = core.deviance(xp[:nt], xp[nt:], n_agq=nagq, gradient=False)[0]
        fm = core.deviance(xm[:nt], xm[nt:], n_agq=nagq, gradient=False)[0]
        grad[k] = (fp - fm) / (2 * h)
    return grad


@pytest.mark.parametrize("family,link", FAMILY_LINKS)
@pytest.mark.parametrize("re", ["1", "1 + x"])
@pytest.mark.parametrize("nagq", [1, 5, 20])
def test_gradient_matches_central_differences(family, link, re, nagq):
    data = clustered(n_clusters=25, family=family, link=link, slope_sd=0.4 if re != "1" else 0.0, seed=3, trials=3 if family == "binomial" else 1)
    formula = f"{'cbind(y, n - y)' if family == 'binomial' else 'y'} ~ x + z + ({re} | g)"
    fit = gx.glmer(formula, data=data, family=family, link=link, nagq=1)
    rng = np.random.default_rng(7)
    theta = fit.theta + rng.uniform(0.05, 0.3, fit.theta.shape)
    beta = fit.beta + rng.normal(0, 0.1, fit.beta.shape)
    analytic = fit._core.deviance(theta, beta, n_agq=nagq, gradient=True)[1]
    numeric = central_gradient(fit._core, theta, beta, nagq)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(numeric).max()))


@pytest.mark.parametrize("nagq", [0, 1, 7])
def test_gradient_vanishes_at_the_optimum(nagq):
    data = clustered(n_clusters=60, seed=5)
    fit = gx.glmer("y ~ x + z + (1 | g)", data=data, nagq=nagq)
    assert fit.converged
    x = np.concatenate([fit.theta, fit.beta])
    if nagq == 0:
        dev, grad_theta, _ = fit._core.deviance_nagq0(fit.theta, fit.beta)
        assert np.abs(grad_theta).max() < 1e-5
        return
    numeric = central_gradient(fit._core, x[: len(fit.theta)], x[len(fit.theta):], nagq)
    assert np.abs(numeric).max() < 1e-4
