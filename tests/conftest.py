"""Shared fixtures: the bundled data sets (glmmx.datasets), the R reference values
(tests/reference/*.json, each holding its R call), and the comparison rules declared once per
quantity. Nothing here reads outside the repository."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference"


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


def dataset(name: str):
    """A bundled data set (``glmmx.datasets.load``) as a polars DataFrame."""
    import glmmx as gx


    return gx.datasets.load(name)


def example_module(script: str):
    """An example script of examples/ imported as a module (its own folder on sys.path while
    it loads, for examples/_common.py)."""
    import importlib.util
    import sys

    folder = str(ROOT / "examples")
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(f"example_{script.removesuffix('.py')}", ROOT / "examples" / script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(folder)


def reference(name: str) -> dict:
    """An R reference result, tests/reference/<name>.json (its "call" key holds the R call)."""
    return json.loads((REFERENCE / f"{name}.json").read_text())


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

    return dataset("HR").with_columns(HR_incr=(pl.col("HR") > pl.col("baseHR")).cast(pl.Int64))


@pytest.fixture(scope="session")
def cbpp():
    return dataset("cbpp")
