"""Crossed and nested random effects in lmer: recovery of known variance components from
simulated data (REML variance estimates are unbiased, so the mean over replicates must sit
within sampling error of the truth), agreement of the gradient with finite differences, and
invariance to row order and thread count."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import glmmx as gx

REPLICATES = 60


def crossed(rng, n_subj=30, n_item=20, sd_s=1.0, sd_i=0.7, sigma=1.0):
    s, i = np.meshgrid(np.arange(n_subj), np.arange(n_item), indexing="ij")
    s, i = s.ravel(), i.ravel()
    keep = rng.random(s.size) < 0.8  # unbalanced: about 20% of the cells missing
    s, i = s[keep], i[keep]
    x = rng.normal(size=s.size)
    y = 2.0 + 0.5 * x + rng.normal(0, sd_s, n_subj)[s] + rng.normal(0, sd_i, n_item)[i] + rng.normal(0, sigma, s.size)
    return pl.DataFrame({"y": y, "x": x, "subj": s, "item": [f"i{k:02d}" for k in i]})


def nested(rng, n_school=25, per=4, size=6, sd_school=0.8, sd_class=0.5, sigma=1.0):
    school = np.repeat(np.arange(n_school), per * size)
    cls = np.repeat(np.arange(n_school * per), size) % per
    y = 1.0 + rng.normal(0, sd_school, n_school)[school] + rng.normal(0, sd_class, n_school * per)[school * per + cls] + rng.normal(0, sigma, school.size)
    return pl.DataFrame({"y": y, "school": school, "class": cls})


def recovered(estimates: np.ndarray, truth: np.ndarray):
    mean = estimates.mean(axis=0)
    se = estimates.std(axis=0, ddof=1) / np.sqrt(len(estimates))
    assert (np.abs(mean - truth) < 3.5 * se).all(), f"mean {mean} vs truth {truth} (se {se})"


def test_crossed_variance_components_are_recovered():
    rng = np.random.default_rng(2024)
    est = []
    for _ in range(REPLICATES):
        fit = gx.lmer("y ~ x + (1 | subj) + (1 | item)", data=crossed(rng))
        assert fit.converged, fit.message
        vc = fit.varcorr()
        est.append(vc["vcov"].to_list() + [fit.fixef()["x"]])
    recovered(np.array(est), np.array([1.0, 0.49, 1.0, 0.5]))


def test_nested_variance_components_are_recovered():
    rng = np.random.default_rng(7)
    est = []
    for _ in range(REPLICATES):
        fit = gx.lmer("y ~ 1 + (1 | school/class)", data=nested(rng))
        assert [t.name for t in fit.re.terms] == ["class:school", "school"]
        est.append(fit.varcorr()["vcov"].to_list())
    recovered(np.array(est), np.array([0.25, 0.64, 1.0]))


@pytest.mark.parametrize("reml", [True, False])
def test_gradient_matches_finite_differences(reml):
    from glmmx import _core
    from glmmx.design.build import build_design
    from glmmx.formula.reterms import random_terms

    rng = np.random.default_rng(3)
    data = crossed(rng).with_columns(g=pl.col("subj") % 7)
    design = build_design("y ~ x + (1 + x | subj) + (1 | item) + (1 | g)", data)
    re = random_terms(design.random)
    core = _core.LmmModel(design.response.to_numpy().astype(float), np.ones(design.n), design.X, *re.core_arguments())
    theta = np.array([0.8, 0.2, 0.5, 0.6, 0.3])
    f0, g0 = core.objective(list(theta), reml=reml)
    for k in range(len(theta)):
        h = 1e-6
        e = np.eye(len(theta))[k] * h
        num = (core.objective(list(theta + e), reml=reml)[0] - core.objective(list(theta - e), reml=reml)[0]) / (2 * h)
        assert num == pytest.approx(g0[k], rel=1e-5, abs=1e-6)


def test_row_order_level_labels_and_threads_do_not_change_the_fit():
    rng = np.random.default_rng(5)
    data = crossed(rng)
    ref = gx.lmer("y ~ x + (1 | subj) + (1 | item)", data=data)
    shuffled = data.sample(fraction=1.0, shuffle=True, seed=1).with_columns(item=pl.col("item").str.replace("i", "zz"))
    other = gx.lmer("y ~ x + (1 | subj) + (1 | item)", data=shuffled, threads=1)
    assert other.reml_criterion == pytest.approx(ref.reml_criterion, rel=1e-12)
    np.testing.assert_allclose(other.beta, ref.beta, rtol=1e-9)


def test_ranef_predict_and_simulate_are_consistent():
    rng = np.random.default_rng(9)
    data = crossed(rng)
    fit = gx.lmer("y ~ x + (1 | subj) + (1 | item)", data=data)
    re = fit.ranef()
    assert set(re["group"].unique()) == {"subj", "item"}
    assert re.height == 30 + 20 and (re["cond_sd"] > 0).all()
    np.testing.assert_allclose(fit.predict(data), fit.fitted(), rtol=1e-12)
    np.testing.assert_allclose(fit.fitted() + fit.residuals(), data["y"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(fit.predict(data, re=False), fit.X @ fit.beta, rtol=1e-12)
    unseen = data.head(3).with_columns(subj=pl.lit(999))
    np.testing.assert_allclose(fit.predict(unseen, allow_new_levels=True),
                               fit.predict(unseen.with_columns(subj=pl.lit(998)), allow_new_levels=True))
    sims = fit.simulate(200, seed=1)
    assert sims.shape == (data.height, 200)
    assert abs(sims.var(axis=0).mean() / (fit.varcorr()["vcov"].sum()) - 1) < 0.25


def test_plot_ranef_draws_a_caterpillar_plot():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(1)
    fit = gx.lmer("y ~ x + (1 | subj) + (1 | item)", data=crossed(rng))
    fig = fit.plot_ranef()
    assert len(fig.axes) == 2 and [a.get_title() for a in fig.axes] == ["subj: (Intercept)", "item: (Intercept)"]
    assert len(fit.plot_ranef(group="item").axes) == 1
    with pytest.raises(gx.ModelSpecError, match="nope"):
        fit.plot_ranef(group="nope")


def test_plot_ranef_without_matplotlib_says_how_to_install(monkeypatch):
    import builtins

    rng = np.random.default_rng(1)
    fit = gx.lmer("y ~ x + (1 | subj)", data=crossed(rng))
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        fit.plot_ranef()


def test_parallel_blocks_and_dense_kernels_give_bit_identical_fits():
    """Large enough for the selected inverse to run its blocks in parallel and for the dense
    factorisation to use several threads: the fit must not depend on the thread count."""
    rng = np.random.default_rng(8)
    n, n_subj, n_item = 24_000, 4_000, 400
    s, i = rng.integers(0, n_subj, n), rng.integers(0, n_item, n)
    y = rng.normal(0, 0.7, n_subj)[s] + rng.normal(0, 0.4, n_item)[i] + rng.normal(size=n)
    data = pl.DataFrame({"y": y, "s": s, "i": i})
    one = gx.lmer("y ~ 1 + (1 | s) + (1 | i)", data=data, threads=1)
    two = gx.lmer("y ~ 1 + (1 | s) + (1 | i)", data=data, threads=2)
    assert one.reml_criterion == two.reml_criterion and (one.theta == two.theta).all()
    assert (one.std_errors == two.std_errors).all()
