"""The seed lecture's heart-rate analyses (SAS System for Mixed Models, data set 3.5).

24 patients, each on one of drugs a, b or placebo p, heart rate measured five times. The binary
outcome is whether a heart rate is above the patient's baseline. The script fits the lecture's
random-intercept logistic model by Laplace and adaptive Gauss-Hermite quadrature (as R's
`glmer(..., nAGQ = 1, 10, 20)`), the random-slope model, the sequential ANOVA table, and the
predicted probabilities by drug over time.

    python examples/heart_rate.py [path/to/HR.csv]

The data are read from ../shared/data/HR.csv relative to the repository unless a path is given.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

import glmmx as gx

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "HR.csv"
FORMULA = "HR_incr ~ Time + Drug + Time*Drug + (1 | Patient)"


def load(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise SystemExit(f"HR.csv not found at {path}; pass its path as the first argument")
    hr = pl.read_csv(path)
    return hr.with_columns(HR_incr=(pl.col("HR") > pl.col("baseHR")).cast(pl.Int64))


def section(title: str) -> None:
    print("\n" + "=" * 78 + f"\n{title}\n" + "=" * 78)


def main() -> None:
    hr = load(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
    section("Random intercept, Laplace approximation (R: glmer(..., family = binomial))")
    laplace = gx.glmer(FORMULA, data=hr, family="binomial")
    print(laplace.summary())

    section("Random intercept, adaptive Gauss-Hermite quadrature with 20 nodes (R: nAGQ = 20)")
    agq = gx.glmer(FORMULA, data=hr, family="binomial", nagq=20)
    print(agq.summary())

    section("How the approximation changes the fit")
    rows = []
    for nagq in (0, 1, 5, 10, 20, 30):
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


if __name__ == "__main__":
    main()
