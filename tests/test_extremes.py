"""Arguments at their extremes (issue #14): every integer argument of every entry point, at 0,
−1, far past any sane size, past 64 bits and of the wrong type, gives a glmmx exception that
names the argument (or a MemoryError saying the size asked) — never a panic, an abort of the
process, an OverflowError from the binding, or minutes of work."""

from __future__ import annotations

import numpy as np
import pytest
from simulate import clustered

import glmmx as gx
from glmmx import _core, checks
from glmmx.exceptions import ModelSpecError


@pytest.fixture(scope="module")
def data():
    return clustered(n_clusters=20, seed=4)


@pytest.fixture(scope="module")
def ordinal():
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(30), 4)
    x = rng.normal(size=g.size)
    y = np.digitize(x + rng.normal(size=30)[g] + rng.logistic(size=g.size), [-1.0, 0.5]) + 1
    import polars as pl

    return pl.DataFrame({"y": y, "x": x, "g": g})


@pytest.fixture(scope="module")
def fits(data, ordinal):
    return {
        "glmer": gx.glmer("y ~ x + (1 | g)", data, family="binomial"),
        "lmer": gx.lmer("y ~ x + (1 | g)", data),
        "npmlt": gx.npmlt("y ~ x", ordinal, random="~1", id="g", k=2),
    }


HUGE = [-1, 0, 10**9, 2**64, 2**200, 1.5, True, "3"]
CALLS = {
    "glmer nagq": (lambda d, o, v: gx.glmer("y ~ x + (1 | g)", d, family="binomial", nagq=v), [-1, 101, 10**9, 2**64, 1.5, True, "3"]),
    "glmer max_iter": (lambda d, o, v: gx.glmer("y ~ x + (1 | g)", d, family="binomial", max_iter=v), HUGE[:2] + HUGE[3:]),
    "glmer threads": (lambda d, o, v: gx.glmer("y ~ x + (1 | g)", d, family="binomial", threads=v), HUGE),
    "lmer max_iter": (lambda d, o, v: gx.lmer("x ~ z + (1 | g)", d, max_iter=v), HUGE[:2] + HUGE[3:]),
    "lmer threads": (lambda d, o, v: gx.lmer("x ~ z + (1 | g)", d, threads=v), HUGE),
    "npmlt k": (lambda d, o, v: gx.npmlt("y ~ x", o, random="~1", id="g", k=v), HUGE),
    "npmlt nagq": (lambda d, o, v: gx.npmlt("y ~ x", o, random="~1", id="g", random_dist="normal", nagq=v), [0, 2, 101, 10**6, 2**64, 1.5]),
    "npmlt threads": (lambda d, o, v: gx.npmlt("y ~ x", o, random="~1", id="g", k=2, threads=v), HUGE),
}
CASES = [(name, v) for name, (_, values) in CALLS.items() for v in values]


def _is_ours(err: BaseException) -> bool:
    return isinstance(err, (ModelSpecError, MemoryError)) and not isinstance(err, OverflowError)


@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{n}={v!r}"[:40] for n, v in CASES])
def test_a_model_argument_at_its_extreme_is_refused_by_name(data, ordinal, name, value):
    call, _ = CALLS[name]
    with pytest.raises(Exception) as err:  # noqa: PT011 -- the kind is asserted below
        call(data, ordinal, value)
    assert _is_ours(err.value), f"{type(err.value).__name__}: {err.value}"
    argument = name.split()[1]
    assert argument in str(err.value) or isinstance(err.value, MemoryError), str(err.value)


METHODS = {
    "simulate nsim": (lambda f, v: f.simulate(nsim=v), [-1, 0, 10**9, 2**64, 1.5]),
    "simulate seed": (lambda f, v: f.simulate(nsim=1, seed=v), [-1, 2**64, 1.5]),
    "bootstrap nsim": (lambda f, v: f.bootstrap(nsim=v, progress=False), [-1, 0, 10**9, 2**64]),
    "bootstrap threads": (lambda f, v: f.bootstrap(nsim=2, threads=v, progress=False), [-1, 0, 10**6, 2**64]),
    "refit_many threads": (lambda f, v: f.refit_many(f.simulate(nsim=2, seed=1), threads=v, progress=False), [-1, 0, 10**6]),
}
METHOD_CASES = [(kind, name, v) for kind in ("glmer", "lmer", "npmlt") for name, (_, values) in METHODS.items() for v in values]


@pytest.mark.parametrize(("kind", "name", "value"), METHOD_CASES, ids=[f"{k} {n}={v!r}" for k, n, v in METHOD_CASES])
def test_a_batch_argument_at_its_extreme_is_refused_by_name(fits, kind, name, value):
    call, _ = METHODS[name]
    with pytest.raises(Exception) as err:  # noqa: PT011
        call(fits[kind], value)
    assert _is_ours(err.value), f"{type(err.value).__name__}: {err.value}"
    if isinstance(err.value, MemoryError):
        assert "needs" in str(err.value) and "available" in str(err.value)
    else:
        assert name.split()[1] in str(err.value), str(err.value)


def test_the_python_bounds_are_the_cores():
    assert checks.MAX_NAGQ == _core.MAX_NAGQ
    assert checks.MAX_NODES == _core.MAX_RULE_NODES


def test_the_core_refuses_a_rule_past_its_bounds_itself(fits):
    """Called directly (past the Python checks), the core still refuses, naming nagq."""
    core = fits["glmer"]._core if hasattr(fits["glmer"], "_core") else None
    if core is None:
        pytest.skip("the glmer result keeps no core")
    with pytest.raises(ModelSpecError, match="nagq"):
        core.fit(n_agq=10**6, max_iter=10, theta0=None, beta0=None, threads=1)


def test_a_quadrature_too_costly_to_run_is_refused_or_warned():
    with pytest.raises(ModelSpecError, match=r"6,250,000 quadrature nodes per cluster"):
        checks.quadrature(50, 4, 1_000)
    with pytest.warns(gx.FitWarning, match="node-rows per likelihood evaluation"):
        checks.quadrature(20, 3, 100_000)
    assert checks.quadrature(20, 1, 10**6) == 20
