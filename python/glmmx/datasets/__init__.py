"""Small data sets bundled for examples: lme4's ``cbpp`` (contagious bovine pleuropneumonia:
incidence of new cases per herd and period) and ``sleepstudy`` (reaction times over ten days
of sleep deprivation), and a simulated ordinal study for ``npmlt``.

Examples
--------
>>> import glmmx as gx
>>> gx.datasets.load("sleepstudy").shape
(180, 3)
"""

from __future__ import annotations

from importlib import resources

_NAMES = ("cbpp", "sleepstudy")


def load(name: str):
    """A bundled data set as a polars DataFrame: ``"cbpp"`` (herd, incidence, size, period as
    a factor 1..4) or ``"sleepstudy"`` (Reaction, Days, Subject)."""
    import polars as pl

    from glmmx.exceptions import ModelSpecError

    if name not in _NAMES:
        raise ModelSpecError(f"no bundled data set {name!r}; available: {', '.join(_NAMES)}")
    with resources.files(__name__).joinpath(f"{name}.csv").open("rb") as f:
        df = pl.read_csv(f)
    if name == "cbpp":
        df = df.with_columns(pl.col("period").cast(pl.String).cast(pl.Enum(["1", "2", "3", "4"])))
    return df


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
