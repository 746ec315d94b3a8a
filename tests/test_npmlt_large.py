"""npmlt on a large study: where ℓ sums 100,000 observations its rounding (~1e-9) hides the last
increases a Newton step promises; the fit must still be reported converged at its maximum, not
as "not converged" (which also sent it through twelve restarts to the same optimum)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np

import glmmx as gx
from glmmx.exceptions import ConvergenceWarning, FitWarning


def four_point_study():
    """benches/bench_npmlt.py's simulated study: Q = 4 cumulative logit, a 4-point random
    intercept, two covariates, 100,000 rows in 20,000 clusters."""
    spec = importlib.util.spec_from_file_location("bench_npmlt", Path(__file__).resolve().parents[1] / "benches" / "bench_npmlt.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.simulated()


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
