"""The seed lecture's Muscatine analysis (examples/muscatine.py): the count table made long by
the example's own two unpivots, fitted on the clusters with ``group_weights`` and on the
expanded data, and compared with lme4 (tests/reference/muscatine_*.json, made by
tests/reference/muscatine_lme4.R; R call and versions inside)."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import glmmx as gx
from conftest import reference

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _example():
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location("muscatine_example", EXAMPLES / "muscatine.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(EXAMPLES))


EX = _example()


@pytest.fixture(scope="module")
def long():
    return EX.visits(EX.clusters(gx.datasets.load("MCRS")))


@pytest.fixture(scope="module")
def grouped(long):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no separation false alarm, no convergence warning
        return gx.glmer(EX.FORMULA, data=long, family="binomial", nagq=10, group_weights="Count")


@pytest.fixture(scope="module")
def expanded(long):
    data = gx.uncount(long, "Count", id="id")
    return gx.glmer(EX.FORMULA.replace("| id", "| id_expanded"), data=data, family="binomial", nagq=10)


def test_long_form_is_the_study(long):
    children = long.group_by("id").agg(pl.col("Count").first())["Count"].sum()
    assert children == 4856 and long.height == 502
    assert (long["Count"] * 1).sum() == 9856  # child-visits with a measurement, as na.omit leaves them
    raw = gx.datasets.load("muscatine").drop_nulls("obese")
    assert raw.height == 9856 and (raw["obese"] == "yes").sum() == (long["obese"] * long["Count"]).sum()


def test_counts_and_expanded_data_give_the_same_fit(grouped, expanded):
    assert grouped.converged and expanded.converged
    assert abs(grouped.loglik - expanded.loglik) < 1e-8
    np.testing.assert_allclose(np.array(list(grouped.fixef().values())), np.array(list(expanded.fixef().values())), rtol=1e-6, atol=1e-8)
    assert grouped.varcorr()["sdcor"][0] == pytest.approx(expanded.varcorr()["sdcor"][0], rel=1e-6)
    # the clusters count with their frequencies: 4,856 children, 9,856 observations either way
    assert grouped.ngroups == expanded.ngroups == 4856 and grouped.nobs == expanded.nobs == 9856
    assert abs(grouped.bic - expanded.bic) < 1e-7
