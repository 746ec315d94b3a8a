"""The Examples sections of the public functions run (on the bundled data sets) and give
what they show."""

import doctest
import importlib

import pytest

MODULES = ["glmmx.models.glmer", "glmmx.models.lmer", "glmmx.models.npmlt", "glmmx.batch.engine", "glmmx.models.fit_many", "glmmx.design.aggregate", "glmmx.datasets", "glmmx.design.build", "glmmx.formula.algebra", "glmmx.inference.binomial"]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
