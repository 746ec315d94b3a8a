"""The seed lecture's heart-rate analyses (SAS System for Mixed Models, data set 3.5).

24 patients, each on one of drugs a, b or placebo p, heart rate measured five times. The binary
outcome is whether a heart rate is above the patient's baseline. The script fits the lecture's
random-intercept logistic model by Laplace and adaptive Gauss-Hermite quadrature (as R's
`glmer(..., nAGQ = 1, 10, 20)`), the random-slope model, the sequential ANOVA table, and the
predicted probabilities by drug over time.

Figures: <out>/heart_rate_probability.png (the predicted probability by drug over time) and
<out>/heart_rate_ranef.png (the lmer fit's conditional modes with 95% intervals).

    python examples/heart_rate.py [--quick] [--out DIR]

The data are the package's copy: ``gx.datasets.load("HR")``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl

import glmmx as gx
from _common import options, pyplot, section

FORMULA = "HR_incr ~ Time + Drug + Time*Drug + (1 | Patient)"


def load() -> pl.DataFrame:
    """The heart-rate data with the lecture's binary outcome HR_incr = 1*(HR > baseHR)."""
    hr = gx.datasets.load("HR")
    return hr.with_columns(HR_incr=(pl.col("HR") > pl.col("baseHR")).cast(pl.Int64))


def plot_probability(fit, out: Path) -> None:
    plt = pyplot()
    if plt is None:
        return
    times = np.linspace(0.0, 1.0, 41)
    fig, ax = plt.subplots(figsize=(5.5, 3.8), layout="constrained")
    for drug in ["a", "b", "p"]:
        grid = pl.DataFrame({"Drug": [drug] * len(times), "Time": times, "Patient": ["new"] * len(times)})
        ax.plot(times * 60, fit.predict(grid, re=False), label={"p": "placebo"}.get(drug, f"drug {drug}"))
    ax.set_xlabel("minutes after dosing")
    ax.set_ylabel("P(heart rate above baseline)")
    ax.set_title("Typical patient (random effect 0), nAGQ = 20", fontsize=10)
    ax.legend(frameon=False)
    path = out / "heart_rate_probability.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"figure written to {path}")


def plot_modes(fit, out: Path) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig = fit.plot_ranef().figure
    path = out / "heart_rate_ranef.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    print(f"figure written to {path}")


def main(argv=None) -> int:
    args = options(__doc__, argv)
    hr = load()
    section("Random intercept, Laplace approximation (R: glmer(..., family = binomial))")
    laplace = gx.glmer(FORMULA, data=hr, family="binomial")
    print(laplace.summary())

    section("Random intercept, adaptive Gauss-Hermite quadrature with 20 nodes (R: nAGQ = 20)")
    agq = gx.glmer(FORMULA, data=hr, family="binomial", nagq=20)
    print(agq.summary())

    section("How the approximation changes the fit")
    rows = []
    for nagq in (0, 1, 20) if args.quick else (0, 1, 5, 10, 20, 30):
        fit = gx.glmer(FORMULA, data=hr, family="binomial", nagq=nagq)
        sd = fit.varcorr()["sdcor"][0]
        rows.append({"nagq": nagq, "logLik": fit.loglik, "sd(Patient)": sd, "Time:Drugb": fit.fixef()["Time:Drugb"], "converged": fit.converged})
    print(pl.DataFrame(rows))

    section("Sequential ANOVA table of the nAGQ = 20 fit (R: anova(fit))")
    print(agq.anova())

    section("Random intercept and slope for Time (R: (1 + Time | Patient); lme4 does not converge here)")
    slope = gx.glmer("HR_incr ~ Time + Drug + Time*Drug + (1 + Time | Patient)", data=hr, family="binomial")
    print(slope.summary())
    print(f"\nLikelihood-ratio statistic against the random-intercept model: {2 * (slope.loglik - laplace.loglik):.4f} on 2 df")

    section("Predicted probability that HR exceeds baseline, typical patient (random effect 0)")
    grid = pl.DataFrame({"Drug": ["a", "b", "p"] * 3, "Time": [0.0] * 3 + [0.25] * 3 + [0.5] * 3, "Patient": ["new"] * 9})
    print(grid.with_columns(probability=pl.Series(agq.predict(grid, re=False))).pivot(on="Drug", index="Time", values="probability"))

    section("The continuous heart rate: linear mixed model with Satterthwaite t-tests (R: lmerTest::lmer)")
    lmm = gx.lmer("HR ~ Time + Drug + Time*Drug + (1 + Time | Patient)", data=hr)
    print(lmm.summary())

    section("Type III ANOVA with Satterthwaite's denominator df (R: anova(fit))")
    print(lmm.anova(type=3))

    section("Does the drug matter? Likelihood-ratio test, both refitted by ML (R: anova(small, big))")
    print(gx.anova(gx.lmer("HR ~ Time + (1 + Time | Patient)", data=hr), lmm, names=["Time only", "Time * Drug"]))

    plot_probability(agq, args.out)
    plot_modes(lmm, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
