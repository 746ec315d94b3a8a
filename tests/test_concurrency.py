"""One fit used from several Python threads at once (issue #14): simulate, bootstrap and
predict on the same fit concurrently raise nothing and give the tables a sequential run gives."""

from __future__ import annotations

import concurrent.futures as cf

import numpy as np
import polars as pl
import pytest
from simulate import clustered

import glmmx as gx


def _crossed():
    rng = np.random.default_rng(3)
    a, b = np.repeat(np.arange(20), 12), np.tile(np.arange(12), 20)
    eta = -0.3 + 0.6 * rng.normal(size=20)[a] + 0.5 * rng.normal(size=12)[b]
    return pl.DataFrame({"y": rng.binomial(1, 1 / (1 + np.exp(-eta))), "a": a, "b": b})


def _lmer_data():
    rng = np.random.default_rng(8)
    g = np.repeat(np.arange(30), 6)
    x = rng.normal(size=g.size)
    return pl.DataFrame({"y": 1 + 0.5 * x + rng.normal(size=30)[g] + rng.normal(size=g.size), "x": x, "g": g})


def _ordinal_data():
    rng = np.random.default_rng(9)
    g = np.repeat(np.arange(40), 5)
    x = rng.normal(size=g.size)
    latent = 0.8 * x + rng.normal(size=40)[g] + rng.logistic(size=g.size)
    return pl.DataFrame({"y": np.digitize(latent, [-1.0, 0.0, 1.0]) + 1, "x": x, "g": g})


FITS = {
    "glmer": lambda: gx.glmer("y ~ x + z + (1 | g)", data=clustered(n_clusters=30, seed=2), nagq=5),
    "glmer_crossed": lambda: gx.glmer("y ~ 1 + (1 | a) + (1 | b)", data=_crossed()),
    "lmer": lambda: gx.lmer("y ~ x + (1 | g)", data=_lmer_data()),
    "npmlt": lambda: gx.npmlt("y ~ x", data=_ordinal_data(), random="~1", id="g", k=2),
}


@pytest.mark.parametrize("kind", sorted(FITS))
def test_two_threads_bootstrapping_one_fit_give_the_sequential_tables(kind):
    fit = FITS[kind]()
    seeds = [1, 2, 3, 4]
    sequential = [fit.bootstrap(nsim=8, seed=s, threads=1, progress=False).table for s in seeds]
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        concurrent = list(pool.map(lambda s: fit.bootstrap(nsim=8, seed=s, threads=1, progress=False).table, seeds))
    for a, b in zip(sequential, concurrent):
        assert a.equals(b)


def test_simulate_and_predict_while_another_thread_bootstraps():
    fit = FITS["glmer"]()
    sims = fit.simulate(nsim=5, seed=11)
    fitted = fit.predict()
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        boot = pool.submit(fit.bootstrap, nsim=40, seed=1, threads=1, progress=False)
        for _ in range(20):
            np.testing.assert_array_equal(fit.simulate(nsim=5, seed=11), sims)
            np.testing.assert_array_equal(np.asarray(fit.predict()), np.asarray(fitted))
        assert boot.result().table.height > 0
