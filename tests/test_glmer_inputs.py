"""Bad input gets a clear Python exception naming the column, term or argument; missing
values are dropped and counted; separation is reported, not crashed on."""

from __future__ import annotations

import math
import warnings

import numpy as np
import polars as pl
import pytest
from simulate import clustered

import glmmx as gx
from glmmx.exceptions import ConvergenceWarning, FitWarning, ModelSpecError


@pytest.fixture(scope="module")
def data():
    return clustered(n_clusters=30, seed=31).with_columns(count=pl.col("y") * 3, h=pl.col("g").str.slice(0, 3))


def bad(data, formula, match, **kw):
    with pytest.raises(ModelSpecError, match=match):
        gx.glmer(formula, data=data, **kw)


@pytest.mark.parametrize(
    "formula,kw,match",
    [
        ("y ~ xx + (1 | g)", {}, "xx"),
        ("y ~ x + (1 | gg)", {}, "gg"),
        ("count ~ x + (1 | g)", {}, r"count.*not binary|outside \[0, 1\]"),
        ("y ~ x + (1 | g)", {"family": "gaussian"}, "family"),
        ("y ~ x + (1 | g)", {"link": "log"}, "link 'log' is not available for the binomial"),
        ("y ~ x + (1 | g)", {"nagq": -1}, "nagq"),
        ("y ~ x + (1 | g)", {"nagq": 2.5}, "nagq"),
        ("y ~ x + (1 | g)", {"nagq": "10"}, "nagq"),
        ("y ~ x + (1 | g)", {"nagq": True}, "nagq"),
        ("y ~ x + (1 | g) + (1 | h)", {"nagq": 5}, "nagq > 1.*single grouping factor.*g, h.*nagq=1"),
        ("y ~ x + (1 | g/h)", {"nagq": 2}, "nagq > 1.*single grouping factor"),
        ("y ~ x + (1 | g) + (1 | h)", {"group_weights": "n"}, "group_weights needs a single grouping factor"),
        ("y ~ x + (1 | g/g)", {}, "g is nested in itself"),
        ("y ~ x +", {}, r"\^"),
        ("y ~ x + (1 | g", {}, r"\^"),
        ("y ~ foo(x) + (1 | g)", {}, "foo"),
        ("y ~ x", {}, r"random-effects term"),
        ("y ~ x + (1 | g)", {"threads": 0}, "threads"),
        ("y ~ x + (1 | g)", {"weights": "nope"}, "nope"),
    ],
)
def test_bad_input_raises_a_clear_error(data, formula, kw, match):
    bad(data, formula, match, **kw)


def test_poisson_counts_must_be_non_negative_integers(data):
    bad(data.with_columns(c=pl.col("x").abs() + 0.5), "c ~ z + (1 | g)", "non-integer", family="poisson")
    bad(data.with_columns(c=-pl.col("count")), "c ~ z + (1 | g)", "negative", family="poisson")


def test_infinite_values(data):
    bad(data.with_columns(x=pl.when(pl.col("z") > 1.5).then(float("inf")).otherwise(pl.col("x"))), "y ~ x + (1 | g)", "x")
    bad(data.with_columns(w=pl.col("x").abs() - pl.col("x").abs()), "y ~ log(w) + (1 | g)", r"log\(w\)")


def test_grouping_factor_with_one_level(data):
    bad(data.with_columns(g=pl.lit("only")), "y ~ x + (1 | g)", "g has only one level")
    bad(data.with_columns(h=pl.lit("only")), "y ~ x + (1 | g) + (1 | h)", "h has only one level")


@pytest.mark.parametrize("nagq", [0, 1])
def test_several_grouping_factors_fit(data, nagq):
    """Crossed and nested grouping factors fit with Laplace and nagq=0 (they used to raise)."""
    crossed = gx.glmer("y ~ x + (1 | g) + (1 | h)", data=data, nagq=nagq)
    nested = gx.glmer("y ~ x + (1 | h/g)", data=data, nagq=nagq)
    assert crossed.converged and nested.converged
    assert crossed.ngroups == {"g": 30, "h": data["h"].n_unique()}
    assert [t.name for t in nested.re.terms] == ["g:h", "h"]


def test_empty_after_dropping_missing_rows(data):
    bad(data.with_columns(x=pl.lit(None, dtype=pl.Float64)), "y ~ x + (1 | g)", "no rows left")


def test_negative_weights(data):
    bad(data.with_columns(w=-pl.col("n")), "y ~ x + (1 | g)", "weights", weights="w")


def test_group_weights_must_be_constant_within_a_cluster(data):
    bad(data.with_columns(w=pl.int_range(pl.len())), "y ~ x + (1 | g)", "constant within each level of g", group_weights="w")


def test_missing_values_are_dropped_counted_and_reported(data):
    holes = data.with_columns(
        x=pl.when(pl.int_range(pl.len()) % 17 == 0).then(None).otherwise(pl.col("x")),
        y=pl.when(pl.int_range(pl.len()) % 23 == 5).then(None).otherwise(pl.col("y")),
    )
    n_missing = holes.select(pl.any_horizontal(pl.col("x").is_null(), pl.col("y").is_null()).sum()).item()
    fit = gx.glmer("y ~ x + (1 | g)", data=holes)
    same = gx.glmer("y ~ x + (1 | g)", data=holes.drop_nulls(["x", "y"]))
    assert fit.n_dropped == n_missing > 0
    assert fit.nobs == holes.height - n_missing
    assert fit.loglik == pytest.approx(same.loglik, abs=1e-10)
    assert f"{n_missing} rows with missing values dropped" in fit.summary()


def test_random_effects_header_with_a_group_name_shorter_than_groups(data):
    """lme4 pads the Groups column to its header: ' Groups Name', never a header cut into
    by a short grouping factor's name (as ' Groupsame')."""
    lines = gx.glmer("y ~ x + (1 | g)", data=data).summary().splitlines()
    block = lines[lines.index("Random effects:") + 1 :]
    assert block[0].split() == ["Groups", "Name", "Variance", "Std.Dev."]
    assert block[1].split()[:2] == ["g", "(Intercept)"]


def test_nan_counts_as_missing(data):
    holes = data.with_columns(x=pl.when(pl.int_range(pl.len()) == 3).then(float("nan")).otherwise(pl.col("x")))
    assert gx.glmer("y ~ x + (1 | g)", data=holes).n_dropped == 1


def test_rank_deficiency_drops_and_names_the_aliased_column(data):
    with pytest.warns(FitWarning, match="x2"):
        fit = gx.glmer("y ~ x + x2 + (1 | g)", data=data.with_columns(x2=2 * pl.col("x")))
    assert "x2" not in fit.fixef() and fit.dropped_columns == ("x2",)


def test_perfect_separation_is_flagged_not_crashed():
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(20), 6)
    x = rng.normal(size=g.size)
    df = pl.DataFrame({"y": (x > 0).astype(int), "x": x, "g": g})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = gx.glmer("y ~ x + (1 | g)", data=df)
    messages = [str(w.message) for w in caught if issubclass(w.category, (FitWarning, ConvergenceWarning))]
    assert any("separation" in m and "x" in m for m in messages), messages
    assert abs(fit.fixef()["x"]) > 10 or not math.isfinite(fit.fixef()["x"])
    assert "separation" in fit.summary()


def test_pandas_and_lazyframe_inputs(data):
    ref = gx.glmer("y ~ x + (1 | g)", data=data)
    assert gx.glmer("y ~ x + (1 | g)", data=data.to_pandas()).loglik == pytest.approx(ref.loglik, abs=1e-10)
    assert gx.glmer("y ~ x + (1 | g)", data=data.lazy()).loglik == pytest.approx(ref.loglik, abs=1e-10)


def test_unsupported_data_type():
    with pytest.raises(ModelSpecError, match="DataFrame"):
        gx.glmer("y ~ x + (1 | g)", data=[1, 2, 3])


def test_non_convergence_is_reported():
    data = clustered(n_clusters=30, seed=32)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = gx.glmer("y ~ x + z + (1 | g)", data=data, max_iter=1)
    assert not fit.converged and "failed to converge" in fit.summary()


def test_completely_separated_clusters_give_nan_standard_errors_not_an_exception():
    """Every cluster all-0 or all-1 and a covariate that separates them: the Fisher
    information of β is singular as well as the Hessian. The fit must report that."""
    g = np.repeat(np.arange(12), 4)
    x = np.repeat(np.linspace(-1, 1, 12), 4)
    df = pl.DataFrame({"y": (x > 0).astype(int), "x": x, "g": g})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = gx.glmer("y ~ x + (1 | g)", data=df)
    messages = " ".join(str(w.message) for w in caught)
    assert "separation" in messages
    assert not np.all(np.isfinite(fit.std_errors)) or fit.std_errors.max() > 100 or "standard errors" in messages
