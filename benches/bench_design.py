"""Timing of the design layer: ``build_design`` on small and large data, and a whole ``glmer``.

Run ``python benches/bench_design.py`` (``--quick`` for fewer repeats). Prints the median of
repeated calls after a warm-up, in milliseconds (small data) or seconds (large data).
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings

import glmmx as gx
import numpy as np
import polars as pl
from glmmx.design.build import build_design



def median_time(fn, repeats: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _core_fit(formula: str, data: pl.DataFrame):
    """The Rust part of ``glmer`` alone, on a design built once."""
    from glmmx import _core
    from glmmx.design.response import glmm_response
    from glmmx.formula.reterms import single_factor

    d = build_design(formula, data)
    re = single_factor(d.random)
    y, m = glmm_response(d, "binomial")
    offset, freq = np.zeros(d.n), np.ones(re.n_levels)

    def fit():
        core = _core.GlmmModel(
            y, m, offset, d.X, re.Z, re.codes, re.n_levels, freq, re.theta_rows, re.theta_cols, "binomial", "logit"
        )
        return core.fit(n_agq=1, max_iter=1000, theta0=None, beta0=None, threads=None)

    return fit


def small_cases():
    hr = gx.datasets.load("HR")
    hr_incr = hr.with_columns(HR_incr=(pl.col("HR") > pl.col("baseHR")).cast(pl.Int64))
    cbpp = gx.datasets.load("cbpp")
    cbpp = cbpp.with_columns(pl.col("period").cast(pl.String).cast(pl.Enum(["1", "2", "3", "4"])))
    return [
        ("I(HR > baseHR) ~ Time + Drug + Time*Drug + (1 | Patient)", hr),
        ("HR_incr ~ Time + Drug + Time*Drug + (1 | Patient)", hr_incr),
        ("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp),
    ]


def large_data(n: int = 1_000_000, n_groups: int = 100_000, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, n_groups, n)
    return pl.DataFrame(
        {"y": rng.normal(size=n), "x1": rng.normal(size=n), "x2": rng.normal(size=n), "g": g}
    )


def main(quick: bool = False) -> None:
    reps = 50 if quick else 200
    print(f"polars {pl.__version__}, numpy {np.__version__}")
    for formula, data in small_cases():
        t = median_time(lambda f=formula, d=data: build_design(f, d), reps)
        print(f"build_design  {formula:60s} {t * 1e3:8.3f} ms")
    hr = small_cases()[0][1]
    formula = "I(HR > baseHR) ~ Time + Drug + Time*Drug + (1 | Patient)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        total = median_time(lambda: gx.glmer(formula, hr, family="binomial"), reps)
        fit = median_time(_core_fit(formula, hr), reps)
    print(f"glmer         {formula:60s} {total * 1e3:8.3f} ms")
    print(f"  of which the Rust fit (GlmmModel + fit)                              {fit * 1e3:8.3f} ms")
    print(f"  the rest of glmer (design, response, result)                         {(total - fit) * 1e3:8.3f} ms")
    big = large_data()
    big_str = big.with_columns(pl.format("g{}", pl.col("g")).alias("g"))
    for name, data in (("int g", big), ("str g", big_str)):
        t = median_time(lambda d=data: build_design("y ~ x1 + x2 + (1 | g)", d), 3 if quick else 7, warmup=1)
        print(f"build_design  1e6 rows, 1e5 groups, {name:35s} {t:8.3f} s")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
