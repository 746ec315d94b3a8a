"""npmlt against R: mixcat 1.0-4 (tests/reference/*.json and the spec's tables, §10) and
ordinal::clm for k = 1. Mass points are compared up to relabelling (sorted by intercept)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glmmx as gx
from conftest import reference
from npmlt_spec_values import BOUNDS, CLM, CLM_NOMINAL_M2LOGLIK, CONVERGED, FORMULA

pl = pytest.importorskip("polars")


# tolerances, declared once per quantity
M2LOGLIK_ATOL = 1e-3
EST_RTOL, EST_ATOL = 1e-3, 5e-4  # "3 significant figures"
SE_RTOL = 2e-3


@pytest.fixture(scope="module")
def schizo():
    df = gx.datasets.load("schizo")
    return df.with_columns(yb=pl.when(pl.col("y") >= 3).then(1).otherwise(2))


def fit(schizo, kwargs, **extra):
    kwargs = dict(kwargs)
    formula = FORMULA.replace("y ~", "yb ~") if kwargs.pop("binary", False) else FORMULA
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gx.npmlt(formula, schizo, id="id", **kwargs, **extra)


def relabel(points: np.ndarray) -> np.ndarray:
    """Order of the points by their intercept coordinate."""
    return np.argsort(points[:, 0])


def close(actual, expected, rtol, atol=0.0):
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", ["schizo_np_k2", "schizo_npo_k2"])
def test_mixcat_json_reference(schizo, name):
    ref = reference(name)
    npo = "~trt + sqrt(wk)" if "formula.npo" in ref["call"] else None
    f = fit(schizo, dict(random="~1 + trt", k=2, npo=npo))
    assert f.converged
    assert abs(f.m2loglik - ref["m2loglik"]) < M2LOGLIK_ATOL
    tab = f.coef_table()
    assert tab["term"].to_list() == ref["coefficients"]["terms"]
    close(tab["estimate"], ref["coefficients"]["estimate"], EST_RTOL, EST_ATOL)
    close(tab["std_error"], ref["coefficients"]["std_error"], SE_RTOL)
    mine, theirs = relabel(f.mass_points), relabel(np.array(ref["mass_points"]))
    close(f.mass_points[mine], np.array(ref["mass_points"])[theirs], EST_RTOL, EST_ATOL)
    close(f.se_mass_points[mine], np.array(ref["se_mass_points"])[theirs], SE_RTOL)
    close(f.masses[mine], np.array(ref["masses"])[theirs], EST_RTOL, EST_ATOL)
    close(f.se_masses[mine], np.array(ref["se_masses"])[theirs], SE_RTOL)
    close(f.re_vcov(), ref["re_vcov"], EST_RTOL, EST_ATOL)
    close(f.se_re_var, ref["re_var_se"], SE_RTOL)
    assert f.re_corr()[0, 1] == pytest.approx(-1.0, abs=1e-8)  # K = 2: rank Σ = 1


@pytest.mark.parametrize("name", sorted(CONVERGED))
def test_spec_tables(schizo, name):
    kwargs, _call, m2ll, coef, points, masses, (var, var_se) = CONVERGED[name]
    f = fit(schizo, kwargs)
    assert f.converged, f.message
    assert abs(f.m2loglik - m2ll) < M2LOGLIK_ATOL
    tab = {r["term"]: r for r in f.coef_table().iter_rows(named=True)}
    assert list(tab) == list(coef)
    close([tab[n]["estimate"] for n in coef], [v[0] for v in coef.values()], EST_RTOL, EST_ATOL)
    close([tab[n]["std_error"] for n in coef], [v[1] for v in coef.values()], SE_RTOL, 1e-5)
    pts = np.array([p for p, _ in points])
    mine, theirs = relabel(f.mass_points), relabel(pts)
    close(f.mass_points[mine], pts[theirs], EST_RTOL, EST_ATOL)
    close(f.se_mass_points[mine], np.array([s for _, s in points])[theirs], SE_RTOL, 1e-5)
    close(f.masses[mine], np.array([m for m, _ in masses])[theirs], EST_RTOL, EST_ATOL)
    close(f.se_masses[mine], np.array([s for _, s in masses])[theirs], SE_RTOL, 1e-5)
    close(f.re_vcov()[0, 0], var, EST_RTOL, EST_ATOL)
    close(f.se_re_var[0], var_se, SE_RTOL, 1e-5)


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_at_least_as_good_as_mixcat_where_it_stopped_short(schizo, name):
    kwargs, mixcat, best_known, ridge = BOUNDS[name]
    f = fit(schizo, kwargs)
    assert np.isfinite(f.m2loglik)
    if mixcat is not None:
        assert f.m2loglik <= mixcat + 1e-4
    if best_known is not None:
        # a plain (non-ridge) maximum or a ridge supremum that the spec's optimiser reached
        assert f.m2loglik <= best_known + 1e-3
    assert np.all(f.masses >= 0) and abs(f.masses.sum() - 1) < 1e-12
    if ridge:
        assert f.ridge_points and not f.converged
        assert any("infinity" in w for w in f.warnings)
        assert np.all(np.isnan(f.coef_table()["std_error"].to_numpy()))
    elif ridge is False:
        assert f.converged and not f.ridge_points


def test_k1_is_the_cumulative_logit_of_clm(schizo):
    """k = 1 (mixcat aborts R) equals ordinal::clm(factor(y) ~ trt*sqrt(wk)) with slopes negated."""
    f = fit(schizo, dict(k=1), se="hessian")
    assert f.converged
    assert abs(f.m2loglik - CLM["m2loglik"]) < M2LOGLIK_ATOL
    tab = {r["term"]: r for r in f.coef_table().iter_rows(named=True)}
    for name, (est, se) in CLM["coef"].items():
        sign = 1.0 if name.startswith("(Intercept)") else -1.0
        assert tab[name]["estimate"] == pytest.approx(sign * est, abs=2e-5)
        assert tab[name]["std_error"] == pytest.approx(se, rel=1e-4)
    assert f.mass_points.shape == (1, 1) and f.masses.tolist() == [1.0]


def test_k1_npo_is_clm_nominal(schizo):
    f = fit(schizo, dict(k=1, npo="~trt + sqrt(wk)"))
    assert abs(f.m2loglik - CLM_NOMINAL_M2LOGLIK) < M2LOGLIK_ATOL


def test_opg_and_hessian_standard_errors_differ_as_the_spec_reports(schizo):
    """Spec §4: schizo K = 2 random intercept, OPG 0.135 / Hessian 0.167 for point 1."""
    opg = fit(schizo, dict(k=2))
    hes = fit(schizo, dict(k=2), se="hessian")
    assert opg.m2loglik == pytest.approx(hes.m2loglik, abs=1e-9)
    i = relabel(opg.mass_points)[0]
    assert opg.se_mass_points[i, 0] == pytest.approx(0.135, abs=5e-4)
    assert hes.se_mass_points[i, 0] == pytest.approx(0.167, abs=5e-4)
    assert hes.se_masses[i] == pytest.approx(0.0369, abs=5e-5)
    assert hes.coef_table().filter(pl.col("term") == "trt:sqrt(wk)")["std_error"][0] == pytest.approx(0.145, abs=5e-4)


def test_normal_random_intercept_matches_clmm(schizo):
    """clmm(factor(y) ~ trt*sqrt(wk) + (1|id), nAGQ = 10) (spec §10.4); slopes negated."""
    from npmlt_spec_values import CLMM_AGQ10 as ref

    f = fit(schizo, dict(random="~1", random_dist="normal", nagq=10), se="hessian")
    assert f.converged
    assert abs(f.m2loglik - ref["m2loglik"]) < M2LOGLIK_ATOL
    assert f.re_vcov()[0, 0] == pytest.approx(ref["re_var"], rel=1e-4)
    tab = {r["term"]: r for r in f.coef_table().iter_rows(named=True)}
    for name, (est, se) in ref["coef"].items():
        sign = 1.0 if name.startswith("(Intercept)") else -1.0
        assert tab[name]["estimate"] == pytest.approx(sign * est, abs=2e-4)
        assert tab[name]["std_error"] == pytest.approx(se, rel=1e-3)
    assert f.mass_points is None and f.ranef().shape == (437, 2)
    # NPML with K >= 3 beats the normal distribution by likelihood (spec §10.4)
    assert fit(schizo, dict(random="~1", k=3)).m2loglik < f.m2loglik - 10


def test_normal_two_dimensional_random_effect(schizo):
    f = fit(schizo, dict(random="~1 + sqrt(wk)", random_dist="normal", nagq=5))
    assert f.converged and np.isfinite(f.m2loglik)
    v = f.re_vcov()
    assert v.shape == (2, 2) and np.all(np.linalg.eigvalsh(v) > 0)
    # a random slope can only help over the random intercept
    assert f.m2loglik < 3402.758
