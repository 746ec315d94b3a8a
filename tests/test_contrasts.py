"""Factor codings as R's: treatment, sum, helmert, poly (the default for ordered factors) and
matrices; R's column names; the fit's span (hence the ML likelihood, the fitted values and
lmerTest's type III table) does not depend on the coding; new data are coded as the fit was;
bad contrasts and misread columns are named. Numbers against R: tests/reference/cake_*.json."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import glmmx as gx
from glmmx.design.contrasts import contrast, orthogonal_polynomials
from glmmx.exceptions import FitWarning, ModelSpecError

pd = pytest.importorskip("pandas")

TEMPERATURES = [str(t) for t in range(175, 235, 10)]
CAKE = "angle ~ recipe * temperature + (1 | recipe:replicate)"


def cake_like(seed: int = 3) -> pl.DataFrame:
    """lme4's cake layout (3 recipes x 15 replicates x 6 temperatures) with simulated angles."""
    rng = np.random.default_rng(seed)
    recipe = np.repeat(["A", "B", "C"], 90)
    replicate = np.tile(np.repeat(np.arange(1, 16), 6), 3)
    temp = np.tile(np.arange(175, 235, 10), 45)
    b = rng.normal(0, 6, 45)[np.repeat(np.arange(45), 6)]
    angle = 20 + 0.08 * (temp - 175) + (recipe == "B") * 1.5 + b + rng.normal(0, 5, 270)
    return pl.DataFrame({"replicate": replicate, "recipe": recipe, "temperature": temp.astype(str), "angle": angle}).with_columns(
        pl.col("temperature").cast(pl.Enum(TEMPERATURES)))


def test_contrast_matrices_have_their_defining_properties():
    levels = list("abcde")
    tr, su, he, po = (contrast(k, levels, "f") for k in ("treatment", "sum", "helmert", "poly"))
    np.testing.assert_array_equal(tr.matrix, np.eye(5)[:, 1:])
    assert tr.suffixes == ("b", "c", "d", "e") and su.suffixes == he.suffixes == ("1", "2", "3", "4")
    np.testing.assert_allclose(su.matrix.sum(axis=0), 0.0)
    np.testing.assert_allclose(he.matrix.sum(axis=0), 0.0)
    np.testing.assert_allclose(he.matrix.T @ he.matrix, np.diag([2.0, 6.0, 12.0, 20.0]))  # orthogonal columns
    np.testing.assert_allclose(po.matrix.T @ po.matrix, np.eye(4), atol=1e-14)  # orthonormal
    np.testing.assert_allclose(po.matrix.sum(axis=0), 0.0, atol=1e-14)  # orthogonal to the constant
    assert po.suffixes == (".L", ".Q", ".C", "^4")
    # degree j: a polynomial of degree j in the scores, increasing in its leading term
    for j in range(4):
        coef = np.polyfit(np.arange(1.0, 6.0), po.matrix[:, j], j + 1)
        assert coef[0] > 0 and np.allclose(np.polyval(coef, np.arange(1.0, 6.0)), po.matrix[:, j])
    assert orthogonal_polynomials(np.array([1.0, 2.0, 4.0]), 2).shape == (3, 2)


def test_ordered_pandas_categorical_gets_poly_and_names_as_r():
    d = cake_like().to_pandas()
    d["temperature"] = pd.Categorical(d["temperature"], categories=TEMPERATURES, ordered=True)
    fit = gx.lmer(CAKE, d)
    assert fit.x_names[:8] == ("(Intercept)", "recipeB", "recipeC", "temperature.L", "temperature.Q",
                               "temperature.C", "temperature^4", "temperature^5")
    assert fit.x_names[8] == "recipeB:temperature.L"
    same = gx.lmer(CAKE, cake_like(), contrasts={"temperature": "poly"})
    assert same.reml_criterion == pytest.approx(fit.reml_criterion, abs=1e-9)
    via_call = gx.lmer("angle ~ recipe * ordered(temperature) + (1 | recipe:replicate)", cake_like())
    assert via_call.reml_criterion == pytest.approx(fit.reml_criterion, abs=1e-9)


@pytest.mark.parametrize("coding", [{"recipe": "sum"}, {"temperature": "helmert"}, {"recipe": "contr.sum", "temperature": "poly"}])
def test_the_span_does_not_depend_on_the_coding(coding):
    d = cake_like()
    base = gx.lmer(CAKE, d, reml=False)
    other = gx.lmer(CAKE, d, reml=False, contrasts=coding)
    assert other.loglik == pytest.approx(base.loglik, abs=1e-7)
    np.testing.assert_allclose(other.predict(), base.predict(), atol=1e-6)
    a, b = gx.lmer(CAKE, d).anova(type=3), gx.lmer(CAKE, d, contrasts=coding).anova(type=3)
    assert a["term"].to_list() == b["term"].to_list()
    np.testing.assert_allclose(b["f_value"].to_numpy(), a["f_value"].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(b["den_df"].to_numpy(), a["den_df"].to_numpy(), rtol=1e-4)


def test_new_data_are_coded_as_the_fit_was():
    d = cake_like()
    fit = gx.lmer(CAKE, d, contrasts={"temperature": "poly", "recipe": "sum"})
    new = d.head(12).reverse()  # other row order, a subset of the levels
    np.testing.assert_allclose(fit.predict(new), fit.predict()[:12][::-1], atol=1e-9)
    glm = gx.glmer("y ~ recipe + (1 | g)", d.with_columns(y=(pl.col("angle") > 30).cast(pl.Int64), g=pl.col("replicate")),
                   family="binomial", contrasts={"recipe": "helmert"})
    assert glm.x_names == ("(Intercept)", "recipe1", "recipe2")


def test_a_matrix_contrast_with_names():
    d = cake_like()
    M = pl.DataFrame({"BvsA": [-1.0, 1.0, 0.0], "CvsAB": [-0.5, -0.5, 1.0]})
    fit = gx.lmer("angle ~ recipe + (1 | recipe:replicate)", d, contrasts={"recipe": M})
    assert fit.x_names == ("(Intercept)", "recipeBvsA", "recipeCvsAB")
    beta = fit.fixef()
    means = d.group_by("recipe").agg(pl.col("angle").mean()).sort("recipe")["angle"].to_numpy()
    assert beta["recipeBvsA"] == pytest.approx((means[1] - means[0]) / 2, abs=1e-6)  # balanced: cell means


@pytest.mark.parametrize(
    "contrasts, match",
    [
        ({"recipe": "summ"}, "unknown contrast 'summ' for factor recipe"),
        ({"temp": "sum"}, "'temp', which is not a factor of the model"),
        ({"recipe": np.ones((2, 2))}, "needs 3 rows .* and 2 columns"),
        ({"recipe": np.array([[1.0, 0], [1, 0], [1, 1]])}, "singular together with the intercept"),
        ({"recipe": "abc"}, "unknown contrast"),
        ({"recipe": object()}, "must be a name or a numeric matrix"),
    ],
)
def test_bad_contrasts_are_named(contrasts, match):
    with pytest.raises(ModelSpecError, match=match):
        gx.lmer("angle ~ recipe + (1 | recipe:replicate)", cake_like(), contrasts=contrasts)


def test_a_column_read_without_null_values_is_named():
    d = cake_like().with_columns(age=pl.Series(["10", "12", "NA"] * 90))
    with pytest.warns(FitWarning, match=r"column age .*'NA'.*null_values"):
        gx.lmer("angle ~ age + (1 | recipe:replicate)", d)
    with pytest.warns(FitWarning, match="column age holds numbers as text"):
        gx.lmer("angle ~ age + (1 | recipe:replicate)", d.with_columns(age=pl.Series(["10", "12", "14"] * 90)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)
        gx.lmer("angle ~ factor(age) + (1 | recipe:replicate)", d.with_columns(age=pl.Series(["10", "12", "14"] * 90)))


CBPP = "cbind(incidence, size - incidence) ~ {} + (1 | herd)"


@pytest.mark.parametrize(
    "term, names",
    [
        ('relevel(period, "3")', ['relevel(period, "3")1', 'relevel(period, "3")2', 'relevel(period, "3")4']),
        ('factor(period, levels = c("4", "3", "2", "1"))', [f'factor(period, levels = c("4", "3", "2", "1")){k}' for k in "321"]),
        ("C(period, sum)", ["C(period, sum)1", "C(period, sum)2", "C(period, sum)3"]),
        ("C(period, contr.helmert)", ["C(period, contr.helmert)1", "C(period, contr.helmert)2", "C(period, contr.helmert)3"]),
    ],
)
def test_level_order_and_contrasts_in_the_formula(term, names):
    cbpp = gx.datasets.load("cbpp")
    base = gx.glmer(CBPP.format("period"), cbpp, family="binomial")
    fit = gx.glmer(CBPP.format(term), cbpp, family="binomial")
    assert list(fit.x_names[1:]) == names
    assert fit.loglik == pytest.approx(base.loglik, abs=1e-7)  # same span
    np.testing.assert_allclose(fit.predict(cbpp), base.predict(cbpp), rtol=1e-6)
    if term.startswith("relevel"):  # period 3 is the reference: its contrast with period 1 flips sign
        assert fit.fixef()['relevel(period, "3")1'] == pytest.approx(-(base.fixef()["period3"]), abs=1e-4)


@pytest.mark.parametrize(
    "term, match",
    [
        ('relevel(period, "7")', "reference level '7' is not a level of the factor; its levels are 1, 2, 3, 4"),
        ('factor(period, levels = c("4", "3"))', "value\\(s\\) '1', '2' outside levels"),
        ("C(period, summ)", "unknown contrast 'summ'"),
        ("relevel(period, 3)", "reference level as a string"),
        ('factor(period, c("1"))', "levels = c"),
    ],
)
def test_bad_level_orders_are_named(term, match):
    with pytest.raises(ModelSpecError, match=match):
        gx.glmer(CBPP.format(term), gx.datasets.load("cbpp"), family="binomial")


@pytest.fixture(scope="module")
def lme4_ref():
    from conftest import reference

    return reference("contrasts_predict_lme4")


def _cake(ordered: bool):
    d = gx.datasets.load("cake").with_columns(pl.col("temperature").cast(pl.String).cast(pl.Enum(TEMPERATURES)))
    if not ordered:
        return d
    p = pd.DataFrame({c: d[c].to_numpy() for c in d.columns})
    p["temperature"] = pd.Categorical(p["temperature"], categories=TEMPERATURES, ordered=True)
    return p


@pytest.mark.parametrize(
    "name, data, kwargs, formula",
    [
        ("cake_poly", True, {}, CAKE),
        ("cake_treatment", False, {}, CAKE),
        ("cake_sum_helmert", False, {"contrasts": {"recipe": "sum", "temperature": "helmert"}}, CAKE),
        ("cake_relevel", False, {}, 'angle ~ relevel(recipe, "C") + temperature + (1 | recipe:replicate)'),
    ],
)
def test_cake_against_lme4(lme4_ref, name, data, kwargs, formula):
    """lme4 1.1-31 (R 4.2.2) on its cake data (tests/reference/contrasts_predict_lme4.R): the
    REML criterion depends on the coding, so it checks the coding as well as the fit."""
    ref = lme4_ref[name]
    fit = gx.lmer(formula, _cake(data), **kwargs)
    assert list(fit.x_names) == ref["terms"]
    assert fit.reml_criterion == pytest.approx(ref["reml_criterion"], abs=1e-6)
    np.testing.assert_allclose(list(fit.fixef().values()), ref["estimate"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fit.coef_table()["std_error"].to_numpy(), ref["std_error"], rtol=1e-4)


def test_contrast_matrices_equal_r(lme4_ref):
    np.testing.assert_allclose(contrast("poly", list("abcdef"), "f").matrix, np.array(lme4_ref["contr_poly_6"]), atol=1e-15)
    np.testing.assert_array_equal(contrast("helmert", list("abcd"), "f").matrix, np.array(lme4_ref["contr_helmert_4"]))
