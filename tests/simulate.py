"""Simulated clustered data with known parameters, for tests."""

from __future__ import annotations

import numpy as np


def clustered(n_clusters=40, size=(3, 8), family="binomial", link="logit", slope_sd=0.0, seed=1, trials=1):
    """A polars DataFrame with columns y, x, z, g (and n = trials for binomial counts)."""
    import polars as pl

    rng = np.random.default_rng(seed)
    sizes = rng.integers(size[0], size[1] + 1, n_clusters)
    g = np.repeat(np.arange(n_clusters), sizes)
    n = len(g)
    x = rng.uniform(-1, 1, n)
    z = rng.normal(size=n)
    b0 = rng.normal(0, 0.9, n_clusters)[g]
    b1 = rng.normal(0, slope_sd, n_clusters)[g] if slope_sd else 0.0
    eta = -0.4 + 0.8 * x + 0.3 * z + b0 + b1 * x
    if family == "binomial":
        mu = {"logit": lambda e: 1 / (1 + np.exp(-e)), "probit": None, "cloglog": lambda e: -np.expm1(-np.exp(e))}.get(link)
        if mu is None:
            from scipy.special import ndtr

            mu = ndtr
        y = rng.binomial(trials, mu(eta))
    else:
        y = rng.poisson(np.exp(eta))
    return pl.DataFrame({"y": y, "x": x, "z": z, "g": [f"c{k:03d}" for k in g], "n": np.full(n, trials)})
