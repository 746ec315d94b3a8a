"""Property-based tests (issue #14), bounded in time: the formula parser on any text and on
formulas drawn from lme4's grammar, and small random fits.

- Any text either parses or raises ModelSpecError: nothing else escapes the parser.
- A formula drawn from the grammar parses; spacing does not change it; R's expansion rules
  hold (``a*b`` = ``a + b + a:b``, a term minus itself is gone, ``(a + b)^2`` = ``a*b``).
- A small random data set either fits, with a finite log-likelihood and θ ≥ 0 on the diagonal,
  or raises a glmmx exception; the fit does not depend on the row order.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import glmmx as gx  # noqa: E402
from glmmx.exceptions import ConvergenceError, ModelSpecError, NumericalError  # noqa: E402
from glmmx.formula import parse_formula  # noqa: E402

BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FITS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ALPHABET = "abcxyzG0123456789 ~+-*/:^|()., _'\"\\=<>!&%$#@[]{}`\n\tIe"


@BOUNDED
@given(st.text(alphabet=ALPHABET, max_size=60))
def test_any_text_parses_or_is_refused_as_a_model_error(text):
    try:
        parse_formula(text)
    except ModelSpecError:
        pass


VARS = st.sampled_from(["a", "b", "c", "x1", "x2"])


def _term(depth: int):
    leaf = st.one_of(VARS, VARS.map(lambda v: f"I({v}^2)"), VARS.map(lambda v: f"log({v})"))
    if depth == 0:
        return leaf
    sub = _term(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(sub, sub).map(lambda t: f"{t[0]}:{t[1]}"),
        st.tuples(sub, sub).map(lambda t: f"{t[0]}*{t[1]}"),
        st.tuples(sub, sub).map(lambda t: f"({t[0]} + {t[1]})"),
    )


FIXED = st.lists(_term(2), min_size=1, max_size=4).map(" + ".join)
RANDOM = st.tuples(st.sampled_from(["1", "1 + x1", "0 + x2", "x1"]), st.sampled_from(["g", "h", "g:h"])).map(
    lambda t: f"({t[0]} | {t[1]})")
FORMULAS = st.tuples(FIXED, st.lists(RANDOM, min_size=0, max_size=2)).map(
    lambda t: "y ~ " + " + ".join([t[0], *t[1]]))


def _shape(f):
    return f.fixed.term_labels, f.fixed.intercept, tuple(r.label for r in f.random)


@BOUNDED
@given(FORMULAS, st.integers(0, 3))
def test_a_grammatical_formula_parses_and_spacing_does_not_matter(text, spaces):
    f = parse_formula(text)
    squeezed = text.replace(" ", "")
    padded = text.replace("+", " " * spaces + "+" + " " * spaces)
    assert _shape(parse_formula(squeezed)) == _shape(f)
    assert _shape(parse_formula(padded)) == _shape(f)


@BOUNDED
@given(VARS, VARS)
def test_r_expansion_rules(a, b):
    if a == b:
        return
    star = parse_formula(f"y ~ {a}*{b}").fixed.term_labels
    assert star == parse_formula(f"y ~ {a} + {b} + {a}:{b}").fixed.term_labels
    assert parse_formula(f"y ~ ({a} + {b})^2").fixed.term_labels == star
    assert parse_formula(f"y ~ {a}*{b} - {a}:{b}").fixed.term_labels == (a, b)


@st.composite
def small_data(draw):
    n_groups = draw(st.integers(3, 12))
    sizes = draw(st.lists(st.integers(1, 6), min_size=n_groups, max_size=n_groups))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), sizes)
    x = rng.normal(size=g.size) * draw(st.sampled_from([1e-3, 1.0, 1e3]))
    sd = draw(st.sampled_from([0.0, 0.5, 3.0]))
    eta = 0.3 + 0.8 * x / (np.abs(x).max() + 1e-300) + sd * rng.normal(size=n_groups)[g]
    return pl.DataFrame({"y": (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(np.int64),
                         "z": eta + rng.normal(size=g.size), "x": x, "g": g})


def _fit(model, d):
    if model == "lmer":
        return gx.lmer("z ~ x + (1 | g)", d)
    return gx.glmer("y ~ x + (1 | g)", d, family="binomial", nagq={"laplace": 1, "agq": 7}[model])


@FITS
@given(small_data(), st.sampled_from(["lmer", "laplace", "agq"]))
def test_a_small_random_fit_is_finite_or_refused(d, model):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = _fit(model, d)
        except (ModelSpecError, NumericalError, ConvergenceError):
            return
        assert np.isfinite(fit.loglik)
        assert np.all(np.asarray(fit.theta) >= 0)
        assert isinstance(fit.converged, bool)
        shuffled = d.sample(fraction=1.0, shuffle=True, seed=1)
        again = _fit(model, shuffled)
    assert again.loglik == pytest.approx(fit.loglik, rel=1e-7, abs=1e-7)
