"""Simulation studies and bootstrap (issue #3): refits in parallel, identical for any thread
count and through an executor, failures as rows, and percentile intervals that cover."""

from __future__ import annotations

import concurrent.futures as cf

import numpy as np
import polars as pl
import pytest
from simulate import clustered

import glmmx as gx

FORMULA = "y ~ x + z + (1 | g)"


@pytest.fixture(scope="module")
def fit():
    return gx.glmer(FORMULA, data=clustered(n_clusters=40, seed=41), nagq=5)


def test_simulate_shape_and_reproducibility(fit):
    a = fit.simulate(nsim=50, seed=7)
    assert a.shape == (fit.nobs, 50) and set(np.unique(a)) <= {0.0, 1.0}
    np.testing.assert_array_equal(a, fit.simulate(nsim=50, seed=7))
    assert not np.array_equal(a, fit.simulate(nsim=50, seed=8))


def test_bootstrap_is_bit_identical_for_one_and_two_threads(fit):
    one = fit.bootstrap(nsim=60, seed=3, threads=1, progress=False).table
    two = fit.bootstrap(nsim=60, seed=3, threads=2, progress=False).table
    assert one.equals(two)


def test_refit_many_of_simulate_is_the_bootstrap(fit):
    boot = fit.bootstrap(nsim=20, seed=5, progress=False).table
    again = fit.refit_many(fit.simulate(nsim=20, seed=5), progress=False)
    assert boot.equals(again)


def test_a_failed_replicate_is_a_row_and_the_others_are_intact(fit):
    sims = fit.simulate(nsim=6, seed=9)
    sims[:, 2] = 0.0  # no successes at all: the intercept runs off to minus infinity
    table = fit.refit_many(sims, progress=False)
    per_sim = table.group_by("sim", maintain_order=True).agg(pl.col("converged").first(), pl.col("message").first())
    assert per_sim["converged"].to_list() == [True, True, False, True, True, True]
    assert per_sim["message"][2] != ""
    alone = fit.refit_many(np.delete(sims, 2, axis=1), progress=False)
    kept = table.filter(pl.col("sim") != 2)["estimate"].to_numpy()
    np.testing.assert_array_equal(kept, alone["estimate"].to_numpy())


def test_table_layout_and_names(fit):
    table = fit.refit_many(fit.simulate(nsim=3, seed=1), progress=False)
    assert table.columns == ["sim", "term", "estimate", "std_error", "loglik", "converged", "separated", "message"]
    assert table["term"].to_list()[:4] == ["(Intercept)", "x", "z", "sd_(Intercept)|g"]
    assert table.filter(pl.col("term") == "sd_(Intercept)|g")["std_error"].null_count() == 3


def test_bad_arguments(fit):
    with pytest.raises(gx.ModelSpecError, match="rows"):
        fit.refit_many(np.zeros((3, 2)))
    with pytest.raises(gx.ModelSpecError, match="nsim"):
        fit.bootstrap(nsim=0)
    with pytest.raises(gx.ModelSpecError, match="level"):
        fit.bootstrap(nsim=5, seed=1, progress=False).confint(level=1.5)


def test_process_pool_executor_gives_the_local_table(fit):
    local = fit.bootstrap(nsim=24, seed=11, progress=False).table
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        remote = fit.bootstrap(nsim=24, seed=11, progress=False, executor=pool, chunk_size=5).table
    assert local.equals(remote)


def test_dask_local_cluster_gives_the_local_table(fit):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is an optional extra")
    local = fit.bootstrap(nsim=30, seed=12, progress=False).table
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            remote = fit.bootstrap(nsim=30, seed=12, progress=False, executor=client, chunk_size=7).table
            sims = fit.simulate(nsim=9, seed=2)
            remote_refit = fit.refit_many(sims, progress=False, executor=client, chunk_size=4)
    assert local.equals(remote)
    assert remote_refit.equals(fit.refit_many(sims, progress=False))


def test_percentile_intervals_cover_at_the_nominal_rate():
    """120 data sets from a known logistic random-intercept model; for each, a 90% percentile
    bootstrap interval (150 replicates) for the slope of x. Coverage must be within the
    binomial sampling error of 0.90 (SE 0.027 with 120 data sets: accept 0.80 to 0.98)."""
    true_slope = 0.8
    covered = []
    for rep in range(120):
        data = clustered(n_clusters=50, size=(4, 8), seed=1000 + rep)
        fit = gx.glmer(FORMULA, data=data)
        ci = fit.bootstrap(nsim=150, seed=rep, progress=False).confint(level=0.90)
        row = ci.filter(pl.col("term") == "x")
        covered.append(row["lower"][0] <= true_slope <= row["upper"][0])
    coverage = np.mean(covered)
    assert 0.80 <= coverage <= 0.98, coverage


def test_fit_many_list_and_by_column():
    frames = [clustered(n_clusters=30, seed=50 + k) for k in range(4)]
    res = gx.fit_many(FORMULA, frames, model="glmer", progress=False)
    assert res["sim"].unique().sort().to_list() == [0, 1, 2, 3]
    single = gx.glmer(FORMULA, data=frames[2])
    np.testing.assert_allclose(res.filter(pl.col("sim") == 2)["estimate"].to_numpy(), single.beta, rtol=1e-10)
    stacked = pl.concat([f.with_columns(rep=pl.lit(k)) for k, f in enumerate(frames)])
    by = gx.fit_many(FORMULA, stacked, by="rep", progress=False)
    assert by["estimate"].to_list() == res["estimate"].to_list()


def test_progress_bar_runs(fit, capsys):
    fit.bootstrap(nsim=10, seed=1, progress=True)


@pytest.fixture(scope="module")
def npmlt_fit():
    from conftest import dataset

    schizo = dataset("schizo")
    return gx.npmlt("y ~ trt*sqrt(wk)", data=schizo, random="~1", id="id", k=2)


def test_npmlt_bootstrap_is_identical_for_any_thread_count_and_equals_refits(npmlt_fit):
    one = npmlt_fit.bootstrap(nsim=16, seed=4, threads=1, progress=False).table
    two = npmlt_fit.bootstrap(nsim=16, seed=4, threads=2, progress=False).table
    assert one.equals(two)
    again = npmlt_fit.refit_many(npmlt_fit.simulate(16, seed=4), progress=False)
    assert one.equals(again)
    assert one["term"].unique().to_list() != [] and "var_(Intercept)" in one["term"].to_list()


def test_npmlt_simulated_categories_follow_the_fitted_model(npmlt_fit):
    sims = npmlt_fit.simulate(400, seed=1)
    assert set(np.unique(sims)) <= {1.0, 2.0, 3.0, 4.0}
    # the marginal category frequencies of the simulations match the model's marginal
    # predicted probabilities averaged over rows (predict(type="prob", re="marginal"))
    p = npmlt_fit.predict(type="prob", re="marginal")
    expected = p.mean().to_numpy().ravel()
    observed = np.array([(sims == c).mean() for c in (1, 2, 3, 4)])
    np.testing.assert_allclose(observed, expected, atol=0.01)


def test_lmer_bootstrap_is_identical_for_any_thread_count_and_equals_refits():
    from conftest import dataset

    hr = dataset("HR")
    fit = gx.lmer("HR ~ Time + Drug + Time*Drug + (1 + Time | Patient)", data=hr)
    one = fit.bootstrap(nsim=30, seed=6, threads=1, progress=False).table
    two = fit.bootstrap(nsim=30, seed=6, threads=2, progress=False).table
    assert one.equals(two)
    assert one.equals(fit.refit_many(fit.simulate(30, seed=6), progress=False))
    assert {"sd_(Intercept)|Patient", "cor_Time.(Intercept)|Patient", "sigma"} <= set(one["term"].to_list())


def test_lmer_simulations_have_the_fitted_moments():
    """The residual and random-intercept variances of lmer simulations match the fit's."""
    from conftest import dataset

    hr = dataset("HR")
    fit = gx.lmer("HR ~ Time + Drug + (1 | Patient)", data=hr)
    sims = fit.simulate(4000, seed=2)
    assert abs(sims.mean() - fit.fitted().mean()) < 0.5
    # total variance of a row: sigma^2 + tau^2 (random intercept only)
    tau2 = float(fit.varcorr()["vcov"][0])
    total = (sims - sims.mean(axis=1, keepdims=True)).var()
    assert abs(np.var(sims, axis=1).mean() / (fit.sigma**2 + tau2) - 1) < 0.05, total


def test_crossed_glmer_bootstrap_is_identical_for_any_thread_count_and_equals_refits():
    rng = np.random.default_rng(3)
    a, b = np.repeat(np.arange(25), 16), np.tile(np.arange(16), 25)
    eta = -0.3 + 0.6 * rng.normal(size=25)[a] + 0.5 * rng.normal(size=16)[b]
    df = pl.DataFrame({"y": rng.binomial(1, 1 / (1 + np.exp(-eta))), "a": a, "b": b})
    fit = gx.glmer("y ~ 1 + (1 | a) + (1 | b)", data=df)
    one = fit.bootstrap(nsim=20, seed=1, threads=1, progress=False).table
    two = fit.bootstrap(nsim=20, seed=1, threads=2, progress=False).table
    assert one.equals(two)
    assert one.equals(fit.refit_many(fit.simulate(20, seed=1), progress=False))


def test_executor_payloads_of_lmer_crossed_glmer_and_npmlt_give_the_local_tables(npmlt_fit):
    """On a worker each fit's replicates are rebuilt from the payload (its own core object is
    used locally): the tables must agree."""
    from conftest import dataset

    sleep = dataset("sleepstudy")
    rng = np.random.default_rng(5)
    a, b = np.repeat(np.arange(20), 12), np.tile(np.arange(12), 20)
    eta = 0.2 + 0.6 * rng.normal(size=20)[a] + 0.5 * rng.normal(size=12)[b]
    crossed = pl.DataFrame({"y": rng.binomial(1, 1 / (1 + np.exp(-eta))), "a": a, "b": b})
    fits = [gx.lmer("Reaction ~ Days + (Days | Subject)", data=sleep), gx.glmer("y ~ 1 + (1 | a) + (1 | b)", data=crossed), npmlt_fit]
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        for fit in fits:
            local = fit.bootstrap(nsim=6, seed=3, progress=False).table
            remote = fit.bootstrap(nsim=6, seed=3, progress=False, executor=pool, chunk_size=2).table
            assert local.equals(remote), type(fit).__name__
