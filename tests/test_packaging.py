"""The version lives in one place, Cargo.toml: the wheel's metadata carries it (maturin reads it,
pyproject.toml declares it dynamic) and ``glmmx.__version__`` reads the installed metadata."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import metadata, version
from pathlib import Path

import glmmx

ROOT = Path(__file__).resolve().parents[1]


def cargo_version() -> str:
    text = (ROOT / "Cargo.toml").read_text()
    package = text.split("[package]", 1)[1].split("\n[", 1)[0]
    return re.search(r'^version\s*=\s*"([^"]+)"', package, re.M).group(1)


def test_version_is_cargo_toml_and_installed_metadata():
    assert glmmx.__version__ == cargo_version() == version("glmmx")


def test_pyproject_takes_the_version_from_cargo_toml():
    project = (ROOT / "pyproject.toml").read_text().split("[project]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^dynamic\s*=\s*\[[^\]]*"version"', project, re.M)
    assert not re.search(r"^version\s*=", project, re.M), "a second version in pyproject.toml"


def test_installed_metadata():
    meta = metadata("glmmx")
    assert meta["License-Expression"] == "MIT"
    assert meta["Requires-Python"] == ">=3.10"
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert urls["Repository"] == "https://github.com/glmmx/glmmx"


def test_version_lookup_is_lazy():
    code = (
        "import sys; before = 'importlib.metadata' in sys.modules; import glmmx; "
        "print(before, 'importlib.metadata' in sys.modules, '__version__' in glmmx.__dict__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after, cached = out.stdout.split()
    assert cached == "False"
    assert before == "True" or after == "False", "import glmmx imported importlib.metadata"
