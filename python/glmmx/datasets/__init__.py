"""The data sets of the README, the examples and the tests, bundled with the package.

``load(name)`` gives a polars DataFrame, ``describe(name)`` what it is, where it comes from and
under which licence, ``names()`` the list. The seed lecture's data: ``HR`` (heart rates under
three drugs), ``schizo`` (NIMH schizophrenia trial), ``muscatine`` and its count table ``MCRS``
(childhood obesity), ``housing`` (homeless people's housing status); lme4's ``cbpp``,
``sleepstudy``, ``Pastes``, ``Penicillin``, ``cake``, ``VerbAgg``, ``InstEval`` and
``grouseticks``; and
``ordinal()``, a simulated longitudinal ordinal study for ``npmlt``.

Examples
--------
>>> import glmmx as gx
>>> gx.datasets.load("sleepstudy").shape
(180, 3)
>>> gx.datasets.load("MCRS").columns[:4]
['Gender', 'OB77', 'OB79', 'OB81']
"""

from __future__ import annotations

from importlib import resources

from glmmx.datasets.catalogue import CATALOGUE


def names() -> list[str]:
    """The bundled data sets' names, for ``load`` and ``describe``."""
    return list(CATALOGUE)


def _entry(name: str):
    from glmmx.exceptions import ModelSpecError

    if not isinstance(name, str) or name not in CATALOGUE:
        raise ModelSpecError(f"no bundled data set {name!r}; available: {', '.join(CATALOGUE)}")
    return CATALOGUE[name]


def path(name: str):
    """The bundled file of data set ``name`` (a ``pathlib.Path`` inside the installed package)."""
    return resources.files(__name__).joinpath("data", _entry(name).file)


def describe(name: str) -> str:
    """What data set ``name`` holds, its source and its licence."""
    e = _entry(name)
    return f"{name}: {e.what}\nSource: {e.source}.\nLicence: {e.licence}.\nFile: {e.file} (sha256 {e.sha256})"


def load(name: str):
    """Data set ``name`` as a polars DataFrame, read from its bundled file.

    Columns are as in the source (R's factors as strings or integer codes); missing values are
    nulls; ``cbpp``'s ``period`` is a factor (``pl.Enum`` of "1".."4") as in lme4."""
    import polars as pl

    e = _entry(name)
    with path(name).open("rb") as f:
        df = pl.read_csv(f, null_values=e.null_values)
    if name == "cbpp":
        df = df.with_columns(pl.col("period").cast(pl.String).cast(pl.Enum(["1", "2", "3", "4"])))
    return df


def muscatine_counts(muscatine):
    """The lecture's count table of the Muscatine study (``MCRS``) from its long form: one row
    per gender and obesity pattern (OB77, OB79, OB81: 1 obese, 0 not, null not measured), the
    number of children of each cohort with it in CT1..CT5 (cohort c was aged 4 + 2c in 1977).
    Rows in the order Gender, OB77, OB79, OB81 with missing last."""
    import polars as pl

    per_child = (
        muscatine.with_columns(
            obese=pl.when(pl.col("obese") == "yes").then(1).when(pl.col("obese") == "no").then(0),
            year=pl.format("OB{}", 75 + 2 * pl.col("occasion")),
            cohort=pl.format("CT{}", (pl.col("base_age") - 4) // 2),
        )
        .pivot(on="year", index=["id", "gender", "cohort"], values="obese")
        .rename({"gender": "Gender"})
    )
    pattern = ["Gender", "OB77", "OB79", "OB81"]
    counts = per_child.group_by(*pattern, "cohort").len().cast({"len": pl.Int64})
    table = counts.pivot(on="cohort", index=pattern, values="len")
    cohorts = [f"CT{c}" for c in range(1, 6)]
    return table.select(*pattern, pl.col(cohorts).fill_null(0)).sort(pattern, nulls_last=True)


def ordinal(n_clusters: int = 200, visits: int = 4, seed: int = 1):
    """A simulated longitudinal ordinal study (severity 1–4 at ``visits`` visits of
    ``n_clusters`` patients, half treated) with a two-point random intercept: columns id, y,
    trt, visit."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(n_clusters), visits)
    visit = np.tile(np.arange(visits), n_clusters)
    trt = (np.arange(n_clusters) % 2)[ids]
    b = np.where(rng.random(n_clusters) < 0.4, -1.8, 1.2)[ids]
    cut = np.array([-2.0, 0.0, 1.5])
    eta = cut[None, :] + (0.4 * visit + 0.6 * trt * visit + b)[:, None]
    cum = 1.0 / (1.0 + np.exp(-eta))
    u = rng.random(len(ids))
    y = 1 + (u[:, None] > cum).sum(axis=1)
    return pl.DataFrame({"id": ids, "y": y, "trt": trt, "visit": visit})
