"""Invariances and identities a correct GLMM fit must satisfy."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from simulate import clustered

import glmmx as gx

FORMULA = "y ~ x + z + (1 | g)"


def test_nagq_one_is_laplace_and_quadrature_converges():
    data = clustered(seed=11)
    lap = gx.glmer(FORMULA, data=data, nagq=1)
    q1 = lap._core.deviance(lap.theta, lap.beta, n_agq=1, gradient=False)[0]
    assert q1 == -2 * lap.loglik or abs(q1 + 2 * lap.loglik) < 1e-9
    q25 = gx.glmer(FORMULA, data=data, nagq=25).loglik
    q40 = gx.glmer(FORMULA, data=data, nagq=40).loglik
    assert abs(q25 - q40) < 1e-6
    assert abs(lap.loglik - q40) > 1e-5


def test_row_order_does_not_matter():
    data = clustered(seed=12)
    shuffled = data.sample(fraction=1.0, shuffle=True, seed=4)
    a = gx.glmer(FORMULA, data=data, nagq=5)
    b = gx.glmer(FORMULA, data=shuffled, nagq=5)
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-8)
    assert a.loglik == pytest.approx(b.loglik, abs=1e-9)


def test_level_relabelling_does_not_matter():
    data = clustered(seed=13)
    relabelled = data.with_columns(pl.col("g").str.replace("c", "z_"))
    a = gx.glmer(FORMULA, data=data)
    b = gx.glmer(FORMULA, data=relabelled)
    assert a.loglik == pytest.approx(b.loglik, abs=1e-9)
    np.testing.assert_allclose(np.sort(a.ranef()["mode"].to_numpy()), np.sort(b.ranef()["mode"].to_numpy()), atol=1e-7)


def test_results_do_not_depend_on_threads():
    data = clustered(n_clusters=3000, seed=14)
    a = gx.glmer(FORMULA, data=data, nagq=10, threads=1)
    b = gx.glmer(FORMULA, data=data, nagq=10, threads=2)
    assert a.loglik == b.loglik
    assert np.array_equal(a.beta, b.beta) and np.array_equal(a.theta, b.theta)


def test_group_weights_equal_the_expanded_data():
    """An aggregated table (one row-group per cluster pattern, with a count) gives the same fit
    as the data expanded with one cluster per copy."""
    rng = np.random.default_rng(2)
    patterns = []
    for pid in range(30):
        sex = pid % 2
        ys = rng.integers(0, 2, 3)
        for wave in range(3):
            patterns.append({"pattern": pid, "sex": sex, "wave": wave, "y": int(ys[wave]), "count": int(rng.integers(1, 6))})
    agg = pl.DataFrame(patterns).with_columns(pl.col("count").first().over("pattern"))
    long = gx.uncount(agg, "count", id="pattern")
    assert long.height == int(agg.group_by("pattern").agg(pl.col("count").first() * pl.len())["count"].sum())
    f_agg = "y ~ sex + wave + (1 | pattern)"
    a = gx.glmer(f_agg, data=agg, group_weights="count", nagq=8)
    b = gx.glmer("y ~ sex + wave + (1 | id_expanded)", data=long, nagq=8)
    assert a.loglik == pytest.approx(b.loglik, abs=1e-7)
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(a.std_errors, b.std_errors, rtol=1e-5)
    assert a.nobs == b.nobs and a.ngroups == b.ngroups and a.bic == pytest.approx(b.bic, abs=1e-6)


def test_binomial_response_forms_agree():
    data = clustered(seed=15, trials=4)
    counts = gx.glmer("cbind(y, n - y) ~ x + (1 | g)", data=data)
    props = gx.glmer("p ~ x + (1 | g)", data=data.with_columns(p=pl.col("y") / pl.col("n")), weights="n")
    assert counts.loglik == pytest.approx(props.loglik, abs=1e-9)
    np.testing.assert_allclose(counts.beta, props.beta, rtol=1e-9)
    binary = clustered(seed=16)
    as01 = gx.glmer("y ~ x + (1 | g)", data=binary)
    as_bool = gx.glmer("y ~ x + (1 | g)", data=binary.with_columns(pl.col("y").cast(pl.Boolean)))
    as_factor = gx.glmer("y ~ x + (1 | g)", data=binary.with_columns(pl.when(pl.col("y") == 1).then(pl.lit("yes")).otherwise(pl.lit("no")).alias("y")))
    for other in (as_bool, as_factor):
        assert other.loglik == pytest.approx(as01.loglik, abs=1e-10)


def test_loglik_includes_the_binomial_coefficients():
    """log L of a cbind() fit = the 0/1 expansion's log L + Σ log choose(n, y)."""
    from scipy.special import gammaln

    data = clustered(seed=17, trials=3)
    fit = gx.glmer("cbind(y, n - y) ~ x + (1 | g)", data=data)
    y, n = data["y"].to_numpy(), data["n"].to_numpy()
    const = float((gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1)).sum())
    rows = []
    for r in data.iter_rows(named=True):
        rows += [dict(r, yy=1)] * r["y"] + [dict(r, yy=0)] * (r["n"] - r["y"])
    expanded = gx.glmer("yy ~ x + (1 | g)", data=pl.DataFrame(rows))
    assert fit.loglik == pytest.approx(expanded.loglik + const, abs=1e-7)


@pytest.mark.parametrize("family,link", [("binomial", "probit"), ("binomial", "cloglog"), ("poisson", "log")])
def test_other_families_converge_and_recover_the_parameters(family, link):
    data = clustered(n_clusters=400, family=family, link=link, seed=18)
    fit = gx.glmer("y ~ x + z + (1 | g)", data=data, family=family, link=link)
    assert fit.converged
    # true values: intercept -0.4, x 0.8, z 0.3, sd 0.9; 400 clusters put them within 4 SE
    z = (fit.beta - np.array([-0.4, 0.8, 0.3])) / fit.std_errors
    assert np.all(np.abs(z) < 4), z


def test_vector_random_effects_by_quadrature():
    data = clustered(n_clusters=150, slope_sd=0.6, seed=19)
    lap = gx.glmer("y ~ x + z + (1 + x | g)", data=data, nagq=1)
    q7 = gx.glmer("y ~ x + z + (1 + x | g)", data=data, nagq=7)
    q11 = gx.glmer("y ~ x + z + (1 + x | g)", data=data, nagq=11)
    assert q7.converged and q11.converged
    assert abs(q7.loglik - q11.loglik) < 1e-3
    uncorrelated = gx.glmer("y ~ x + z + (1 + x || g)", data=data, nagq=5)
    assert uncorrelated.varcorr()["group"].to_list() == ["g", "g.1"] and len(uncorrelated.theta) == 2


def test_nested_factor_as_one_grouping_factor():
    data = clustered(n_clusters=60, seed=20).with_columns(school=pl.col("g").str.slice(0, 3), cls=pl.col("g").str.slice(3))
    fit = gx.glmer("y ~ x + (1 | school:cls)", data=data)
    ref = gx.glmer("y ~ x + (1 | g)", data=data)
    assert fit.loglik == pytest.approx(ref.loglik, abs=1e-9)
    assert fit.re.group == "school:cls"


def test_prediction_fitted_residuals_and_simulation():
    data = clustered(seed=21)
    fit = gx.glmer(FORMULA, data=data)
    np.testing.assert_allclose(fit.predict(), fit.fitted())
    np.testing.assert_allclose(fit.predict(data), fit.fitted(), rtol=1e-12)
    new = data.head(5).with_columns(g=pl.lit("never-seen"))
    np.testing.assert_allclose(fit.predict(new, type="link", allow_new_levels=True), fit.predict(data.head(5), type="link", re=False))
    with pytest.raises(gx.ModelSpecError, match="'never-seen' of g not in the fit"):
        fit.predict(new)
    r = fit.residuals("response")
    np.testing.assert_allclose(r, fit.y - fit.fitted())
    pearson = fit.residuals("pearson")
    np.testing.assert_allclose(pearson, r / np.sqrt(fit.fitted() * (1 - fit.fitted())))
    dev = fit.residuals("deviance")
    assert np.sum(dev**2) == pytest.approx(fit.deviance)
    sims = fit.simulate(nsim=200, seed=1)
    assert sims.shape == (fit.nobs, 200) and set(np.unique(sims)) <= {0.0, 1.0}
    np.testing.assert_array_equal(sims, fit.simulate(nsim=200, seed=1))
    # simulated marginal mean ≈ observed mean
    assert abs(sims.mean() - fit.y.mean()) < 0.05


def test_ranef_table_and_conditional_sd():
    data = clustered(seed=22)
    fit = gx.glmer(FORMULA, data=data)
    re = fit.ranef()
    assert re.columns == ["group", "level", "term", "mode", "cond_sd"]
    assert re.height == fit.ngroups
    assert (re["cond_sd"] > 0).all() and (re["cond_sd"] < np.sqrt(fit.varcorr()["vcov"][0])).all()


def test_a_start_on_the_boundary_still_reaches_an_interior_optimum():
    """At θ = 0 the deviance's gradient in θ vanishes by symmetry; a search started there
    (e.g. a warm start from a singular fit) must not stay."""
    data = clustered(seed=23)
    free = gx.glmer(FORMULA, data=data)
    stuck = gx.glmer(FORMULA, data=data, start={"theta": [0.0], "fixef": list(free.beta)})
    assert free.theta[0] > 0.3
    assert stuck.converged and stuck.loglik == pytest.approx(free.loglik, abs=1e-7)


def test_three_dimensional_random_effects_by_quadrature():
    """(1 + x + z | g) with nAGQ = 5: a 5³ = 125-node product rule per cluster; the fit
    converges, its gradient is exact, and more nodes change the log-likelihood little."""
    rng = np.random.default_rng(24)
    data = clustered(n_clusters=120, size=(6, 10), slope_sd=0.5, seed=24)
    fit5 = gx.glmer("y ~ x + z + (1 + x + z | g)", data=data, nagq=5)
    assert fit5.converged and len(fit5.theta) == 6 and fit5.re.d == 3
    theta = np.abs(fit5.theta) + 0.1
    beta = fit5.beta + 0.05
    analytic = fit5._core.deviance(theta, beta, n_agq=5, gradient=True)[1]
    x = np.concatenate([theta, beta])
    numeric = np.empty_like(x)
    for k in range(len(x)):
        h = 1e-6 * max(1.0, abs(x[k]))
        xp, xm = x.copy(), x.copy()
        xp[k] += h
        xm[k] -= h
        numeric[k] = (fit5._core.deviance(xp[:6], xp[6:], n_agq=5, gradient=False)[0] - fit5._core.deviance(xm[:6], xm[6:], n_agq=5, gradient=False)[0]) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(numeric).max()))
    fit7 = gx.glmer("y ~ x + z + (1 + x + z | g)", data=data, nagq=7)
    assert abs(fit7.loglik - fit5.loglik) < 0.05
