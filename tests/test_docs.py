"""The Examples sections of the public functions run (on the bundled data sets) and give
what they show."""

import doctest
import importlib

import pytest

MODULES = ["glmmx.api", "glmmx.lmer_api", "glmmx.npmlt_api", "glmmx.batch", "glmmx.aggregate", "glmmx.datasets", "glmmx.design", "glmmx.formula"]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
