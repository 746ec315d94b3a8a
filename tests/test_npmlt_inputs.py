"""Bad input: one parametrized test of (input, exception, message fragment), and the response
codings npmlt accepts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glmmx as gx
from glmmx.exceptions import ModelSpecError

pl = pytest.importorskip("polars")


def toy(n_clusters=12, seed=1):
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(n_clusters), 5)
    x = rng.normal(size=ids.size)
    g = (ids % 2).astype(float)
    b = rng.normal(size=n_clusters)[ids]
    eta = b + 0.7 * x
    y = 1 + (eta + rng.logistic(size=ids.size) > -1).astype(int) + (eta + rng.logistic(size=ids.size) > 1).astype(int)
    return pl.DataFrame({"id": ids, "y": y, "x": x, "g": g})


def with_y(values):
    df = toy()
    return df.with_columns(y=pl.Series(np.resize(np.asarray(values), df.height)))


CASES = [
    ("single category", dict(data=with_y([2])), "single category"),
    ("skipped level", dict(data=with_y([1, 2, 4])), "category 3 has no observations"),
    ("k > clusters", dict(k=13), "need at least 13 clusters"),
    ("npo column not in formula", dict(formula="y ~ x", npo="~g"), "'g' is not a column of the fixed design"),
    ("npo variable not in data", dict(npo="~foo"), "npo='~foo': term 'foo' uses 'foo'"),
    ("random term not a column", dict(random="~1 + foo"), "random='~1 + foo': term 'foo' uses 'foo'"),
    ("random without intercept", dict(random="~0 + x"), "has no intercept"),
    ("id missing", dict(id=None), "id= is missing"),
    ("id not a column", dict(id="patient"), "id column 'patient' is not a column"),
    ("id with missing values", dict(data=toy().with_columns(id=pl.when(pl.col("x") > 1.5).then(None).otherwise(pl.col("id")))), "missing value"),
    ("bad link", dict(link="probit"), "link must be one of"),
    ("k = 0", dict(k=0), "k must be a positive integer"),
    ("bad se", dict(se="sandwich"), "se must be one of"),
    ("bad random_dist", dict(random_dist="gamma"), "random_dist must be one of"),
    ("non-integer response", dict(data=toy().with_columns(y=pl.col("x"))), "whole numbers"),
    ("normal with 3 dimensions", dict(random="~1 + x + g", random_dist="normal"), "up to 2 dimensions"),
    ("normal with nagq 1", dict(random_dist="normal", nagq=1), "needs nagq >= 3"),
]


@pytest.mark.parametrize("what,change,fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_a_clear_error(what, change, fragment):
    args = dict(formula="y ~ x + g", data=toy(), id="id", k=2) | change
    with pytest.raises(ModelSpecError, match=None) as err:
        gx.npmlt(args.pop("formula"), args.pop("data"), **args)
    assert fragment in str(err.value), str(err.value)


def fit(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gx.npmlt("y ~ x", df, id="id", k=2, **kw)


def test_string_enum_and_integer_responses_agree():
    df = toy()
    labels = ["low", "mid", "high"]
    as_int = fit(df)
    as_enum = fit(df.with_columns(y=pl.col("y").map_elements(lambda v: labels[v - 1], return_dtype=pl.String).cast(pl.Enum(labels))))
    as_zero = fit(df.with_columns(y=pl.col("y") - 1))
    assert as_int.categories == ("1", "2", "3") and as_enum.categories == tuple(labels)
    assert as_zero.categories == ("0", "1", "2")
    for other in (as_enum, as_zero):
        assert other.m2loglik == pytest.approx(as_int.m2loglik, abs=1e-9)
    assert "low, mid, high" in as_enum.summary()


def test_enum_with_an_empty_category_names_it():
    df = toy()
    labels = ["a", "b", "c", "d"]
    y = df["y"].map_elements(lambda v: {1: "a", 2: "b", 3: "d"}[v], return_dtype=pl.String).cast(pl.Enum(labels))
    with pytest.raises(ModelSpecError, match="category 'c' has no observations"):
        gx.npmlt("y ~ x", df.with_columns(y=y), id="id", k=2)


def test_binary_response_is_q2_and_both_links_agree():
    df = toy().with_columns(y=(pl.col("y") >= 2).cast(pl.Int64) + 1)
    a, b = fit(df, link="clogit"), fit(df, link="blogit")
    assert a.categories == ("1", "2") and len(a.alpha) == 1
    assert a.m2loglik == pytest.approx(b.m2loglik, abs=1e-8)


def test_outputs_have_the_documented_shapes():
    df = toy()
    f = fit(df, random="~1 + x")
    m = df["id"].n_unique()
    assert f.mass_points.shape == (2, 2) and f.se_mass_points.shape == (2, 2)
    assert f.masses.shape == (2,) and f.re_vcov().shape == (2, 2) and f.se_re_var.shape == (2,)
    post = f.posterior()
    assert post.height == 2 * m and post.columns == ["id", "mass_point", "probability"]
    assert post.group_by("id").agg(pl.col("probability").sum())["probability"].to_numpy() == pytest.approx(1.0)
    assert f.ranef().shape == (m, 3)
    p = f.predict()
    assert p.shape == (df.height, 3) and np.allclose(p.sum_horizontal().to_numpy(), 1.0)
    assert f.predict(type="cumprob").shape == (df.height, 2)
    assert f.predict(type="class").len() == df.height
    pc = f.predict(df.head(7), re="conditional")
    np.testing.assert_allclose(pc.to_numpy(), f.predict(re="conditional").head(7).to_numpy(), atol=1e-12)
    tab = f.coef_table()
    assert tab.columns == ["term", "estimate", "std_error", "z_value", "p_value"]
    assert f.aic == pytest.approx(f.m2loglik + 2 * (2 + 1 + 1 * 3))
