"""Shared fixtures: the shared data/reference folders (../shared from the repository root),
R reference values, and the comparison rules declared once per quantity."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
SHARED_REFERENCE = SHARED / "reference"
LOCAL_REFERENCE = Path(__file__).resolve().parent / "reference_r"


def pytest_report_header(config):
    import glmmx

    return f"glmmx {glmmx.__version__} from {Path(glmmx.__file__).parent}"


def pytest_configure(config):
    """GLMMX_TEST_INSTALLED=1 (set by .ci/run): the suite must test the installed wheel, so the
    glmmx it imports may not come from this repository's python/ folder."""
    import os

    if os.environ.get("GLMMX_TEST_INSTALLED") == "1":
        import glmmx

        where = Path(glmmx.__file__).resolve()
        if ROOT in where.parents:
            raise pytest.UsageError(f"GLMMX_TEST_INSTALLED=1 but glmmx is imported from {where}")


def shared_csv(name: str):
    """A data set from ../shared/data as a polars DataFrame, or skip the test."""
    import polars as pl

    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared data folder (../shared/data) is needed for this test")
    return pl.read_csv(path)


def reference(name: str) -> dict:
    """An R reference result: ../shared/reference/<name>.json, or tests/reference_r/<name>.json."""
    for folder in (SHARED_REFERENCE, LOCAL_REFERENCE):
        path = folder / f"{name}.json"
        if path.exists():
            return json.loads(path.read_text())
    pytest.skip(f"reference {name}.json is absent (../shared/reference is needed for this test)")


def same_sig(actual, expected, sig: int = 3) -> bool:
    """True when ``actual`` agrees with ``expected`` to ``sig`` significant figures: the
    difference is below half a unit in the ``sig``-th significant digit of ``expected``."""
    actual, expected = float(actual), float(expected)
    if expected == 0.0:
        return abs(actual) < 0.5 * 10.0 ** (-sig)
    unit = 10.0 ** (math.floor(math.log10(abs(expected))) - sig + 1)
    return abs(actual - expected) <= 0.5 * unit


def assert_sig(actual, expected, sig: int = 3, what: str = "") -> None:
    actual, expected = np.atleast_1d(actual), np.atleast_1d(expected)
    assert actual.shape == expected.shape, f"{what}: shapes {actual.shape} vs {expected.shape}"
    bad = [(i, a, e) for i, (a, e) in enumerate(zip(actual, expected)) if not same_sig(a, e, sig)]
    assert not bad, f"{what}: not equal to {sig} significant figures (index, ours, R): {bad}"


@pytest.fixture(scope="session")
def heart_rate():
    import polars as pl

    return shared_csv("HR.csv").with_columns(HR_incr=(pl.col("HR") > pl.col("baseHR")).cast(pl.Int64))


@pytest.fixture(scope="session")
def cbpp():
    import polars as pl

    df = shared_csv("cbpp.csv")
    return df.with_columns(pl.col("period").cast(pl.String).cast(pl.Enum(["1", "2", "3", "4"])))
