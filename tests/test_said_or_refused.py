"""Silently wrong results made loud, and valid input no longer refused (issue #14): a transform
that produces NaN, non-integer binomial counts and non-finite simulation parameters are warned
about or refused by name; a response with a tiny spread about a large mean fits; an empty frame,
a formula without a response and a mixed-type id column get errors naming what is wrong."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import glmmx as gx



@pytest.fixture(scope="module")
def hr():
    d = gx.datasets.load("HR")
    return d.with_columns(HR_incr=(pl.col("HR") > pl.col("baseHR")).cast(pl.Int64))


@pytest.fixture(scope="module")
def sleep():
    return gx.datasets.load("sleepstudy")


def test_a_transform_that_produces_nan_is_warned_about_with_its_count(hr):
    times = hr["Time"].to_numpy()
    expected = int((times - 0.2 <= 0).sum())
    assert expected > 0
    with pytest.warns(gx.FitWarning, match=rf"log\(Time - 0.2\) produced NaN in {expected} of {hr.height} rows"):
        fit = gx.lmer("HR ~ log(Time - 0.2) + (1 | Patient)", hr)
    assert fit.nobs == hr.height - expected


def test_missing_inputs_alone_are_not_called_produced(hr):
    d = hr.with_columns(Time=pl.when(pl.col("Time") == 1).then(None).otherwise(pl.col("Time")))
    with warnings.catch_warnings():
        warnings.simplefilter("error", gx.FitWarning)
        gx.lmer("HR ~ log(Time) + (1 | Patient)", d)


def test_non_integer_binomial_counts_are_warned_about():
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(20), 5)
    s = rng.integers(0, 5, g.size).astype(float)
    d = pl.DataFrame({"s": s + 0.5, "f": 5 - s, "g": g})
    with pytest.warns(gx.FitWarning, match="non-integer cbind"):
        gx.glmer("cbind(s, f) ~ 1 + (1 | g)", d, family="binomial")


def test_simulation_parameters_must_be_finite(hr):
    fit = gx.glmer("HR_incr ~ Time + (1 | Patient)", hr, family="binomial")
    with pytest.raises(gx.ModelSpecError, match=r"params\['beta'\] must be finite"):
        fit.simulate(nsim=2, params={"beta": [np.nan, 0.0]})
    with pytest.raises(gx.ModelSpecError, match=r"params\['theta'\] must be finite"):
        fit.simulate(nsim=2, params={"theta": [np.inf]})


def test_a_tiny_spread_about_a_large_mean_still_fits(sleep):
    """lmer's fit is equivariant under y -> a + c*y: the shrunken response has the same θ and β
    up to the scale. Storing 300 + 1e-10*(Reaction - 300) rounds each value by up to 300 *
    2^-53 = 3e-14, against deviations of ~5e-9: the shrunken data are the original ones
    perturbed by ~1e-5 relative, so the estimates agree to that, not to the last bit."""
    base = gx.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    c = 1e-10
    tiny = sleep.with_columns(Reaction=300 + c * (pl.col("Reaction") - 300))
    fit = gx.lmer("Reaction ~ Days + (Days | Subject)", tiny)
    assert fit.converged, fit.message
    np.testing.assert_allclose(fit.theta, base.theta, rtol=1e-4)
    np.testing.assert_allclose(fit.beta[1] / c, base.beta[1], rtol=1e-4)
    np.testing.assert_allclose(fit.sigma / c, base.sigma, rtol=1e-4)
    assert fit.beta[0] == pytest.approx(300 + c * (base.beta[0] - 300), rel=1e-12)


def test_a_response_fitted_exactly_is_still_refused(sleep):
    d = sleep.with_columns(Reaction=pl.lit(250.0))
    with pytest.raises(Exception, match="fitted exactly|constant|no variation"):  # noqa: PT011
        gx.lmer("Reaction ~ Days + (1 | Subject)", d)


@pytest.mark.parametrize("model", ["lmer", "glmer"])
def test_an_empty_frame_is_refused_as_empty(hr, model):
    empty = hr.head(0)
    call = {"lmer": lambda: gx.lmer("HR ~ Time + (1 | Patient)", empty),
            "glmer": lambda: gx.glmer("HR_incr ~ Time + Drug + (1 | Patient)", empty, family="binomial")}[model]
    with pytest.raises(gx.ModelSpecError, match="no rows"):
        call()


@pytest.mark.parametrize("model", ["lmer", "glmer"])
def test_a_formula_without_a_response_is_refused_by_name(hr, model):
    call = {"lmer": lambda: gx.lmer("~ Time + (1 | Patient)", hr),
            "glmer": lambda: gx.glmer("~ Time + (1 | Patient)", hr, family="binomial")}[model]
    with pytest.raises(gx.ModelSpecError, match="response"):
        call()


def test_a_pandas_id_column_mixing_numbers_and_strings_is_named():
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(3)
    ids = [i if i % 2 else f"p{i}" for i in np.repeat(np.arange(20), 4)]
    df = pd.DataFrame({"y": rng.integers(0, 2, 80), "x": rng.normal(size=80), "g": pd.Series(ids, dtype=object)})
    with pytest.raises(gx.ModelSpecError, match="'g'"):
        gx.glmer("y ~ x + (1 | g)", df, family="binomial")


def _separated_by_patient(hr, seed=1):
    rng = np.random.default_rng(seed)
    patients = hr["Patient"].unique().sort().to_list()
    label = dict(zip(patients, rng.integers(0, 2, len(patients)).tolist()))
    return hr.with_columns(y=pl.col("Patient").replace_strict(label, return_dtype=pl.Int64))


@pytest.mark.parametrize("nagq", [1, 5, 20])
def test_every_cluster_all_0_or_all_1_is_not_converged_for_any_nagq(hr, nagq):
    """σ → ∞: the optimiser stops where the likelihood's flattening outruns its tolerance
    (θ = 60, 120 and 33 at nagq 1, 5 and 20 on these data); that is not a maximum."""
    d = _separated_by_patient(hr)
    with pytest.warns(gx.ConvergenceWarning, match="every cluster of Patient is all successes or all failures"):
        fit = gx.glmer("y ~ Time + (1 | Patient)", d, family="binomial", nagq=nagq)
    assert not fit.converged


def test_one_unseparated_cluster_leaves_the_fit_alone(hr):
    d = _separated_by_patient(hr)
    first = d["Patient"][0]
    d = d.with_columns(y=pl.when((pl.col("Patient") == first) & (pl.col("Time") == 1)).then(1 - pl.col("y")).otherwise(pl.col("y")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = gx.glmer("y ~ Time + (1 | Patient)", d, family="binomial")
    assert "unbounded" not in fit.message


def test_a_binary_observation_level_effect_is_not_called_unbounded():
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(30), 4)
    d = pl.DataFrame({"y": rng.integers(0, 2, g.size), "g": g, "obs": np.arange(g.size)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = gx.glmer("y ~ 1 + (1 | g) + (1 | obs)", d, family="binomial")
    assert "unbounded" not in fit.message


def test_a_crossed_factor_that_separates_is_reported(hr):
    d = _separated_by_patient(hr).with_columns(item=pl.col("Time").cast(pl.String))
    with pytest.warns(gx.ConvergenceWarning, match="every cluster of Patient is all successes or all failures"):
        fit = gx.glmer("y ~ 1 + (1 | Patient) + (1 | item)", d, family="binomial")
    assert not fit.converged


def test_separated_bootstrap_replicates_are_flagged_and_counted(hr):
    """A drug level with few successes: some simulated responses have none there, so that
    level's coefficient has no finite maximum in those replicates."""
    rng = np.random.default_rng(7)
    d = hr.with_columns(y=pl.when(pl.col("Drug") == "a").then(pl.Series((rng.random(hr.height) < 0.04).astype(np.int64)))
                        .otherwise(pl.col("HR_incr")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = gx.glmer("y ~ Drug + (1 | Patient)", d, family="binomial")
    with pytest.warns(gx.FitWarning, match="bootstrap replicates are separated"):
        boot = fit.bootstrap(nsim=60, seed=2, progress=False)
    per_rep = boot.table.filter(pl.col("term") == "(Intercept)")
    sep = per_rep.filter(pl.col("separated"))
    assert sep.height > 0
    assert not sep["converged"].any()
    assert sep["message"].str.starts_with("separated: the rows with").all()
    # the replicates flagged are exactly those whose simulated response has no success or
    # nothing but successes on one side of a Drug dummy
    y = fit.simulate(nsim=60, seed=2)
    X = fit._core_args[3]
    expected = set()
    for j in range(1, X.shape[1]):
        for rows in (X[:, j] == 1, X[:, j] == 0):
            s = y[rows].sum(axis=0)
            expected |= set(np.flatnonzero((s == 0) | (s == rows.sum())).tolist())
    assert set(sep["sim"].to_list()) == expected
    ci = boot.confint()
    assert (ci["n_separated"] == sep.height).all()
    assert (ci["n"] <= 60 - sep.height).all()
