"""The failure cases of mixcat::npmlt (spec §7–§8), each handled correctly by glmmx."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glmmx as gx
from glmmx.exceptions import ConvergenceWarning

pl = pytest.importorskip("polars")

FORMULA = "y ~ trt*sqrt(wk)"


@pytest.fixture(scope="module")
def schizo():
    return gx.datasets.load("schizo")


def quiet_fit(data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gx.npmlt(kw.pop("formula", FORMULA), data, id="id", **kw)


def same_fit(a, b, tol=1e-8):
    assert a.m2loglik == pytest.approx(b.m2loglik, abs=tol)
    np.testing.assert_allclose(a.coefficients, b.coefficients, atol=1e-6)
    order_a, order_b = np.argsort(a.mass_points[:, 0]), np.argsort(b.mass_points[:, 0])
    np.testing.assert_allclose(a.mass_points[order_a], b.mass_points[order_b], atol=1e-6)
    np.testing.assert_allclose(a.masses[order_a], b.masses[order_b], atol=1e-6)


def test_k1_fits_instead_of_aborting(schizo):
    """mixcat's default k = 1 aborts R (GSL, SIGABRT); here it is the cumulative-logit model."""
    f = quiet_fit(schizo, k=1)
    assert f.converged and f.m2loglik == pytest.approx(3756.1938, abs=1e-3)
    assert "mass point" not in f.summary()


@pytest.mark.parametrize("column", ["y", "wk"])
def test_missing_values_are_dropped_and_counted(schizo, column):
    """mixcat misaligns the design when rows are dropped (3843.3 instead of 3449.0)."""
    rows = [5, 200, 901]
    with_na = schizo.with_columns(
        pl.when(pl.int_range(pl.len()).is_in(rows)).then(None).otherwise(pl.col(column)).alias(column)
    )
    f = quiet_fit(with_na, k=2)
    g = quiet_fit(schizo.filter(~pl.int_range(pl.len()).is_in(rows)), k=2)
    assert f.n_dropped == 3 and g.n_dropped == 0
    assert f.n_obs == len(schizo) - 3
    same_fit(f, g, tol=1e-9)


def test_rows_in_any_order_give_the_same_fit(schizo):
    """mixcat silently mis-groups non-contiguous clusters (3756.06 instead of 3452.70)."""
    shuffled = schizo.sample(fraction=1.0, shuffle=True, seed=3)
    f, g = quiet_fit(schizo, k=2), quiet_fit(shuffled, k=2)
    assert g.m2loglik == pytest.approx(3452.7001, abs=1e-3)
    same_fit(f, g)
    np.testing.assert_allclose(f.ranef().sort("id").to_numpy(), g.ranef().sort("id").to_numpy(), atol=1e-8)


def test_k5_random_intercept_stays_in_the_simplex(schizo):
    """mixcat's masses leave the simplex and the fit ends in NaN; the K = 5 maximum equals K = 4."""
    f = quiet_fit(schizo, k=5)
    assert np.isfinite(f.m2loglik) and f.m2loglik == pytest.approx(3382.8998, abs=1e-3)
    assert np.all(f.masses >= 0) and f.masses.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.isfinite(f.mass_points))
    # the extra point is redundant: it merges with another or carries no mass, and says so
    assert any("coincide" in w or "no mass" in w for w in f.warnings), f.warnings


def test_baseline_logit_with_shared_slopes_does_not_diverge(schizo):
    """mixcat: Inf after 1 iteration, NaN after 2 (spec §8.9)."""
    f = quiet_fit(schizo, k=2, link="blogit")
    assert f.converged and np.isfinite(f.m2loglik)
    assert f.m2loglik < 3756.19  # better than no random effect at all


def test_large_clusters_do_not_underflow(schizo):
    """mixcat multiplies probabilities: 2 clusters of ~800 rows give NaN after 1 iteration."""
    two = schizo.with_columns(id=(pl.int_range(pl.len()) >= 800).cast(pl.Int64))
    f = quiet_fit(two, k=2)
    assert np.isfinite(f.m2loglik) and f.m2loglik < 3756.1938 + 1e-6


def test_loglik_never_decreases(schizo):
    """Every accepted step satisfies the Armijo condition: −2 log L after n iterations is
    non-increasing in n."""
    values = [quiet_fit(schizo, k=3, max_iter=n).m2loglik for n in range(1, 25, 2)]
    assert all(b <= a + 1e-9 for a, b in zip(values, values[1:])), values


def test_iteration_limit_is_not_called_converged(schizo):
    with pytest.warns(ConvergenceWarning):
        f = gx.npmlt(FORMULA, schizo, id="id", k=3, max_iter=2)
    assert not f.converged and "iteration limit" in f.message
    assert "Converged : no" in f.summary()


def test_ridge_is_reported_not_passed_off(schizo):
    """Random slope on a cluster-level covariate, K = 3: a point runs to infinity (spec §8.5)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = gx.npmlt(FORMULA, schizo, random="~1 + trt", id="id", k=3)
    assert any("infinity" in str(w.message) for w in caught)
    assert f.ridge_points == (int(np.argmin(f.mass_points[:, 0])),)
    assert f.m2loglik <= 3385.3252
    assert not f.converged
    assert "infinity" in f.summary()
    assert np.all(np.isnan(f.se_mass_points))


def test_select_k_on_schizo(schizo):
    tab = gx.select_k(FORMULA, schizo, id="id", k=range(1, 7))
    assert tab.columns[:5] == ["k", "m2loglik", "aic", "bic", "converged"]
    m2 = tab["m2loglik"].to_list()
    assert all(b <= a + 1e-6 for a, b in zip(m2, m2[1:]))
    assert m2[0] == pytest.approx(3756.1938, abs=1e-3)
    assert m2[1] == pytest.approx(3452.7001, abs=1e-3)
    assert m2[2] == pytest.approx(3389.3630, abs=1e-3)
    assert m2[3] == pytest.approx(3382.8998, abs=1e-3)
    # the sequence stops once a point no longer improves the likelihood
    assert tab.height <= 6
    assert tab["aic"].arg_min() in (2, 3)


def test_thread_count_does_not_change_the_fit(schizo):
    f, g = quiet_fit(schizo, k=3, threads=1), quiet_fit(schizo, k=3, threads=2)
    assert f.m2loglik == g.m2loglik
    np.testing.assert_array_equal(f.coefficients, g.coefficients)
