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


def test_readme_python_blocks_run_from_the_repository_alone(tmp_path, monkeypatch):
    """The README's Python blocks, in order, in one namespace, from an empty working folder
    (so nothing beside the repository is read). The cluster block needs a Dask scheduler and
    is left out."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "Client(" not in b]
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["fit"].converged and namespace["boot"].confint(level=0.95, method="percentile").height > 0
