"""Formula parsing against R 4.2.2 / lme4 1.1-31.

Expected labels are R's ``deparse(str2lang(s))``; expected terms are
``attr(terms(as.formula(s)), "term.labels")`` and ``attr(, "intercept")``; expected random terms
are ``lme4::findbars(as.formula(s))`` (R 4.2.2, lme4 1.1-31, run with Rscript).
"""

from __future__ import annotations

import math

import polars as pl
import pytest

from glmmx.exceptions import ModelSpecError
from glmmx.formula.algebra import SUPPORTED_FUNCTIONS, format_r_number, parse_formula, parse_rhs

# deparse(str2lang(s)) in R 4.2.2
DEPARSE = [
    ("I(HR>baseHR)", "I(HR > baseHR)"),
    ("sqrt( wk )", "sqrt(wk)"),
    ("log(x,2)", "log(x, 2)"),
    ("log(x, base=2)", "log(x, base = 2)"),
    ("I(a/b)", "I(a/b)"),
    ("I(x^2)", "I(x^2)"),
    ("I(x**2)", "I(x^2)"),
    ("I(-x)", "I(-x)"),
    ("I(2*x)", "I(2 * x)"),
    ("I(2.0*x)", "I(2 * x)"),
    ("I(1e3+x)", "I(1000 + x)"),
    ("I(0.50*x)", "I(0.5 * x)"),
    ("I(.5*x)", "I(0.5 * x)"),
    ("I(1e-5*x)", "I(1e-05 * x)"),
    ("I(100000*x)", "I(1e+05 * x)"),
    ("I(0.0001*x)", "I(1e-04 * x)"),
    ("I(3.141592653589793*x)", "I(3.14159265358979 * x)"),
    ("I(1L+x)", "I(1L + x)"),
    ("I(a>=b)", "I(a >= b)"),
    ("I(a!=b)", "I(a != b)"),
    ("I(a>b&c<d)", "I(a > b & c < d)"),
    ("I(a>b|c<d&e)", "I(a > b | c < d & e)"),
    ("I(!(a>b))", "I(!(a > b))"),
    ("I(!a&b)", "I(!a & b)"),
    ("I(- -x)", "I(--x)"),
    ("I(-(x))", "I(-(x))"),
    ("I((x+1)*2)", "I((x + 1) * 2)"),
    ("I(x %% 2)", "I(x%%2)"),
    ("I(x %/% 2)", "I(x%/%2)"),
    ("I(x^-1)", "I(x^-1)"),
    ("I(x*-1)", "I(x * -1)"),
    ("I(a-(b-c))", "I(a - (b - c))"),
    ("I(x == 'a')", 'I(x == "a")'),
    ("I(TRUE & x)", "I(TRUE & x)"),
    ("`my var`", "`my var`"),
    ("log(`my var`)", "log(`my var`)"),
    ("`x_1`", "x_1"),
    ("I(`if` + 1)", "I(`if` + 1)"),
]


@pytest.mark.parametrize(("text", "label"), DEPARSE)
def test_labels_are_r_deparse(text, label):
    assert parse_rhs(text).terms[0][0].label == label


# attr(terms(as.formula(s)), c("term.labels", "intercept")) in R 4.2.2
TERMS = [
    ("y ~ Time*Drug", 1, ["Time", "Drug", "Time:Drug"]),
    ("y ~ b:a + a", 1, ["a", "b:a"]),
    ("y ~ a*b*c", 1, ["a", "b", "c", "a:b", "a:c", "b:c", "a:b:c"]),
    ("y ~ (a+b+c)^2", 1, ["a", "b", "c", "a:b", "a:c", "b:c"]),
    ("y ~ (a+b)^3", 1, ["a", "b", "a:b"]),
    ("y ~ a/b", 1, ["a", "a:b"]),
    ("y ~ a/(b+c)", 1, ["a", "a:b", "a:c"]),
    ("y ~ (a+b)/c", 1, ["a", "b", "a:b:c"]),
    ("y ~ a/b/c", 1, ["a", "a:b", "a:b:c"]),
    ("y ~ (a/b):c", 1, ["a:c", "a:b:c"]),
    ("y ~ a + b %in% a", 1, ["a", "a:b"]),
    ("y ~ a - 1", 0, ["a"]),
    ("y ~ 0 + a", 0, ["a"]),
    ("y ~ a + 0", 0, ["a"]),
    ("y ~ -1 + a", 0, ["a"]),
    ("y ~ 1 - 1 + a", 0, ["a"]),
    ("y ~ a - 0", 1, ["a"]),
    ("y ~ 1", 1, []),
    ("y ~ 0", 0, []),
    ("y ~ a*b - a", 1, ["b", "a:b"]),
    ("y ~ a*b - a:b", 1, ["a", "b"]),
    ("y ~ (a+b)^2 - a:b", 1, ["a", "b"]),
    ("y ~ a - a", 1, []),
    ("y ~ a:a", 1, ["a"]),
    ("y ~ a + a", 1, ["a"]),
    ("y ~ b:a + a:b", 1, ["b:a"]),
    ("y ~ a:b + c + a", 1, ["c", "a", "a:b"]),
    ("y ~ c:b:a + a:b", 1, ["b:a", "c:b:a"]),
    ("y ~ a:b:c + b:a", 1, ["a:b", "a:b:c"]),
    ("y ~ a*b + b:a:c", 1, ["a", "b", "a:b", "a:b:c"]),
    ("y ~ a*(b+c)", 1, ["a", "b", "c", "a:b", "a:c"]),
    ("y ~ (a + b):c", 1, ["a:c", "b:c"]),
    ("y ~ (a*b):c", 1, ["a:c", "b:c", "a:b:c"]),
    ("y ~ x*f + 0", 0, ["x", "f", "x:f"]),
    ("y ~ (a)", 1, ["a"]),
    ("y ~ I(a*b) + a", 1, ["I(a * b)", "a"]),
    ("y ~ `my var` + log(`my var`)", 1, ["`my var`", "log(`my var`)"]),
    ("y ~ a + offset(log(o))", 1, ["a"]),
    ("y ~ trt + sqrt(wk) + trt*sqrt(wk)", 1, ["trt", "sqrt(wk)", "trt:sqrt(wk)"]),
]


@pytest.mark.parametrize(("text", "intercept", "labels"), TERMS)
def test_terms_follow_r(text, intercept, labels):
    fixed = parse_formula(text).fixed
    assert fixed.intercept == bool(intercept)
    assert list(fixed.term_labels) == labels


# lme4::findbars(as.formula(s)) with lme4 1.1-31 (|| expanded by expandDoubleVerts)
RANDOM = [
    ("y ~ x + (1 + Time | Patient)", ["1 + Time | Patient"], [True]),
    ("y ~ (Time | Patient)", ["Time | Patient"], [True]),
    ("y ~ (1 | a:b)", ["1 | a:b"], [True]),
    ("y ~ x + (1 | a/b)", ["1 | b:a", "1 | a"], [True, True]),
    ("y ~ (1 | a/b/c)", ["1 | c:(b:a)", "1 | b:a", "1 | a"], [True] * 3),
    ("y ~ (1 + x || g)", ["1 | g", "0 + x | g"], [False, False]),
    ("y ~ (x || g)", ["1 | g", "0 + x | g"], [False, False]),
    ("y ~ (0 + x || g)", ["0 + x | g"], [False]),
    ("y ~ (1 + x + f || g)", ["1 | g", "0 + x | g", "0 + f | g"], [False] * 3),
    ("y ~ (1 + x*z || g)", ["1 | g", "0 + x | g", "0 + z | g", "0 + x:z | g"], [False] * 4),
    ("y ~ (1 + x || a/b)", ["1 | b:a", "1 | a", "0 + x | b:a", "0 + x | a"], [False] * 4),
    ("y ~ (1 + log(x) || g)", ["1 | g", "0 + log(x) | g"], [False, False]),
    ("y ~ ((1 | g))", ["1 | g"], [True]),
    ("y ~ (1 | a/b) + (x | g)", ["1 | b:a", "1 | a", "x | g"], [True] * 3),
]


@pytest.mark.parametrize(("text", "labels", "correlated"), RANDOM)
def test_random_terms_follow_lme4(text, labels, correlated):
    f = parse_formula(text)
    assert [t.label for t in f.random] == labels
    assert [t.correlated for t in f.random] == correlated
    assert "|" not in " ".join(f.fixed.term_labels)


def test_random_term_parts():
    f = parse_formula("HR ~ Time * Drug + (1 + Time | Patient) + (0 + x | a:b)")
    t0, t1 = f.random
    assert t0.lhs.intercept and t0.lhs.term_labels == ("Time",) and t0.group_label == "Patient"
    assert not t1.lhs.intercept and [g.label for g in t1.group] == ["a", "b"]
    assert t1.group_label == "a:b"
    assert parse_formula("y ~ (1 | a/b)").random[0].group_label == "b:a"
    assert parse_formula("y ~ (Time | g)").random[0].lhs.intercept


def test_response_and_offsets():
    f = parse_formula("cbind(incidence, size - incidence) ~ period + offset(log(n)) + (1 | herd)")
    assert f.response is None
    assert [e.label for e in f.response_cbind] == ["incidence", "size - incidence"]
    assert f.response_label == "cbind(incidence, size - incidence)"
    assert [o.label for o in f.fixed.offsets] == ["offset(log(n))"]
    assert f.deparsed == "cbind(incidence, size - incidence) ~ period + offset(log(n)) + (1 | herd)"
    f = parse_formula("I(HR>baseHR) ~ Time")
    assert f.response.label == "I(HR > baseHR)" and f.response_cbind is None
    assert parse_formula("factor(y) ~ x").response.label == "factor(y)"


def test_parse_rhs():
    assert parse_rhs("~1 + trt").term_labels == ("trt",) and parse_rhs("~1 + trt").intercept
    assert parse_rhs("~trt + sqrt(wk)").term_labels == ("trt", "sqrt(wk)")
    assert parse_rhs("trt*sqrt(wk)").term_labels == ("trt", "sqrt(wk)", "trt:sqrt(wk)")
    assert not parse_rhs("~0 + x").intercept


def test_expression_variables():
    f = parse_formula("cbind(s, n - s) ~ I(HR > baseHR) + log(x, base = b) + `my var` + I(z == 'a')")
    labels = [v.variables() for v in f.fixed.variables()]
    assert labels == [{"HR", "baseHR"}, {"x", "b"}, {"my var"}, {"z"}]


# as.character(x) / levels(factor(x)) in R 4.2.2
NUMBERS = [
    (1.0, "1"),
    (0.5, "0.5"),
    (1e-05, "1e-05"),
    (100000.0, "1e+05"),
    (123456.0, "123456"),
    (0.1 + 0.2, "0.3"),
    (1 / 3, "0.333333333333333"),
    (1e15, "1e+15"),
    (1e16, "1e+16"),
    (123456789012345.0, "123456789012345"),
    (1234567890123456.0, "1234567890123456"),
    (-2.5, "-2.5"),
    (100000.1, "100000.1"),
    (0.0001, "1e-04"),
    (0.001, "0.001"),
    (0.00015, "0.00015"),
    (1e300, "1e+300"),
    (1e-300, "1e-300"),
    (0.0, "0"),
    (-1.0, "-1"),
    (1234567.1, "1234567.1"),
    (0.00001234, "1.234e-05"),
    (math.inf, "Inf"),
]


@pytest.mark.parametrize(("x", "text"), NUMBERS)
def test_numbers_formatted_as_r(x, text):
    assert format_r_number(x) == text


def test_to_polars_evaluates_like_r():
    df = pl.DataFrame({"x": [1.0, 4.0, None], "a": [True, None, False], "z": [7, -7, 2]})
    exprs = {
        "log(x, 2)": [0.0, 2.0, None],
        "log(x, base = 4)": [0.0, 1.0, None],
        "sqrt(x)": [1.0, 2.0, None],
        "I(-x)": [-1.0, -4.0, None],
        "I(z %% 3)": [1.0, 2.0, 2.0],
        "I(z %/% 3)": [2.0, -3.0, 0.0],
        "I(x^2)": [1.0, 16.0, None],
        "I(a & x > 2)": [False, None, False],
        "I(a | x > 2)": [True, True, None],
        "I(!a)": [False, None, True],
        "exp(0 * z)": [1.0, 1.0, 1.0],
        "abs(z)": [7.0, 7.0, 2.0],
    }
    for text, expected in exprs.items():
        e = parse_rhs(text).terms[0][0]
        assert df.select(e.to_polars()).to_series().to_list() == expected, text
    scaled = parse_rhs("scale(x)").terms[0][0]
    assert df.select(scaled.to_polars({"scale(x)": (1.0, 3.0)})).to_series().to_list() == [0.0, 1.0, None]


def test_unsupported_operator_is_a_model_spec_error():
    with pytest.raises(ModelSpecError, match="operator %in% cannot be evaluated in a %in% b"):
        parse_rhs("I(a %in% b)").terms[0][0].to_polars()


def _caret_column(message: str) -> int:
    return message.splitlines()[-1].index("^") - 2


SYNTAX_ERRORS = [
    ("y ~ x + (1 | g))", 15, "unexpected ')'"),
    ("y ~ x +", 7, "unexpected end of formula"),
    ("y ~ log(x", 9, "expected ',' or ')', found end of formula"),
    ("y ~ log(x y)", 10, "expected ',' or ')', found 'y'"),
    ("y ~ x $ z", 6, "unexpected character '$'"),
    ("y ~ x y", 6, "unexpected 'y'"),
    ("y x", 2, "unexpected 'x'"),
    ("y ~ x ~ z", 6, "only one '~'"),
    ("y + x", 5, "needs '~'"),
    ("y ~ poly(x, 2)", 4, "unknown function poly()"),
]


@pytest.mark.parametrize(("text", "column", "fragment"), SYNTAX_ERRORS)
def test_syntax_errors_show_a_caret(text, column, fragment):
    with pytest.raises(ModelSpecError, match="invalid formula") as err:
        parse_formula(text)
    message = str(err.value)
    assert fragment in message
    assert message.splitlines()[-2].strip() == text
    assert _caret_column(message) == column


def test_unknown_function_lists_the_supported_ones():
    with pytest.raises(ModelSpecError) as err:
        parse_formula("y ~ x + (1 + ns(t) | g)")
    assert "ns()" in str(err.value)
    assert all(name in str(err.value) for name in SUPPORTED_FUNCTIONS)


TERM_ERRORS = [
    ("y ~ x + 1 | g", "must be in parentheses"),
    ("y ~ x * (1 | g)", "must be added with '+'"),
    ("y ~ x > 2", "inside I()"),
    ("y ~ .", "'.'"),
    ("y ~ (a + b)^1.5", "positive integer"),
    ("y ~ (a + b)^x", "positive integer"),
    ("cbind(s) ~ x", "cbind() takes 2 arguments"),
    ("log(cbind(s, f)) ~ x", "must be the whole response"),
    ("y ~ cbind(a, b)", "only allowed as the response"),
    ("y ~ (0 | g)", "no columns"),
    ("y ~ (1 | g > 2)", "grouping factor"),
    ("y ~ (1 + offset(o) | g)", "offsets"),
    ("y ~ log(x, 2, 3)", "log() takes 1 or 2 arguments"),
    ("y ~ log(x, digits = 2)", "unsupported argument"),
    ("y ~ sqrt(x, 2)", "sqrt() takes 1 argument"),
    ("y ~ 'a'", "not a model term"),
]


@pytest.mark.parametrize(("text", "fragment"), TERM_ERRORS)
def test_invalid_terms(text, fragment):
    with pytest.raises(ModelSpecError) as err:
        parse_formula(text)
    assert fragment in str(err.value)
    assert isinstance(err.value, ValueError)


def test_parse_rhs_errors():
    with pytest.raises(ModelSpecError, match="one-sided"):
        parse_rhs("y ~ x")
    with pytest.raises(ModelSpecError, match="not allowed"):
        parse_rhs("~ x + (1 | g)")
