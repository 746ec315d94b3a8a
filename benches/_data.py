"""Data sets for the benchmark scripts, as polars DataFrames every engine reads the same way.

Binary responses are 0/1 integers (glmm and R take them as they are); factors with a fixed level
order are ``pl.Enum`` (``_timing.run_lme4`` passes the levels to R).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "reference"

HR_FORMULA = "HR_incr ~ Time + Drug + Time*Drug + (1 | Patient)"
MUSCATINE_FORMULA = "obese ~ gender * (cage + I(cage^2)) + (1 | id)"
# the seed lecture's model (examples/muscatine.py; lme4's fit in tests/reference/muscatine_nAGQ10.json)
MUSCATINE_LECTURE_FORMULA = "obese ~ gender + log(age) * factor(cohort) + (1 | id)"
SIM_FORMULA = "y ~ x + t + (1 | g)"


def bundled(name: str) -> pl.DataFrame:
    """A data set bundled with glmmx (``gx.datasets.load``)."""
    import glmmx as gx

    return gx.datasets.load(name)


def path(name: str) -> str:
    """The file of a bundled data set, for R to read (R reads .csv.gz as it is)."""
    import glmmx as gx

    return str(gx.datasets.path(name))


def heart_rate() -> pl.DataFrame:
    """The seed's heart-rate study (gx.datasets "HR") with HR_incr = 1*(HR > baseHR)."""
    hr = bundled("HR")
    return hr.with_columns(HR_incr=(pl.col("HR") > pl.col("baseHR")).cast(pl.Int64))


def cbpp() -> pl.DataFrame:
    """lme4's cbpp (gx.datasets "cbpp"), period a factor, plus failures = size - incidence
    (glmm's cbind() takes two column names only)."""
    d = bundled("cbpp")
    return d.with_columns(
        pl.col("period").cast(pl.String).cast(pl.Enum(["1", "2", "3", "4"])),
        pl.col("herd").cast(pl.String),
        failures=pl.col("size") - pl.col("incidence"),
    )


def muscatine_raw() -> pl.DataFrame:
    """geepack's muscatine (gx.datasets "muscatine"): id, gender, base_age, age, occasion,
    obese (yes/no/null)."""
    return bundled("muscatine")


def muscatine() -> pl.DataFrame:
    """Muscatine long form for the model: rows with missing obese dropped, obese 0/1 (yes = 1),
    cage = age - 12 (centred at 12, as Fitzmaurice, Laird & Ware), cohort 1..5 (aged 6..14 in 1977)."""
    return (
        muscatine_raw()
        .drop_nulls("obese")
        .with_columns(obese=(pl.col("obese") == "yes").cast(pl.Int64), cage=pl.col("age") - 12,
                      cohort=(pl.col("base_age") - 4) // 2)
    )


def muscatine_aggregated() -> pl.DataFrame:
    """Muscatine collapsed to cluster patterns: children with the same gender, cohort (base_age)
    and obesity pattern over the three occasions (missing included) become one cluster ``id``
    (the first such child) with ``count`` = the number of such children."""
    raw = muscatine_raw().sort("id", "occasion")
    key = raw.group_by("id", maintain_order=True).agg(
        pl.col("gender").first(), pl.col("base_age").first(),
        pattern=pl.col("obese").fill_null("NA").str.join("-"),
    )
    patterns = key.group_by("gender", "base_age", "pattern", maintain_order=True).agg(
        pl.col("id").min(), count=pl.len()
    )
    return muscatine().join(patterns.select("id", "count"), on="id", how="inner").sort("id", "occasion")


def simulate(n_obs: int, n_clusters: int | None = None, *, sizes=(3, 10), seed: int = 2024) -> pl.DataFrame:
    """Logistic random-intercept data: y ~ x + t + (1 | g), beta = (-0.5, 0.8, -0.6), sd(b) = 1.

    Cluster sizes are uniform on ``sizes`` (the last cluster trimmed to reach ``n_obs``), or all
    n_obs / n_clusters when ``n_clusters`` is given. x is a row-level N(0, 1) covariate, t a
    cluster-level 0/1 treatment; g is an integer cluster id."""
    rng = np.random.default_rng(seed)
    if n_clusters is None:
        s = rng.integers(sizes[0], sizes[1] + 1, n_obs // sizes[0] + 1)
        s = s[: np.searchsorted(np.cumsum(s), n_obs) + 1]
        s[-1] -= s.sum() - n_obs
    else:
        s = np.full(n_clusters, n_obs // n_clusters)
        s[: n_obs - s.sum()] += 1
    g = np.repeat(np.arange(len(s)), s)
    x = rng.normal(size=n_obs)
    t = rng.integers(0, 2, len(s))[g]
    eta = -0.5 + 0.8 * x - 0.6 * t + rng.normal(0, 1.0, len(s))[g]
    y = (rng.random(n_obs) < 1 / (1 + np.exp(-eta))).astype(np.int64)
    return pl.DataFrame({"y": y, "x": x, "t": t, "g": g})


DATASETS = {"HR": heart_rate, "cbpp": cbpp, "muscatine": muscatine}


def load(name: str) -> pl.DataFrame:
    """A named data set (HR, cbpp, muscatine as the benches use them, or any other bundled one),
    ``sim:<n_obs>`` for simulated data, or a CSV/parquet path."""
    import glmmx as gx

    if name in DATASETS:
        return DATASETS[name]()
    if name.startswith("sim:"):
        return simulate(int(float(name[4:])))
    if name in gx.datasets.names():
        return bundled(name)
    if name.endswith(".parquet"):
        return pl.read_parquet(name)
    return pl.read_csv(name)
