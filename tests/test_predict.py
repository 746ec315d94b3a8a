"""predict as lme4's: re_form chooses the random-effects terms added, new grouping levels are
refused by name unless allow_new_levels=True (then the population value), bad arguments named.
Against R: tests/reference/predict_re_form.json when present (lme4's predict)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import glmmx as gx
from glmmx.exceptions import ModelSpecError


@pytest.fixture(scope="module")
def sleep():
    return gx.datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def uncorrelated(sleep):
    return gx.lmer("Reaction ~ Days + (Days || Subject)", sleep)


@pytest.fixture(scope="module")
def penicillin():
    return gx.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", gx.datasets.load("Penicillin"))


def _modes(fit, group, column):
    r = fit.ranef().filter((pl.col("group") == group) & (pl.col("term") == column))
    return dict(zip(r["level"].to_list(), r["mode"].to_list()))


def test_re_form_adds_only_the_named_terms(sleep, uncorrelated):
    fixed = uncorrelated.predict(re=False)
    intercepts = _modes(uncorrelated, "Subject", "(Intercept)")
    expected = fixed + np.array([intercepts[str(s)] for s in sleep["Subject"]])
    np.testing.assert_allclose(uncorrelated.predict(re_form="~(1 | Subject)"), expected, rtol=1e-12)
    np.testing.assert_allclose(uncorrelated.predict(sleep, re_form="~(1 | Subject)"), expected, rtol=1e-12)
    both = "~(1 | Subject) + (0 + Days | Subject)"
    np.testing.assert_allclose(uncorrelated.predict(sleep, re_form=both), uncorrelated.fitted(), rtol=1e-12)
    for none in (None, "NA", "~0"):
        np.testing.assert_allclose(uncorrelated.predict(sleep, re_form=none), fixed, rtol=1e-12)


def test_re_form_on_crossed_terms(penicillin):
    data = gx.datasets.load("Penicillin")
    plates = _modes(penicillin, "plate", "(Intercept)")
    expected = penicillin.predict(re=False) + np.array([plates[p] for p in data["plate"]])
    np.testing.assert_allclose(penicillin.predict(data, re_form="~(1 | plate)"), expected, rtol=1e-12)
    np.testing.assert_allclose(penicillin.predict(re_form="~(1 | plate)"), expected, rtol=1e-12)


def test_glmer_re_form_and_new_levels():
    cbpp = gx.datasets.load("cbpp")
    fit = gx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    np.testing.assert_allclose(fit.predict(cbpp, re_form=None), fit.predict(re=False), rtol=1e-12)
    new = cbpp.head(3).with_columns(herd=pl.lit(99))
    with pytest.raises(ModelSpecError, match="level\\(s\\) '99' of herd not in the fit.*allow_new_levels=True"):
        fit.predict(new)
    np.testing.assert_allclose(fit.predict(new, allow_new_levels=True), fit.predict(cbpp.head(3), re=False), rtol=1e-12)
    np.testing.assert_allclose(fit.predict(new, re_form="NA"), fit.predict(cbpp.head(3), re=False), rtol=1e-12)


def test_new_levels_are_named_only_for_added_terms(penicillin):
    data = gx.datasets.load("Penicillin").head(4).with_columns(sample=pl.lit("Z"))
    with pytest.raises(ModelSpecError, match="'Z' of sample not in the fit"):
        penicillin.predict(data)
    penicillin.predict(data, re_form="~(1 | plate)")  # sample's term is left out: no error


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"re": "~(1 | Subject)"}, "re must be True or False"),
        ({"re_form": "~(1 | Days)"}, "names \\(1 \\| Days\\), which is not a random-effects term of the model"),
        ({"re_form": "~ Days"}, "names fixed effects"),
        ({"re_form": 3}, "re_form must be a formula"),
        ({"re_form": "~(1 | Subject)", "re": False}, "not both"),
        ({"allow_new_levels": "yes"}, "allow_new_levels must be True or False"),
    ],
)
def test_bad_prediction_arguments_are_named(sleep, uncorrelated, kwargs, match):
    with pytest.raises(ModelSpecError, match=match):
        uncorrelated.predict(sleep, **kwargs)


def test_predictions_equal_lme4(sleep, uncorrelated):
    """lme4 1.1-31's predict (tests/reference/contrasts_predict_lme4.R)."""
    from conftest import reference

    ref = reference("contrasts_predict_lme4")
    s = ref["sleep_re_form"]
    np.testing.assert_allclose(uncorrelated.predict(sleep, re_form="~(1 | Subject)"), s["pred"], rtol=1e-6)
    np.testing.assert_allclose(uncorrelated.predict(sleep, re_form="NA"), s["pred_na"], rtol=1e-6)
    np.testing.assert_allclose(uncorrelated.predict(sleep), s["pred_all"], rtol=1e-6)
    p = ref["penicillin_new"]
    fit = gx.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", gx.datasets.load("Penicillin"))
    new = pl.DataFrame({"plate": ["a", "b", "zz"], "sample": ["A", "F", "A"]})
    np.testing.assert_allclose(fit.predict(new, allow_new_levels=True), p["pred_allow"], rtol=1e-6)
    np.testing.assert_allclose(fit.predict(new, re_form="~(1 | sample)", allow_new_levels=True), p["pred_sample"], rtol=1e-6)
    assert "zz" in p["error_without"]
    with pytest.raises(ModelSpecError, match="'zz' of plate"):
        fit.predict(new)
