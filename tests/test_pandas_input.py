"""pandas input needs only the declared dependencies: without pyarrow a pandas DataFrame is
read column by column, with the values, missing values, types and factor levels that
polars.from_pandas (with pyarrow) gives."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import polars as pl
import pytest

import glmmx as gx
from glmmx.design.pandas_input import from_pandas
from glmmx.exceptions import ModelSpecError

pd = pytest.importorskip("pandas")


def mixed_frame():
    return pd.DataFrame({
        "f": [1.5, np.nan, 3.0, 4.0],
        "i": np.array([1, 2, 3, 4], dtype=np.int32),
        "b": [True, False, True, True],
        "s": ["a", None, "c", "a"],
        "n": pd.array([1, None, 3, 4], dtype="Int64"),
        "nb": pd.array([True, None, False, True], dtype="boolean"),
        "c": pd.Categorical(["lo", "hi", None, "lo"], categories=["lo", "hi"]),
        "t": pd.to_datetime(["2024-01-01", "2024-01-02", None, "2024-01-04"]),
    }, index=[10, 11, 12, 13])


def test_columns_as_polars_reads_them_with_pyarrow():
    pytest.importorskip("pyarrow")
    ours, theirs = from_pandas(mixed_frame()), pl.from_pandas(mixed_frame())
    for name in ours.columns:
        a, b = ours[name], theirs[name]
        if name == "c":  # polars gives Categorical; glmmx keeps the level order as an Enum
            assert a.dtype == pl.Enum(["lo", "hi"]) and a.cast(pl.String).to_list() == b.cast(pl.String).to_list()
            continue
        assert a.dtype == b.dtype or (a.dtype.is_numeric() and b.dtype.is_numeric()), name
        assert a.to_list() == b.to_list(), name


def test_nan_is_missing_and_mixed_objects_are_named():
    assert from_pandas(mixed_frame())["f"].null_count() == 1
    with pytest.raises(ModelSpecError, match="column 'id'.*int and str|column 'id'.*number and str"):
        from_pandas(pd.DataFrame({"id": [1, "a", 2]}))


def test_fits_from_pandas_without_pyarrow():
    """In a fresh interpreter where pyarrow cannot be imported: glmer and lmer from pandas give
    the polars fits' numbers."""
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "import glmmx as gx, pandas as pd\n"
        "def pandas(d): return pd.DataFrame({c: d[c].to_numpy() for c in d.columns})\n"
        "d = gx.datasets.load('sleepstudy'); p = pandas(d)\n"
        "a = gx.lmer('Reaction ~ Days + (Days | Subject)', p); b = gx.lmer('Reaction ~ Days + (Days | Subject)', d)\n"
        "assert a.reml_criterion == b.reml_criterion, (a.reml_criterion, b.reml_criterion)\n"
        "c = gx.datasets.load('cbpp'); q = pandas(c.with_columns(c['period'].cast(str)))\n"
        "f = 'cbind(incidence, size - incidence) ~ period + (1 | herd)'\n"
        "assert gx.glmer(f, q, family='binomial').loglik == gx.glmer(f, c, family='binomial').loglik\n"
        "print('ok')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_pandas_categorical_keeps_its_level_order():
    d = gx.datasets.load("cbpp").to_pandas()
    d["period"] = pd.Categorical(d["period"].astype(str), categories=["4", "3", "2", "1"])
    fit = gx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", d, family="binomial")
    assert list(fit.fixef())[1:] == ["period3", "period2", "period1"]
