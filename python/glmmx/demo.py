"""``python -m glmmx demo``: a simulated longitudinal binary study, fitted by Laplace and by
adaptive Gauss–Hermite quadrature, with fit times.

Children are followed over three waves (as in the Muscatine obesity study): each child has a
random intercept on the logit scale, the probability of the outcome changes with the wave and
differs by sex. Large cluster effects with only three observations per child are where the
Laplace approximation is known to be biased, and quadrature corrects it.
"""

from __future__ import annotations

import time

TRUE = {"(Intercept)": -1.8, "sexM": 0.3, "wave": 0.4, "sexM:wave": -0.2, "sd": 2.5}


def simulate_children(n_children: int = 4000, waves: int = 3, seed: int = 2024):
    """One row per child and wave: child, sex, wave (0, 1, 2), obese (0/1)."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    child = np.repeat(np.arange(n_children), waves)
    wave = np.tile(np.arange(waves), n_children)
    male = rng.integers(0, 2, n_children)[child]
    b = rng.normal(0.0, TRUE["sd"], n_children)[child]
    eta = TRUE["(Intercept)"] + TRUE["sexM"] * male + TRUE["wave"] * wave + TRUE["sexM:wave"] * male * wave + b
    obese = rng.random(child.size) < 1.0 / (1.0 + np.exp(-eta))
    return pl.DataFrame(
        {
            "child": child,
            "sex": np.where(male == 1, "M", "F"),
            "wave": wave,
            "obese": obese.astype(np.int64),
        }
    )


def main() -> None:
    import glmmx as gx

    data = simulate_children()
    formula = "obese ~ sex * wave + (1 | child)"
    print(f"Simulated study: {data['child'].n_unique()} children x 3 waves = {data.height} rows")
    print("True values: " + ", ".join(f"{k} = {v}" for k, v in TRUE.items()) + "\n")
    for nagq, label in ((1, "Laplace"), (10, "adaptive Gauss-Hermite quadrature, 10 nodes")):
        start = time.perf_counter()
        fit = gx.glmer(formula, data=data, family="binomial", nagq=nagq)
        elapsed = time.perf_counter() - start
        print("=" * 78)
        print(f"{label}: fitted in {elapsed * 1e3:.1f} ms")
        print("=" * 78)
        print(fit.summary())
        print()
    print("With three observations per child the Laplace approximation underestimates the")
    print("random-intercept SD; quadrature recovers it (compare both with the true values).")
