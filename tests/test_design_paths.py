"""The fast paths of the design layer agree with the plain ones they stand in for.

``build_design`` takes shortcuts that must not change a number: Series operators instead of a
polars ``select``, a Gram-matrix test before the column-by-column rank test, NumPy level codes
(a presence table for integers, a private category mapping for long text columns), and a polars
sort for many ASCII levels. Each test here runs both ways and compares.
"""

from __future__ import annotations

import itertools
import random
import warnings

import numpy as np
import polars as pl
import pytest
from glmmx.design import levels as _levels
from glmmx.design.coding import (
    _clearly_full_rank,
    independent_columns,
    sequential_independent_columns,
)
from glmmx.design.frame import _select, _series_value
from glmmx.formula.parse import parse_expression
from glmmx.design.build import build_design, factor_levels, model_matrix, r_sort_key
from glmmx.exceptions import FitWarning
from glmmx.formula.algebra import parse_formula


def _build(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        return build_design(formula, data, **kw)


# ----------------------------------------------------------------------------------------------
# Rank check
# ----------------------------------------------------------------------------------------------


def _designs():
    rng = np.random.default_rng(7)
    n = 200
    one, x, z = np.ones(n), rng.normal(size=n), rng.normal(size=n)
    f = (rng.integers(0, 3, n)[:, None] == np.arange(3)).astype(float)
    yield np.column_stack([one, x, z])
    yield np.column_stack([one, x, 2 * x])  # exact multiple
    yield np.column_stack([one, f])  # intercept = sum of indicators
    yield np.column_stack([f, x, f[:, 0] * x, f[:, 1] * x, f[:, 2] * x])
    yield np.column_stack([one, x, np.zeros(n), z])  # an all-zero column
    yield np.column_stack([one, x + 1000, x])  # collinear up to rounding
    yield np.column_stack([one, np.arange(n), np.arange(n) ** 2, np.arange(n) ** 3])  # badly scaled
    for rel in (1e-2, 1e-4, 1e-6, 1e-7 / 2, 2e-7, 1e-9):
        e = rng.normal(size=n)
        e -= np.column_stack([one, x]) @ np.linalg.lstsq(np.column_stack([one, x]), e, rcond=None)[0]
        near = 3 * x + 1 + rel * np.linalg.norm(3 * x + 1) * e / np.linalg.norm(e)
        yield np.column_stack([one, x, near, z])


@pytest.mark.parametrize("X", list(_designs()))
def test_fast_rank_check_keeps_what_the_sequential_test_keeps(X):
    X = np.asfortranarray(X, dtype=float)
    assert independent_columns(X) == sequential_independent_columns(X)


def test_fast_rank_check_only_accepts_clearly_full_rank_designs():
    designs = [np.asfortranarray(X, dtype=float) for X in _designs()]
    assert _clearly_full_rank(designs[0])
    for X in designs[1:6]:
        assert not _clearly_full_rank(X)
    # R: qr(cbind(1, x, 3*x + 1 + 1e-9 * e))$rank is 3 -- the fast test sends such designs on
    assert not _clearly_full_rank(designs[-1]) and len(independent_columns(designs[-1])) == 3


# ----------------------------------------------------------------------------------------------
# Evaluating expressions with Series operators
# ----------------------------------------------------------------------------------------------

RAW = {
    "i": pl.Series("i", [1, 2, None, 4, -3], dtype=pl.Int64),
    "i8": pl.Series("i8", [1, 2, 3, -4, 100], dtype=pl.Int8),
    "u": pl.Series("u", [1, 2, 3, 4, 5], dtype=pl.UInt32),
    "f": pl.Series("f", [0.5, None, 2.0, 3.1, -1.0]),
    "f32": pl.Series("f32", [0.5, 3.1, 2.0, 3.1, None], dtype=pl.Float32),
    "s": pl.Series("s", ["a", "b", None, "a", "c"]),
    "b": pl.Series("b", [True, None, False, True, False]),
    "c": pl.Series("c", ["a", "b", "a", "a", "c"], dtype=pl.Categorical),
    "e": pl.Series("e", ["a", "b", "a", "a", "c"], dtype=pl.Enum(["c", "b", "a"])),
}
ATOMS = ["i", "i8", "u", "f", "f32", "s", "b", "c", "e", "3", "3.1", "0", "TRUE", '"a"', "2L"]
OPS = ["+", "-", "*", "/", "<", ">=", "==", "!=", "&", "|"]
EXPRESSIONS = [f"I({a} {op} {b})" for a, b in itertools.product(ATOMS, repeat=2) for op in OPS]
EXPRESSIONS += [f"I(-{a})" for a in ATOMS] + [f"I(!{a})" for a in ATOMS]
EXPRESSIONS += ["I((i > 1) & (f < 3) | !b)", "I(i/(f - 2))", "I(-(i + f) * 2)", "I(1/(i - 1))"]


def test_series_evaluation_matches_polars_select():
    fast = 0
    for text in EXPRESSIONS:
        e = parse_expression(text)
        try:
            value = _series_value(e, RAW)
        except Exception:  # noqa: BLE001 - falls back to the select, which reports the error
            value = None
        if not isinstance(value, pl.Series):
            continue
        fast += 1
        expected = _select(RAW, {"x": e.to_polars({})})["x"]
        assert value.dtype == expected.dtype, text
        assert value.equals(expected, check_names=False), (text, value.to_list(), expected.to_list())
    assert fast > 500  # the subset covers arithmetic, comparisons and logic of columns


def test_expressions_outside_the_subset_are_still_evaluated():
    data = pl.DataFrame({"y": [1.0, 2, 3, 4], "x": [1.0, 4, 9, 16], "k": [1, 2, 3, 5]})
    design = _build("y ~ sqrt(x) + I(k %% 2) + I(x^2) + I(2)", data)
    np.testing.assert_allclose(design.X[:, 1], [1, 2, 3, 4])
    np.testing.assert_allclose(design.X[:, 2], [1, 0, 1, 1])
    assert design.x_names == ("(Intercept)", "sqrt(x)", "I(k%%2)", "I(x^2)")  # I(2) is aliased


# ----------------------------------------------------------------------------------------------
# Level codes
# ----------------------------------------------------------------------------------------------


def _reference_codes(values: list, key=None) -> tuple[tuple[str, ...], list[int]]:
    present = [v for v in values if v is not None]
    levels = sorted(set(present), key=key)
    index = {v: i for i, v in enumerate(levels)}
    return levels, [index[v] if v is not None else -1 for v in values]


@pytest.mark.parametrize("n", [50, 3 * _levels._SMALL])
def test_text_codes_short_and_long(n):
    rng = random.Random(n)
    words = ["".join(rng.choice("aAbB_ 1é") for _ in range(rng.randint(1, 4))) for _ in range(n)]
    values = [w if rng.random() > 0.1 else None for w in words]
    for dtype in (pl.String, pl.Categorical):
        levels, codes = _levels.factor_codes(pl.Series(values, dtype=dtype))
        ref_levels, ref_codes = _reference_codes(values, key=r_sort_key)
        assert levels == tuple(ref_levels) and codes.tolist() == ref_codes


@pytest.mark.parametrize("n", [50, 3 * _levels._SMALL])
def test_enum_and_boolean_codes_short_and_long(n):
    rng = np.random.default_rng(n)
    values = [None if u < 0.1 else v for u, v in zip(rng.random(n), rng.choice(["q", "p"], n).tolist())]
    enum = pl.Series(values, dtype=pl.Enum(["q", "r", "p"]))
    levels, codes = _levels.factor_codes(enum)
    assert levels == ("q", "p") and codes.tolist() == [{"q": 0, "p": 1, None: -1}[v] for v in values]
    assert _levels.factor_codes(enum, drop_unused=False)[0] == ("q", "r", "p")
    flags = pl.Series([v == "p" if v is not None else None for v in values])
    levels, codes = _levels.factor_codes(flags)
    assert levels == ("FALSE", "TRUE") and codes.tolist() == [{"q": 0, "p": 1, None: -1}[v] for v in values]


@pytest.mark.parametrize(
    "values",
    [
        [5, -3, 100, 5, None, -3],  # presence table
        [10**15, -(10**15), 7, 7],  # too wide for a table: sorting
        pl.Series([-100, 100, 3, -100], dtype=pl.Int8),  # shifted without int8 overflow
        pl.Series([2**64 - 1, 0, 2**64 - 1], dtype=pl.UInt64),
    ],
)
def test_integer_codes(values):
    s = values if isinstance(values, pl.Series) else pl.Series(values)
    levels, codes = _levels.factor_codes(s)
    ref_levels, ref_codes = _reference_codes(s.to_list())
    assert levels == tuple(map(str, ref_levels)) and codes.tolist() == ref_codes


def test_float_levels_are_r_labels():
    # R: x <- c(0.1 + 0.2, 0.3, 1e5, 0.3, NaN); levels(factor(x)) is "0.3" "1e+05";
    # as.integer(factor(x)) is 1 1 2 1 NA (values equal to 15 digits are one level)
    levels, codes = _levels.factor_codes(pl.Series([0.1 + 0.2, 0.3, 1e5, 0.3, float("nan")]))
    assert levels == ("0.3", "1e+05") and codes.tolist() == [0, 0, 1, 0, -1]
    # R: levels(factor(c(-3L, 100L, 5L))) is "-3" "5" "100"
    assert factor_levels(pl.Series([-3, 100, 5])) == ("-3", "5", "100")


def test_many_ascii_levels_sorted_by_polars_as_r_sorts():
    # R: sort(c("b", "B", "a b", "a_b", "ab", "Ab", "1a", "_1")) is "_1" "1a" "a b" "a_b" "ab" "Ab" "b" "B"
    rng = random.Random(3)
    printable = "".join(chr(i) for i in [*range(9, 14), *range(32, 127)])
    labels = list({"".join(rng.choice(printable) for _ in range(rng.randint(0, 5))) for _ in range(3 * _levels._SMALL)})
    labels += ["b", "B", "a b", "a_b", "ab", "Ab", "1a", "_1"]
    order = _levels._polars_r_order(labels)
    assert order is not None and [labels[i] for i in order] == sorted(labels, key=r_sort_key)
    assert _levels._polars_r_order(["é", "e"] * _levels._SMALL) is None  # not ASCII: Python sorts


def test_large_grouping_factors():
    rng = np.random.default_rng(1)
    n = 4 * _levels._SMALL
    g = rng.integers(0, n // 4, n)
    data = pl.DataFrame({"y": rng.normal(size=n), "g": g, "s": [f"G{v}" for v in g]})
    by_int, by_str = _build("y ~ (1 | g)", data), _build("y ~ (1 | s)", data)
    ints = np.unique(g)
    assert by_int.random[0].levels == tuple(map(str, ints.tolist()))
    np.testing.assert_array_equal(by_int.random[0].codes, np.searchsorted(ints, g))
    strings = sorted({f"G{v}" for v in ints.tolist()}, key=r_sort_key)
    assert by_str.random[0].levels == tuple(strings)
    index = {s: i for i, s in enumerate(strings)}
    assert by_str.random[0].codes.tolist() == [index[f"G{v}"] for v in g.tolist()]


# ----------------------------------------------------------------------------------------------
# New data, caching and import paths
# ----------------------------------------------------------------------------------------------


@pytest.fixture
def d():
    return pl.DataFrame(
        {
            "y": [1.0, 2, 3, 4, 5, 6, 7, 8],
            "x": [1.0, 2, 3, 4, 5, 6, 7, None],
            "f": list("abcabcab"),
            "g": list("uuvvuuvv"),
        }
    )


def test_model_matrix_codes_extra_items(d):
    design = _build("y ~ x + (1 | g)", d, extra=["g", "~ 1 + f", "~ 0 + x:f"])
    new = model_matrix(design.spec, d[:7], extra=True)
    col, mm, mx = new.extra
    assert col.to_list() == design.extra[0].to_list()
    assert mm.names == design.extra[1].names == ("(Intercept)", "fb", "fc")
    np.testing.assert_array_equal(mm.X, design.extra[1].X)
    np.testing.assert_array_equal(mx.X, design.extra[2].X)
    assert model_matrix(design.spec, d).extra is None


def test_model_matrix_interaction_groups_and_intercept_only(d):
    design = _build("y ~ 1 + (1 | f:g)", d)
    new = model_matrix(design.spec, d.with_columns(pl.col("g").replace("u", "w")))
    codes = design.random[0].codes
    seen = [g != "u" for g in d["g"]]
    np.testing.assert_array_equal(new.random[0][0][seen], codes[seen])
    assert (new.random[0][0][[not s for s in seen]] == 0xFFFFFFFF).all()
    assert new.X.shape == (8, 1)  # "~ 1" reads no column but has a row per row of newdata


def test_parsed_formulas_are_cached():
    text = "y ~ x * f + (1 | g)"
    assert parse_formula(text) is parse_formula(text)


def test_public_import_paths():
    from glmmx import design, formula

    for name in ("build_design", "model_matrix", "factor_levels", "r_sort_key", "Design", "NewDesign"):
        assert hasattr(design, name)
    for name in ("parse_formula", "parse_rhs", "Expr", "Formula", "ModelTerms", "RandomTerm", "format_r_number"):
        assert hasattr(formula, name)
