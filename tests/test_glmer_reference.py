"""glmer against lme4 1.1-31 (R 4.2.2): the shared reference fits, and tight-tolerance R runs.

lme4's default inner PIRLS stops at tolPwrss = 1e-7, so its Laplace deviance (and the
finite-difference Hessian behind its standard errors) is evaluated at a slightly inexact
conditional mode: for HR nAGQ 0/1, HR random slope and cbpp Laplace the shared reference
log-likelihoods sit 1.6e-4 to 2.8e-4 below the true Laplace optimum and cbpp's standard
errors are off by up to 1.3%. With tolPwrss = 1e-12 (same R and lme4; tests/reference, made
by tests/reference/lme4_tight.R) lme4 reproduces glmmx to 1e-8. Those fits are compared with
the tight runs to the issue's tolerances and with the shared reference on the
log-likelihood (never below lme4's) and the estimates.

lme4's log-likelihood for nAGQ > 1 leaves out the saturated binomial log-likelihood
(lme4 issue #161); glmmx reports the full log-likelihood for every nAGQ, so the comparison adds
that closed-form constant back.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_sig, reference

import glmmx as gx

LOGLIK_ATOL = 1e-4
FORMULA_HR = "HR_incr ~ Time + Drug + Time*Drug + ({re} | Patient)"
FORMULA_CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"

CASES = {
    # name: (data fixture, formula, nagq, tight counterpart or None)
    "HR_ri_nAGQ0": ("heart_rate", FORMULA_HR.format(re="1"), 0, "HR_ri_nAGQ0_tight"),
    "HR_ri_nAGQ1": ("heart_rate", FORMULA_HR.format(re="1"), 1, "HR_ri_nAGQ1_tight"),
    "HR_ri_nAGQ10": ("heart_rate", FORMULA_HR.format(re="1"), 10, None),
    "HR_ri_nAGQ20": ("heart_rate", FORMULA_HR.format(re="1"), 20, None),
    "HR_rs_laplace": ("heart_rate", FORMULA_HR.format(re="1 + Time"), 1, "HR_rs_laplace_tight"),
    "cbpp_laplace": ("cbpp", FORMULA_CBPP, 1, "cbpp_laplace_tight"),
    "cbpp_nAGQ25": ("cbpp", FORMULA_CBPP, 25, None),
}


def saturated_loglik(fit) -> float:
    """Σ log Binomial(y·m | m, y): what lme4 leaves out of logLik for nAGQ > 1."""
    from scipy.stats import binom

    k = np.round(fit.y * fit.prior_weights)
    return float(binom.logpmf(k, fit.prior_weights, fit.y).sum())


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    name = request.param
    data_name, formula, nagq, tight = CASES[name]
    data = request.getfixturevalue(data_name)
    fit = gx.glmer(formula, data=data, family="binomial", nagq=nagq)
    return name, fit, reference(name), reference(tight) if tight else None


def lme4_scale_loglik(fit, nagq: int) -> float:
    return fit.loglik - saturated_loglik(fit) if nagq > 1 else fit.loglik


def test_converged(case):
    name, fit, _, _ = case
    assert fit.converged, f"{name}: {fit.message}"
    assert fit.max_grad < 1e-3


def test_loglik(case):
    name, fit, ref, tight = case
    ours = lme4_scale_loglik(fit, CASES[name][2])
    if tight is None:
        assert abs(ours - ref["loglik"]) < LOGLIK_ATOL, (ours, ref["loglik"])
    else:
        # never below lme4's default fit, and equal to the exact (tight) lme4 optimum
        assert ours > ref["loglik"] - LOGLIK_ATOL, (ours, ref["loglik"])
        assert abs(ours - tight["loglik"]) < LOGLIK_ATOL, (ours, tight["loglik"])


def test_information_criteria(case):
    name, fit, ref, tight = case
    assert fit.nobs == ref["nobs"] and fit.df_resid == ref["df_resid"]
    assert fit.aic == pytest.approx(-2 * fit.loglik + 2 * fit.npar, rel=1e-14)
    assert fit.bic == pytest.approx(-2 * fit.loglik + fit.npar * np.log(fit.nobs), rel=1e-14)
    if tight is None:
        shift = 2.0 * (fit.loglik - lme4_scale_loglik(fit, CASES[name][2]))
        assert abs(fit.aic + shift - ref["aic"]) < 2 * LOGLIK_ATOL
        assert abs(fit.bic + shift - ref["bic"]) < 2 * LOGLIK_ATOL


NOT_CONVERGED_IN_LME4 = "lme4 stops short of the optimum on this fit (see test_better_than_lme4_on_its_own_objective)"


def test_fixed_effects(case):
    name, fit, ref, tight = case
    if not ref["converged_lme4"]:
        pytest.skip(NOT_CONVERGED_IN_LME4)
    assert list(fit.fixef()) == ref["fixef"]["terms"]
    est = np.array(list(fit.fixef().values()))
    assert_sig(est, ref["fixef"]["estimate"], 3, f"{name} estimates")
    se_ref = (tight or ref)["fixef"]["std_error"]
    assert_sig(fit.coef_table()["std_error"].to_numpy(), se_ref, 3, f"{name} standard errors")


def test_variance_components(case):
    name, fit, ref, tight = case
    vc = fit.varcorr()
    r = (tight or ref)["varcorr"]
    assert vc["var1"].to_list() == list(np.atleast_1d(r["var1"]))
    if not ref["converged_lme4"]:
        pytest.skip(NOT_CONVERGED_IN_LME4)
    assert_sig(vc["vcov"].to_numpy(), np.atleast_1d(r["vcov"]), 3, f"{name} variances")
    assert_sig(vc["sdcor"].to_numpy(), np.atleast_1d(r["sdcor"]), 3, f"{name} sd")


def test_deviance_is_lme4s(case):
    """R's deviance() of a glmer fit: the sum of squared deviance residuals at the modes."""
    name, fit, ref, tight = case
    assert_sig(fit.deviance, (tight or ref)["deviance"], 3, f"{name} deviance()")


def test_sequential_anova():
    import polars as pl

    from conftest import dataset

    hr = dataset("HR").with_columns(HR_incr=(pl.col("HR") > pl.col("baseHR")).cast(pl.Int64))
    fit = gx.glmer(FORMULA_HR.format(re="1"), data=hr, nagq=20)
    ref = reference("HR_ri_nAGQ20")["anova_seq"]
    tab = fit.anova()
    assert tab["term"].to_list() == ref["term"] and tab["npar"].to_list() == ref["npar"]
    for ours, theirs in (("sum_sq", "sum_sq"), ("mean_sq", "mean_sq"), ("f_value", "F")):
        assert_sig(tab[ours].to_numpy(), ref[theirs], 3, ours)


def test_better_than_lme4_on_its_own_objective(heart_rate):
    """HR random slope: lme4 stops with max|grad| = 0.014 (0.007 with a tight PIRLS). glmmx
    converges on the boundary (correlation -1), and lme4's own deviance function, evaluated
    at glmmx's estimates (tests/reference/lme4_devfun_at_glmmx.R), confirms the higher
    log-likelihood."""
    ref = reference("HR_rs_laplace")
    assert ref["converged_lme4"] is False
    fit = gx.glmer(FORMULA_HR.format(re="1 + Time"), data=heart_rate)
    at = reference("HR_rs_laplace_devfun")
    assert fit.converged and fit.is_singular
    assert np.allclose(fit.theta, at["theta"], rtol=1e-6, atol=1e-6)
    assert np.allclose(fit.beta, at["beta"], rtol=1e-6, atol=1e-6)
    assert abs(fit.loglik - at["loglik_at_glmmx"]) < 1e-6
    assert fit.loglik > ref["loglik"] and fit.loglik > reference("HR_rs_laplace_tight")["loglik"]
    assert fit.varcorr()["sdcor"][2] == pytest.approx(-1.0, abs=1e-9)
