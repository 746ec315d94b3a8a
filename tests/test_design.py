"""Model matrices against R 4.2.2 / lme4 1.1-31.

Fixed-effect names come from (R 4.2.2, lme4 1.1-31, Rscript)::

    d <- data.frame(y = 1:8, x = c(1:7, NA), z = c(2,1,4,3,6,5,8,7), f = c("a","b","c","a","b","c","a","b"),
                    g = c("u","u","v","v","u","u","v","v"), L = c(T,F,T,T,F,F,T,T), Lt = TRUE)
    d$`my var` <- d$z
    X <- model.matrix(fo, model.frame(fo, d, drop.unused.levels = TRUE))   # colnames(X)
    lme4:::chkRank.drop.cols(X, kind = "silent.drop.cols", tol = 1e-7)     # kept columns

and random-effects terms from ``lFormula(fo, d2)$reTrms`` (``names(Ztlist)``, ``flist`` levels,
``cnms``) on the data ``d2`` of ``_re_data`` below.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import glmmx as gx
from glmmx.design.build import build_design, model_matrix, r_sort_key
from glmmx.exceptions import FitWarning, ModelSpecError



@pytest.fixture
def d():
    return pl.DataFrame(
        {
            "y": [1.0, 2, 3, 4, 5, 6, 7, 8],
            "x": [1.0, 2, 3, 4, 5, 6, 7, None],
            "z": [2.0, 1, 4, 3, 6, 5, 8, 7],
            "f": list("abcabcab"),
            "g": list("uuvvuuvv"),
            "L": [True, False, True, True, False, False, True, True],
            "Lt": [True] * 8,
            "my var": [2.0, 1, 4, 3, 6, 5, 8, 7],
            "w": [0.5, 1, 2, 1, 1, 3, 1, 1],
        }
    )


def _build(formula, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        return build_design(formula, data, **kw)


# (formula, kept column names, columns dropped as aliased), from R as in the module docstring
NAMES = [
    ("y ~ 0 + f", ("fa", "fb", "fc"), ()),
    ("y ~ f:x", ("(Intercept)", "fa:x", "fb:x", "fc:x"), ()),
    ("y ~ x + f:x", ("(Intercept)", "x", "x:fb", "x:fc"), ()),
    ("y ~ f + f:g", ("(Intercept)", "fb", "fc", "fa:gv", "fb:gv", "fc:gv"), ()),
    ("y ~ f*g", ("(Intercept)", "fb", "fc", "gv", "fb:gv", "fc:gv"), ()),
    ("y ~ 0 + f + g", ("fa", "fb", "fc", "gv"), ()),
    ("y ~ 0 + x + f + g", ("x", "fa", "fb", "fc", "gv"), ()),
    ("y ~ 0 + f:g", ("fa:gu", "fb:gu", "fc:gu", "fa:gv", "fb:gv", "fc:gv"), ()),
    ("y ~ f:g", ("(Intercept)", "fa:gu", "fb:gu", "fc:gu", "fa:gv", "fb:gv"), ("fc:gv",)),
    ("y ~ x:z + x:f", ("(Intercept)", "x:z", "x:fb", "x:fc"), ()),
    (
        "y ~ g + f:g:x",
        ("(Intercept)", "gv", "gu:fa:x", "gv:fa:x", "gu:fb:x", "gu:fc:x", "gv:fc:x"),
        ("gv:fb:x",),
    ),
    ("y ~ f:g + g", ("(Intercept)", "gv", "fb:gu", "fc:gu", "fb:gv", "fc:gv"), ()),
    ("y ~ 0 + x:f + g", ("gu", "gv", "x:fa", "x:fb", "x:fc"), ()),
    ("y ~ L", ("(Intercept)", "LTRUE"), ()),
    ("y ~ Lt", ("(Intercept)",), ("LtTRUE",)),
    ("y ~ I(x > 3)", ("(Intercept)", "I(x > 3)TRUE"), ()),
    ("y ~ `my var`", ("(Intercept)", "`my var`"), ()),
    ("y ~ log(`my var`)", ("(Intercept)", "log(`my var`)"), ()),
    ("y ~ factor(z)", ("(Intercept)", *(f"factor(z){k}" for k in range(2, 9))), ()),
    (
        "y ~ factor(x)*g",
        ("(Intercept)", *(f"factor(x){k}" for k in range(2, 8))),
        ("gv", *(f"factor(x){k}:gv" for k in range(2, 8))),
    ),
    ("y ~ scale(x)", ("(Intercept)", "scale(x)"), ()),
    ("y ~ f/x", ("(Intercept)", "fb", "fc", "fa:x", "fb:x", "fc:x"), ()),
    ("y ~ 0 + g/x", ("gu", "gv", "gu:x", "gv:x"), ()),
    ("y ~ g:f + f", ("(Intercept)", "fb", "fc", "gv:fa", "gv:fb", "gv:fc"), ()),
    ("y ~ f:g:x + f:x + g:x", ("(Intercept)", "fa:x", "fb:x", "fc:x", "gv:x", "fc:gv:x"), ("fb:gv:x",)),
    ("y ~ x + I(2*x)", ("(Intercept)", "x"), ("I(2 * x)",)),
    (
        "y ~ x*z + I(x^2) + sqrt(z) + exp(z/10) + abs(z - 4)",
        ("(Intercept)", "x", "z", "I(x^2)", "sqrt(z)", "exp(z/10)", "abs(z - 4)"),
        ("x:z",),
    ),
    ("y ~ (f + g + x)^2", ("(Intercept)", "fb", "fc", "gv", "x", "fc:gv", "fb:x"), ("fb:gv", "fc:x", "gv:x")),
    ("y ~ 1", ("(Intercept)",), ()),
    ("y ~ 0 + x", ("x",), ()),
    ("y ~ f:L + L", ("(Intercept)", "LTRUE", "fb:LFALSE", "fb:LTRUE", "fc:LTRUE"), ("fc:LFALSE",)),
    (
        'y ~ I(f == "a") + I(x >= 2 & z < 5) + I(!L)',
        ("(Intercept)", 'I(f == "a")TRUE', "I(x >= 2 & z < 5)TRUE", "I(!L)TRUE"),
        (),
    ),
    ("y ~ f - 1 + x:g", ("fa", "fb", "fc", "x:gu", "x:gv"), ()),
    ("y ~ log(z) + offset(log(z)) + x", ("(Intercept)", "log(z)", "x"), ()),
]


@pytest.mark.parametrize(("formula", "names", "dropped"), NAMES)
def test_column_names_match_r(d, formula, names, dropped):
    design = _build(formula, d)
    assert design.x_names == names
    assert design.dropped_columns == dropped
    assert design.X.shape == (design.n, len(names)) and design.X.flags.f_contiguous


# model.matrix values printed by R for the data of the module docstring
VALUES = {
    "y ~ x + g + f:g:x": [  # kept columns (Intercept) x gv x:gu:fa x:gv:fa x:gu:fb x:gu:fc
        [1, 1, 0, 1, 0, 0, 0],
        [1, 2, 0, 0, 0, 2, 0],
        [1, 3, 1, 0, 0, 0, 0],
        [1, 4, 1, 0, 4, 0, 0],
        [1, 5, 0, 0, 0, 5, 0],
        [1, 6, 0, 0, 0, 0, 6],
        [1, 7, 1, 0, 7, 0, 0],
    ],
    "y ~ f:L + L": [
        [1, 1, 0, 0, 0],
        [1, 0, 1, 0, 0],
        [1, 1, 0, 0, 1],
        [1, 1, 0, 0, 0],
        [1, 0, 1, 0, 0],
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [1, 1, 0, 1, 0],
    ],
    "y ~ scale(z)": [
        [1, v]
        for v in (
            -1.02062072615966,
            -1.42886901662352,
            -0.204124145231932,
            -0.612372435695795,
            0.612372435695795,
            0.204124145231932,
            1.42886901662352,
            1.02062072615966,
        )
    ],
    "y ~ log(z, 2) + I(-x) + I(z %% 3) + I(z %/% 3)": [
        [1, 1, -1, 2, 0],
        [1, 0, -2, 1, 0],
        [1, 2, -3, 1, 1],
        [1, 1.58496250072116, -4, 0, 1],
        [1, 2.58496250072116, -5, 0, 2],
        [1, 2.32192809488736, -6, 2, 1],
        [1, 3, -7, 2, 2],
    ],
}


@pytest.mark.parametrize("formula", VALUES)
def test_values_match_r(d, formula):
    np.testing.assert_allclose(_build(formula, d).X, np.array(VALUES[formula], float), rtol=1e-12)


def test_assign_and_term_labels(d):
    design = _build("y ~ x*f", d)
    assert design.term_labels == ("x", "f", "x:f")
    assert design.x_assign == (0, 1, 2, 2, 3, 3)


def _re_data():
    # d2 <- data.frame(y = 1:10, x = c(1:7, NA, 9, 10), z = c(2,1,4,3,6,5,8,7,10,100),
    #   f = factor(c("a","b","c","a","b","c","a","b","a","b"), levels = c("c","b","a","zz")),
    #   g = c("u","u","v","V","u","u","v","V","é","e"))
    return pl.DataFrame(
        {
            "y": [float(i) for i in range(1, 11)],
            "x": [1.0, 2, 3, 4, 5, 6, 7, None, 9, 10],
            "z": [2.0, 1, 4, 3, 6, 5, 8, 7, 10, 100],
            "f": pl.Series(list("abcabcabab"), dtype=pl.Enum(["c", "b", "a", "zz"])),
            "g": ["u", "u", "v", "V", "u", "u", "v", "V", "é", "e"],
        }
    )


G = ("e", "é", "u", "v", "V")
Z_LEVELS = ("1", "2", "3", "4", "5", "6", "7", "8", "10", "100")
FG = ("c:u", "c:v", "b:e", "b:u", "b:V", "a:é", "a:u", "a:v", "a:V")
# (formula, [(names(Ztlist), levels of the grouping factor, cnms)]) from lme4's lFormula
RANDOM = [
    ("y ~ 1 + (1|g)", [("1 | g", G, ("(Intercept)",))]),
    ("y ~ x + (x|f)", [("x | f", ("c", "b", "a"), ("(Intercept)", "x"))]),
    ("y ~ (0 + f|g)", [("0 + f | g", G, ("fc", "fb", "fa"))]),
    ("y ~ (f|g)", [("f | g", G, ("(Intercept)", "fb", "fa"))]),
    ("y ~ (1|f:g)", [("1 | f:g", FG, ("(Intercept)",))]),
    (
        "y ~ (1|g:f)",
        [("1 | g:f", ("e:b", "é:a", "u:c", "u:b", "u:a", "v:c", "v:a", "V:b", "V:a"), ("(Intercept)",))],
    ),
    ("y ~ (1|g/f)", [("1 | f:g", FG, ("(Intercept)",)), ("1 | g", G, ("(Intercept)",))]),
    ("y ~ (1 + x||g)", [("1 | g", G, ("(Intercept)",)), ("0 + x | g", G, ("x",))]),
    ("y ~ (1|z)", [("1 | z", Z_LEVELS, ("(Intercept)",))]),
    ("y ~ (1|g) + (1|z)", [("1 | z", Z_LEVELS, ("(Intercept)",)), ("1 | g", G, ("(Intercept)",))]),
    (
        "y ~ (1|f) + (1|g) + (x|z)",
        [
            ("x | z", Z_LEVELS[:6] + Z_LEVELS[7:], ("(Intercept)", "x")),
            ("1 | g", G, ("(Intercept)",)),
            ("1 | f", ("c", "b", "a"), ("(Intercept)",)),
        ],
    ),
    (
        "y ~ (log(z)||f)",
        [("1 | f", ("c", "b", "a"), ("(Intercept)",)), ("0 + log(z) | f", ("c", "b", "a"), ("log(z)",))],
    ),
    ("y ~ (0 + x + z|g)", [("0 + x + z | g", G, ("x", "z"))]),
]


@pytest.mark.parametrize(("formula", "blocks"), RANDOM)
def test_random_blocks_match_lme4(formula, blocks):
    design = _build(formula, _re_data())
    got = [(s.term.label, b.levels, b.names) for s, b in zip(design.spec.random, design.random)]
    assert got == blocks
    for b in design.random:
        assert b.codes.dtype == np.uint32 and b.codes.max() == len(b.levels) - 1
        assert b.Z.flags.f_contiguous and b.Z.shape == (design.n, len(b.names))


def test_random_block_values():
    design = _build("y ~ (x|f) + (0 + f|g)", _re_data())
    xf, fg = sorted(design.random, key=lambda b: b.group)
    x = np.array([1.0, 2, 3, 4, 5, 6, 7, 9, 10])
    np.testing.assert_array_equal(xf.Z, np.column_stack([np.ones(9), x]))
    np.testing.assert_array_equal(xf.codes, [2, 1, 0, 2, 1, 0, 2, 2, 1])  # levels c, b, a
    np.testing.assert_array_equal(fg.Z[:3], [[0, 0, 1], [0, 1, 0], [1, 0, 0]])  # fc fb fa
    np.testing.assert_array_equal(fg.codes, [2, 2, 3, 4, 2, 2, 3, 1, 0])  # levels e é u v V


def test_grouping_factor_kinds():
    # lme4 drops unused levels of grouping factors: a logical with only TRUE has one level
    data = pl.DataFrame({"y": [1.0, 2, 3, 4], "b": [True, True, True, True], "v": [0.5, 1.5, 0.5, 10.0]})
    design = _build("y ~ (1 | b) + (1 | v)", data, reorder_terms=False)
    assert [b.levels for b in design.random] == [("TRUE",), ("0.5", "1.5", "10")]


def test_missing_values_drop_rows(d):
    data = d.with_columns(pl.Series("w", [0.5, None, 2, 1, 1, 3, 1, float("nan")]))
    design = _build("y ~ z + (1 | g)", data, weights="w")
    assert design.n == 6 and design.n_dropped == 2
    assert design.row_index.tolist() == [0, 2, 3, 4, 5, 6] and design.row_index.dtype == np.int64
    np.testing.assert_array_equal(design.weights, [0.5, 2, 1, 1, 3, 1])
    # R's NA & FALSE is FALSE: x is missing in row 8 but I(x >= 2 & z < 5) is not
    assert _build("y ~ I(x >= 2 & z < 5)", d).n == 8
    assert _build("y ~ z", d, extra=["x"]).n == 7
    assert _build("y ~ z", d, id="x").n == 7


def test_scale_uses_all_rows_and_is_stored(d):
    # R: model.frame(y ~ scale(z), d) with y[1] <- NA gives scale(z, center = 4.5, scale = 2.44948974278318)
    data = d.with_columns(pl.Series("y", [None, 2.0, 3, 4, 5, 6, 7, 8]))
    design = _build("y ~ scale(z)", data)
    centre, scale = design.spec.scaling["scale(z)"]
    assert centre == pytest.approx(4.5) and scale == pytest.approx(2.44948974278318, rel=1e-14)
    new = model_matrix(design.spec, pl.DataFrame({"z": [4.5, 7.0]}))
    np.testing.assert_allclose(new.X[:, 1], [0.0, 2.5 / 2.44948974278318])


def test_factor_levels_follow_r():
    data = pl.DataFrame(
        {
            "y": [1.0, 2, 3, 4, 5, 6],
            "v": [1e-05, 0.5, 1.0, 100000.0, 0.5, 1.0],
            "n": [3, 10, 2, 3, 10, 2],
            "s": ["b", "B", "a", "A", "a b", "ab"],
            "e": pl.Series(list("qpqpqp"), dtype=pl.Enum(["q", "p", "r"])),
        }
    )
    assert _build("y ~ factor(v)", data).x_names[1:] == ("factor(v)0.5", "factor(v)1", "factor(v)1e+05")
    assert _build("y ~ factor(n)", data).x_names[1:] == ("factor(n)3", "factor(n)10")
    assert _build("y ~ 0 + s", data).x_names == ("sa", "sA", "sa b", "sab", "sb", "sB")
    assert _build("y ~ 0 + e", data).x_names == ("eq", "ep")
    # drop.unused.levels = FALSE (R's model.frame default): the unused level's zero column is aliased
    kept = _build("y ~ e", data, drop_unused_levels=False)
    assert kept.x_names == ("(Intercept)", "ep") and kept.dropped_columns == ("er",)


def test_long_text_columns_are_coded_in_one_pass_in_order_of_appearance():
    """Above the small-column path the private categorical mapping gives the labels in order of
    first appearance (the fallback's unique() has no order); nulls are missing (-1)."""
    from glmmx.design.levels import MISSING, _SMALL, _text_distinct

    rng = np.random.default_rng(0)
    names = [f"level{k:02d}" for k in rng.permutation(60)]
    values = [names[k] for k in rng.integers(0, 60, 3 * _SMALL)] + [None]
    labels, codes = _text_distinct(pl.Series(values))
    assert labels == list(dict.fromkeys(v for v in values if v is not None))
    assert codes[-1] == MISSING and all(labels[c] == v for c, v in zip(codes[:-1], values[:-1]))


def test_r_sort_key_matches_r_sort():
    # sort(c(...)) in R 4.2.2 (ICU collation)
    words = [
        "b",
        "B",
        "a",
        "A",
        "ab",
        "Ab",
        "aB",
        "a b",
        "a_b",
        "a-b",
        "abc",
        "10",
        "9",
        "1",
        "_x",
        "Z",
        "z",
        "é",
        "e",
    ]
    r = [
        "_x",
        "1",
        "10",
        "9",
        "a",
        "A",
        "a b",
        "a_b",
        "a-b",
        "ab",
        "aB",
        "Ab",
        "abc",
        "b",
        "B",
        "e",
        "é",
        "z",
        "Z",
    ]
    assert sorted(words, key=r_sort_key) == r


def test_rank_deficiency_warns_like_lme4(d):
    with pytest.warns(FitWarning, match=r"rank deficient so dropping 1 column / coefficient: I\(2 \* x\)"):
        build_design("y ~ x + I(2*x)", d)
    with pytest.warns(FitWarning, match="dropping 3 columns / coefficients: fb:gv, fc:x, gv:x"):
        build_design("y ~ (f + g + x)^2", d)


def test_response_offset_and_arguments(d):
    design = _build("cbind(y, 10 - y) ~ x + offset(z) + offset(log(z))", d, group_weights="w", id="g")
    y, failures = design.response_cbind
    np.testing.assert_array_equal(failures, 10 - y)
    np.testing.assert_allclose(design.offset, d["z"][:7] + np.log(d["z"][:7]))
    assert design.response is None and design.id.name == "g" and design.id.len() == 7
    np.testing.assert_array_equal(design.group_weights, d["w"][:7])
    resp = _build("I(y > 4) ~ x", d).response
    assert resp.name == "I(y > 4)" and resp.dtype == pl.Boolean
    design = _build("y ~ x", d, weights=np.arange(8.0), id=[f"p{i}" for i in range(8)])
    np.testing.assert_array_equal(design.weights, np.arange(7.0))
    assert design.id.to_list() == [f"p{i}" for i in range(7)]


def test_extra_columns_and_terms(d):
    design = _build("y ~ x", d, extra=["g", "~ 1 + f"])
    col, mm = design.extra
    assert col.to_list() == list("uuvvuuv")
    assert mm.names == ("(Intercept)", "fb", "fc") and mm.X.shape == (7, 3)


def test_input_types(d):
    eager = _build("y ~ f + (1 | g)", d)
    lazy = _build("y ~ f + (1 | g)", d.lazy().with_columns(pl.col("y").alias("unused")))
    np.testing.assert_array_equal(eager.X, lazy.X)
    pd = pytest.importorskip("pandas")
    frame = d.to_pandas()
    frame["f"] = pd.Categorical(frame["f"], categories=["c", "b", "a"])
    assert _build("y ~ f", frame).x_names == ("(Intercept)", "fb", "fa")


def test_pandas_is_not_imported_for_polars_input():
    code = (
        "import sys, polars as pl; from glmmx.design.build import build_design; "
        "build_design('y ~ x + (1 | g)', pl.DataFrame({'y': [1.0, 2, 3], 'x': [1.0, 0, 2], 'g': list('aab')})); "
        "assert 'pandas' not in sys.modules"
    )
    env_path = str(Path(__file__).resolve().parents[1] / "python")
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": env_path})


def test_newdata_reproduces_training_columns(d):
    design = _build("y ~ x * f + log(z) + (1 + x | g)", d)
    new = model_matrix(design.spec, d[:7])
    np.testing.assert_allclose(new.X, design.X)
    codes, Z = new.random[0]
    np.testing.assert_array_equal(codes, design.random[0].codes)
    np.testing.assert_array_equal(Z, design.random[0].Z)
    other = model_matrix(
        design.spec, pl.DataFrame({"x": [1.0, None], "f": ["c", "a"], "z": [1.0, 2.0], "g": ["w", None]})
    )
    assert other.X.shape == (2, 7) and np.isnan(other.X[1, 1]) and other.X[0, 3] == 1.0
    assert other.random[0][0].tolist() == [0xFFFFFFFF, 0xFFFFFFFF]
    assert model_matrix(design.spec, d, random=False).random is None


def test_hr_design_matches_lme4():
    hr = gx.datasets.load("HR")
    # names(fixef(lmer(HR ~ Time + Drug + Time*Drug + (1 + Time | Patient), data = HR)))
    design = _build("HR ~ Time + Drug + Time*Drug + (1 + Time | Patient)", hr)
    assert design.x_names == ("(Intercept)", "Time", "Drugb", "Drugp", "Time:Drugb", "Time:Drugp")
    (block,) = design.random
    assert block.names == ("(Intercept)", "Time") and len(block.levels) == 24
    assert block.levels == tuple(sorted(block.levels, key=int)) and block.levels[0] == "201"
    assert _build("I(HR > baseHR) ~ Time*Drug + (1 | Patient)", hr).response.dtype == pl.Boolean
    names = _build("HR ~ I(HR > baseHR) + Drug", hr).x_names
    assert names == ("(Intercept)", "I(HR > baseHR)TRUE", "Drugb", "Drugp")


def test_schizo_and_cbpp_designs():
    schizo = gx.datasets.load("schizo")
    design = _build(
        "y ~ trt + sqrt(wk) + trt*sqrt(wk)", schizo, id="id", extra=["~1 + trt", "~trt + sqrt(wk)"]
    )
    assert design.x_names == ("(Intercept)", "trt", "sqrt(wk)", "trt:sqrt(wk)")
    assert design.extra[1].names == ("(Intercept)", "trt", "sqrt(wk)")
    cbpp = gx.datasets.load("cbpp")
    design = _build("cbind(incidence, size - incidence) ~ factor(period) + (1 | herd)", cbpp)
    assert design.x_names == ("(Intercept)", "factor(period)2", "factor(period)3", "factor(period)4")
    assert design.random[0].levels == tuple(str(i) for i in range(1, 16))


ERRORS = [
    ({"formula": "y ~ Z + (1 | g)"}, "column 'Z' not found in data; did you mean 'z'?"),
    ({"formula": "y ~ xx"}, "column 'xx' not found in data; did you mean 'x'"),
    ({"formula": "y ~ log(z - 2)"}, "log(z - 2) is infinite (value -inf) at row 0 of the data"),
    ({"formula": "y ~ I(1/(x - 4))"}, "I(1/(x - 4)) is infinite (value inf) at row 3"),
    ({"formula": "y ~ x", "weights": [-1.0] + [1.0] * 7}, "weights must be non-negative"),
    (
        {"formula": "y ~ x", "group_weights": "x", "weights": [1.0] * 7},
        "weights has length 7 but data has 8 rows",
    ),
    ({"formula": "y ~ x", "na_action": "pass"}, "na_action must be 'omit' or 'fail'"),
    ({"formula": "y ~ x", "na_action": "fail"}, "missing values in x"),
    ({"formula": "y ~ f", "extra": [1]}, "extra items must be column names"),
    ({"formula": "y ~ I(f + 1)"}, "cannot evaluate I(f + 1)"),
    ({"formula": "y ~ f + (1|g)", "data": "no"}, "data must be a polars DataFrame"),
]


@pytest.mark.parametrize(("args", "fragment"), ERRORS)
def test_errors(d, args, fragment):
    data = args.pop("data", d)
    with pytest.raises(ModelSpecError) as err:
        build_design(args.pop("formula"), data, **args)
    assert fragment in str(err.value)


def test_error_no_rows_left(d):
    data = d.with_columns(pl.lit(None, pl.Float64).alias("x"))
    with pytest.raises(ModelSpecError, match="no rows left after dropping 8 rows with missing values in x"):
        build_design("y ~ x + z", data)


def test_error_single_level_factor(d):
    with pytest.raises(ModelSpecError, match="factor f has only the level"):
        build_design("y ~ f", d.filter(pl.col("f") == "a"))


def test_error_new_level_in_newdata(d):
    design = _build("y ~ x + f", d)
    with pytest.raises(ModelSpecError, match="factor f has level 'q', not seen in the data"):
        model_matrix(design.spec, pl.DataFrame({"x": [1.0], "f": ["q"]}))
    with pytest.raises(ModelSpecError, match="column 'f' not found"):
        model_matrix(design.spec, pl.DataFrame({"x": [1.0]}))
