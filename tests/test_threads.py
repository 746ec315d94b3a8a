"""Thread modes (issue #18): the default, one thread and two threads give the same numbers, bit
for bit, on fits large enough to run their evaluations in parallel sections — also while another
process keeps a core busy, when the governor runs some sections on one thread and others on two."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import polars as pl
import pytest

import glmmx as gx


def _binary(n: int, seed: int = 5) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n // 10), 10)
    x = rng.normal(size=n)
    eta = -0.4 + 0.7 * x + rng.normal(size=n // 10)[g]
    return pl.DataFrame({"y": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int64), "x": x, "g": g,
                         "h": rng.integers(0, 30, n)})


def _ordinal(n: int, seed: int = 6) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n // 5), 5)
    x = rng.normal(size=n)
    latent = 0.8 * x + rng.choice([-1.5, 0.0, 1.5], size=n // 5)[g] + rng.logistic(size=n)
    return pl.DataFrame({"y": np.digitize(latent, [-1.0, 0.0, 1.0]) + 1, "x": x, "g": g})


# each large enough that its evaluations are spread over threads (past the parallel work bound)
FITS = {
    "glmer_laplace": lambda d, k: gx.glmer("y ~ x + (1 | g)", d["binary"], family="binomial", threads=k),
    "glmer_nagq10": lambda d, k: gx.glmer("y ~ x + (1 | g)", d["small"], family="binomial", nagq=10, threads=k),
    "glmer_crossed": lambda d, k: gx.glmer("y ~ x + (1 | g) + (1 | h)", d["binary"], family="binomial", threads=k),
    "npmlt": lambda d, k: gx.npmlt("y ~ x", d["ordinal"], random="~1", id="g", k=3, threads=k),
}


@pytest.fixture(scope="module")
def data():
    return {"binary": _binary(60_000), "small": _binary(6_000), "ordinal": _ordinal(20_000)}


def _numbers(fit) -> list[float]:
    table = fit.coef_table()
    return [float(fit.loglik), *table[table.columns[1]].to_list(), *np.ravel(getattr(fit, "theta", [])).tolist()]


@pytest.mark.parametrize("name", sorted(FITS))
def test_the_default_one_and_two_threads_give_the_same_numbers(data, name):
    fit = FITS[name]
    one = _numbers(fit(data, 1))
    assert _numbers(fit(data, None)) == one
    assert _numbers(fit(data, 2)) == one


def test_the_same_numbers_while_another_process_keeps_a_core_busy(data):
    one = {name: _numbers(fit(data, 1)) for name, fit in FITS.items()}
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        for name, fit in FITS.items():
            assert _numbers(fit(data, 2)) == one[name], name
            assert _numbers(fit(data, None)) == one[name], name
    finally:
        spinner.kill()
        spinner.wait()
