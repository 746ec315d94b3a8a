"""Bad input to lmer gets a clear Python exception naming the column, term or argument;
missing values are dropped and counted; non-convergence is reported, not hidden."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import glmmx as gx
from glmmx.exceptions import ConvergenceWarning, ModelSpecError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(20), 6)
    h = np.tile(np.arange(6), 20)
    x = rng.normal(size=g.size)
    y = 1 + 0.5 * x + rng.normal(0, 0.8, 20)[g] + rng.normal(0, 0.5, 6)[h] + rng.normal(0, 1, g.size)
    return pl.DataFrame({"y": y, "x": x, "g": [f"g{k:02d}" for k in g], "h": [f"h{k}" for k in h], "obs": np.arange(g.size),
                         "w": rng.uniform(0.5, 2, g.size), "f": rng.choice(["a", "b"], g.size)})


def bad(data, formula, match, **kw):
    with pytest.raises(ModelSpecError, match=match):
        gx.lmer(formula, data=data, **kw)


@pytest.mark.parametrize(
    "formula,kw,match",
    [
        # lme4: "number of levels of each grouping factor must be < number of observations"
        ("y ~ x + (1 | obs)", {}, r"number of levels of each grouping factor must be < number of observations \(problems: obs\).*unidentifiable"),
        ("y ~ x + (1 | g) + (1 | obs)", {}, r"problems: obs"),
        ("y ~ x + (1 + zz | g)", {}, "zz"),
        ("y ~ xx + (1 | g)", {}, "xx"),
        ("y ~ x + (1 | gg)", {}, "gg"),
        ("y ~ x + (1 | g/g)", {}, "g is nested in itself"),
        ("y ~ x + (1 | h/g/h)", {}, "h is nested in itself"),
        ("y ~ x", {}, "random-effects term"),
        ("f ~ x + (1 | g)", {}, "response f must be numeric"),
        ("y ~ x + (1 | g)", {"reml": "yes"}, "reml"),
        ("y ~ x + (1 | g)", {"start": {"theta": [1.0, 2.0]}}, "theta"),
        ("y ~ x + (1 | g)", {"threads": 0}, "threads"),
        ("y ~ x + (1 | g)", {"weights": "nope"}, "nope"),
        ("y ~ x + (1 + x + I(x^2) + I(x^3) + I(x^4) + I(x^5) | g)", {}, r"number of observations \(=120\) <= number of random effects \(=120\)"),
    ],
)
def test_bad_input_raises_a_clear_error(data, formula, kw, match):
    bad(data, formula, match, **kw)


def test_negative_and_zero_weights(data):
    bad(data.with_columns(w=-pl.col("w")), "y ~ x + (1 | g)", "weights must be non-negative", weights="w")
    # lme4 returns an infinite REML criterion for a zero weight; glmmx says what to do
    zero = data.with_columns(w=pl.when(pl.col("obs") == 3).then(0.0).otherwise(pl.col("w")))
    bad(zero, "y ~ x + (1 | g)", "weights must be positive for lmer.*drop those rows", weights="w")


def test_grouping_factor_with_one_level(data):
    bad(data.with_columns(g=pl.lit("only")), "y ~ x + (1 | g)", "g has only one level")


def test_infinite_response(data):
    bad(data.with_columns(y=pl.when(pl.col("obs") == 5).then(float("inf")).otherwise(pl.col("y"))), "y ~ x + (1 | g)", "y")


def test_missing_values_are_dropped_counted_and_reported(data):
    holes = data.with_columns(x=pl.when(pl.col("obs") % 13 == 0).then(None).otherwise(pl.col("x")))
    fit = gx.lmer("y ~ x + (1 | g)", data=holes)
    same = gx.lmer("y ~ x + (1 | g)", data=holes.drop_nulls("x"))
    assert fit.n_dropped == 10 and fit.nobs == 110
    assert fit.reml_criterion == pytest.approx(same.reml_criterion, abs=1e-9)
    assert "10 rows with missing values dropped" in fit.summary()


def test_non_convergence_is_reported(data):
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = gx.lmer("y ~ x + (1 | g) + (1 | h)", data=data, max_iter=1)
    assert not fit.converged and "failed to converge" in fit.summary()
    assert fit.max_grad > 0


def test_pandas_and_lazyframe_inputs(data):
    ref = gx.lmer("y ~ x + (1 | g)", data=data)
    assert gx.lmer("y ~ x + (1 | g)", data=data.to_pandas()).reml_criterion == pytest.approx(ref.reml_criterion, abs=1e-10)
    assert gx.lmer("y ~ x + (1 | g)", data=data.lazy()).reml_criterion == pytest.approx(ref.reml_criterion, abs=1e-10)


def test_degenerate_responses_raise_not_crash(data):
    bad(data.with_columns(y=pl.lit(2.0)), "y ~ x + (1 | g)", "response y is constant")
    # fitted exactly by the fixed effects: the residual sum of squares is 0
    with pytest.raises(gx.ConvergenceError, match="residual sum of squares"):
        gx.lmer("y ~ x + (1 | g)", data=data.with_columns(y=2 * pl.col("x")))


def test_singular_fit_is_reported_as_lme4_does(data):
    # no subject effect at all: the variance of g goes to the boundary
    rng = np.random.default_rng(2)
    flat = data.with_columns(y=pl.Series(1 + 0.5 * data["x"].to_numpy() + rng.normal(0, 1, data.height)))
    with pytest.warns(gx.FitWarning, match="singular"):
        fit = gx.lmer("y ~ x + (1 | g)", data=flat)
    assert fit.is_singular and fit.theta[0] < 1e-4 and fit.converged
    assert "boundary (singular) fit" in fit.summary()


def test_offset_is_subtracted_from_the_response(data):
    with_offset = gx.lmer("y ~ x + offset(2 * x) + (1 | g)", data=data)
    shifted = gx.lmer("y2 ~ x + (1 | g)", data=data.with_columns(y2=pl.col("y") - 2 * pl.col("x")))
    assert with_offset.reml_criterion == pytest.approx(shifted.reml_criterion, rel=1e-12)
    np.testing.assert_allclose(with_offset.fitted(), shifted.fitted() + 2 * data["x"].to_numpy(), rtol=1e-10)


def test_too_large_a_crossed_design_is_refused_not_crashed():
    # two crossed factors of 9000 levels each would need a 9000 x 9000 dense block
    rng = np.random.default_rng(0)
    n = 20_000
    df = pl.DataFrame({"y": rng.normal(size=n), "a": rng.integers(0, 9_500, n), "b": rng.integers(0, 9_000, n)})
    with pytest.raises(ModelSpecError, match="dense block of .* columns.*up to 8000"):
        gx.lmer("y ~ 1 + (1 | a) + (1 | b)", data=df)


def test_a_model_without_fixed_effects_matches_lme4():
    """`0 + (1 | g)`: no fixed-effects columns at all (lmer, and crossed glmer)."""
    from conftest import dataset

    sleep = dataset("sleepstudy")
    fit = gx.lmer("Reaction ~ 0 + (1 | Subject)", data=sleep)
    # R 4.2.2, lme4 1.1-31: m <- lmer(Reaction ~ 0 + (1|Subject), data = sleepstudy)
    # REMLcrit(m) = 1985.6796909430, getME(m, "theta") = 6.7896872649, sigma(m) = 44.2590690373
    assert fit.reml_criterion == pytest.approx(1985.6796909430, rel=1e-9)
    assert fit.theta[0] == pytest.approx(6.7896872649, rel=1e-6)
    assert fit.sigma == pytest.approx(44.2590690373, rel=1e-6)
    assert len(fit.fitted()) == sleep.height and len(fit.fixef()) == 0
    rng = np.random.default_rng(1)
    g, h = rng.integers(0, 20, 300), rng.integers(0, 10, 300)
    crossed = gx.glmer("y ~ 0 + (1 | g) + (1 | h)", data=pl.DataFrame({"y": rng.integers(0, 2, 300), "g": g, "h": h}))
    assert crossed.converged and len(crossed.fitted()) == 300
