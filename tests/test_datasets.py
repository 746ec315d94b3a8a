"""The bundled data sets: each file is the one the catalogue names (SHA-256), loads with the
shape and columns its description states, and the lecture's count table MCRS is exactly the
tabulation of the long Muscatine data. Nothing in the tests, examples or package reads a file
outside the repository."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import polars as pl
import pytest

import glmmx as gx
from glmmx.datasets.catalogue import CATALOGUE
from glmmx.exceptions import ModelSpecError

ROOT = Path(__file__).resolve().parents[1]

SHAPES = {
    "HR": (120, ["Patient", "Drug", "baseHR", "HR", "Time"]),
    "schizo": (1603, ["id", "y", "trt", "wk"]),
    "muscatine": (14568, ["id", "gender", "base_age", "age", "occasion", "obese"]),
    "MCRS": (52, ["Gender", "OB77", "OB79", "OB81", "CT1", "CT2", "CT3", "CT4", "CT5"]),
    "housing": (1448, ["id", "y", "time", "sec"]),
    "cbpp": (56, ["herd", "incidence", "size", "period"]),
    "sleepstudy": (180, ["Reaction", "Days", "Subject"]),
    "Pastes": (60, ["strength", "batch", "cask", "sample"]),
    "Penicillin": (144, ["diameter", "plate", "sample"]),
    "VerbAgg": (7584, ["Anger", "Gender", "item", "resp", "id", "btype", "situ", "mode", "r2"]),
    "InstEval": (73421, ["s", "d", "studage", "lectage", "service", "dept", "y"]),
    "cake": (270, ["replicate", "recipe", "temperature", "angle", "temp"]),
    "grouseticks": (403, ["INDEX", "TICKS", "BROOD", "HEIGHT", "YEAR", "LOCATION", "cHEIGHT"]),
}


def test_every_data_set_is_described_and_loads_as_stated():
    assert sorted(gx.datasets.names()) == sorted(SHAPES)
    for name, (rows, columns) in SHAPES.items():
        df = gx.datasets.load(name)
        assert df.shape == (rows, len(columns)) and df.columns == columns, name
        text = gx.datasets.describe(name)
        assert "Source:" in text and "Licence:" in text and f"{rows:,}" in text, name


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_bundled_file_is_the_catalogued_one(name):
    digest = hashlib.sha256(Path(str(gx.datasets.path(name))).read_bytes()).hexdigest()
    assert digest == CATALOGUE[name].sha256


def test_missing_values_are_nulls():
    assert gx.datasets.load("muscatine")["obese"].null_count() == 4712
    assert gx.datasets.load("housing")["y"].null_count() == 159
    assert gx.datasets.load("cbpp")["period"].dtype == pl.Enum(["1", "2", "3", "4"])


def test_mcrs_is_the_tabulation_of_the_long_muscatine_data():
    mcrs = gx.datasets.load("MCRS")
    assert mcrs.equals(gx.datasets.muscatine_counts(gx.datasets.load("muscatine")))
    assert mcrs.select(pl.sum_horizontal(pl.col("^CT.$")).sum()).item() == 4856
    assert mcrs.select("Gender", "OB77", "OB79", "OB81").is_unique().all()


def test_unknown_name_is_refused_with_the_list():
    with pytest.raises(ModelSpecError, match="no bundled data set 'hr'.*HR"):
        gx.datasets.load("hr")


def test_nothing_reads_outside_the_repository():
    """No path to the shared folder beside the repository in code that runs at test or run
    time (docstrings may cite it as the copies' origin)."""
    pattern = re.compile(r'/\s*"shared"|\.\./shared/(data|reference)')
    files = [*ROOT.glob("python/glmmx/**/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("examples/*.py"), *ROOT.glob("benches/*.py")]
    offenders = [str(f.relative_to(ROOT)) for f in files if f.name != "test_datasets.py" and pattern.search(f.read_text())]
    assert not offenders, offenders
