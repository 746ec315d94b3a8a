"""Every example script runs from the repository alone, in its small (``--quick``) form, and
writes its figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

FIGURES = {
    "muscatine.py": ["muscatine_obesity_by_age.png"],
    "heart_rate.py": ["heart_rate_probability.png", "heart_rate_ranef.png"],
    "schizo_npmlt.py": ["schizo_mass_points.png", "schizo_mass_points_slope.png"],
    "housing_npmlt.py": ["housing_mass_points.png"],
    "power_analysis.py": ["power_time_drug.png"],
}


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")) == sorted(FIGURES)


@pytest.mark.parametrize("script", sorted(FIGURES))
def test_example_runs_and_writes_its_figures(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, str(EXAMPLES / script), "--quick", "--out", str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr and "not installed" not in run.stdout
    for name in FIGURES[script]:
        figure = tmp_path / name
        assert figure.exists() and figure.stat().st_size > 10_000, f"{script} did not write {name}"
