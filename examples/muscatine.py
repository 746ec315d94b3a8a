"""The seed lecture's first analysis: childhood obesity in the Muscatine Coronary Risk Factor
Study, fitted from its table of counts.

4,856 children of five birth cohorts (aged 6, 8, 10, 12, 14 in 1977) were weighed in 1977, 1979
and 1981 and classed obese or not; many missed a visit. The lecture's data are a wide table
(``gx.datasets.load("MCRS")``): one row per gender and obesity pattern (OB77, OB79, OB81, with
missing visits), the number of children of each cohort with that pattern in CT1..CT5. The
script

1. turns the table into long form with polars ``unpivot``, twice, as the lecture does with
   tidyr's ``pivot_longer``: cohorts into rows (a cluster is a group of identical children,
   ``Count`` of them), then the three visits into rows (missing visits dropped, as R's
   ``na.omit``), with the child's age at each visit;
2. fits ``obese ~ Gender + log(Age) * factor(Cohort) + (1 | id)`` by adaptive Gauss-Hermite
   quadrature with 10 nodes on the 243 clusters, each weighted by its count
   (``group_weights="Count"``), and, for comparison, on the expanded data of one cluster per
   child (``gx.uncount``: 9,856 rows, as R's glmer needs them): the same log-likelihood, a
   fraction of the time;
3. prints the sequential ANOVA table as lme4 prints it, lme4's numbers beside glmmx's
   (tests/reference/muscatine_nAGQ10*.json: lme4's fits, their R calls and time; with its
   defaults lme4 stops short after about two minutes, with tight settings it reaches glmmx's
   estimates), and
   the fitted probability of obesity by age for each cohort, for a typical child and averaged
   over children.

Figure: <out>/muscatine_obesity_by_age.png (observed proportions and the fitted curves).

    python examples/muscatine.py [--quick] [--out DIR]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

import glmmx as gx
from _common import options, pyplot, r_anova, section

FORMULA = "obese ~ Gender + log(Age) * factor(Cohort) + (1 | id)"
VISITS = ["OB77", "OB79", "OB81"]
COHORTS = [f"CT{c}" for c in range(1, 6)]
REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "reference"


def clusters(mcrs: pl.DataFrame) -> pl.DataFrame:
    """First unpivot: one row per (gender, obesity pattern, cohort) with Count children; the
    cluster id numbers these rows. Cohorts no child of the pattern belongs to are dropped."""
    return (
        mcrs.unpivot(index=["Gender", *VISITS], on=COHORTS, variable_name="Cohort", value_name="Count")
        .filter(pl.col("Count") > 0)
        .with_columns(pl.col("Cohort").str.strip_prefix("CT").cast(pl.Int64))
        .with_row_index("id", offset=1)
    )


def visits(by_cluster: pl.DataFrame) -> pl.DataFrame:
    """Second unpivot: one row per cluster and visit, the child's age at the visit (cohort c was
    4 + 2c in 1977), missing visits dropped."""
    return (
        by_cluster.unpivot(index=["id", "Gender", "Cohort", "Count"], on=VISITS, variable_name="Year", value_name="obese")
        .with_columns(pl.col("Year").str.strip_prefix("OB").cast(pl.Int64))
        .with_columns(Age=4 + 2 * pl.col("Cohort") + pl.col("Year") - 77)
        .drop_nulls("obese")
        .sort("id", "Year")
    )


def median_time(fit, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fit()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def lme4_reference(name: str) -> dict | None:
    """lme4's fit of the same model (tests/reference/<name>.json, with its R call)."""
    path = REFERENCE / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def side_by_side(fit, ref: dict) -> pl.DataFrame:
    """glmmx's estimates beside lme4's (same names: R's)."""
    ours = fit.coef_table()
    theirs = pl.DataFrame({"term": ref["fixef"]["terms"], "lme4": ref["fixef"]["estimate"], "lme4 SE": ref["fixef"]["std_error"]})
    return ours.select("term", pl.col("estimate").alias("glmmx"), pl.col("std_error").alias("glmmx SE")).join(theirs, on="term", how="left")


def population_average(fit, grid: pl.DataFrame, nodes: int = 30) -> np.ndarray:
    """P(obese) averaged over children, E_b[expit(x'beta + b)] with b ~ N(0, sd^2), by
    Gauss-Hermite quadrature: what the observed proportions estimate (a typical child, b = 0,
    is far less likely to be obese when sd(id) is large)."""
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    eta = fit.predict(grid, type="link", re=False)
    sd = fit.varcorr()["sdcor"][0]
    return (w / w.sum() * (1.0 / (1.0 + np.exp(-(eta[:, None] + sd * z[None, :]))))).sum(axis=1)


def plot(long: pl.DataFrame, fit, out: Path) -> None:
    plt = pyplot()
    if plt is None:
        return
    observed = long.group_by("Gender", "Cohort", "Age").agg(
        p=(pl.col("obese") * pl.col("Count")).sum() / pl.col("Count").sum(), n=pl.col("Count").sum()
    )
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True, layout="constrained")
    for ax, gender in zip(axes, ["F", "M"]):
        for c in range(1, 6):
            ages = [4 + 2 * c, 6 + 2 * c, 8 + 2 * c]
            grid = pl.DataFrame({"Gender": [gender] * 3, "Cohort": [c] * 3, "Age": ages, "id": [0] * 3})
            (line,) = ax.plot(ages, population_average(fit, grid), label=f"cohort {c}")
            obs = observed.filter((pl.col("Gender") == gender) & (pl.col("Cohort") == c)).sort("Age")
            ax.scatter(obs["Age"], obs["p"], s=obs["n"] / 10, color=line.get_color(), alpha=0.6)
        ax.set_title({"F": "girls", "M": "boys"}[gender])
        ax.set_xlabel("age (years)")
    axes[0].set_ylabel("P(obese)")
    axes[1].legend(fontsize=8, frameon=False)
    fig.suptitle("Muscatine: observed proportions (points, area ~ children) and the fitted population average (lines)", fontsize=9)
    path = out / "muscatine_obesity_by_age.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"figure written to {path}")


def main(argv=None) -> int:
    args = options(__doc__, argv)
    repeats = 1 if args.quick else 7

    section("The lecture's table of counts (gx.datasets.load('MCRS'))")
    mcrs = gx.datasets.load("MCRS")
    print(mcrs.head(6))
    by_cluster = clusters(mcrs)
    long = visits(by_cluster)
    children = by_cluster["Count"].sum()
    print(f"{mcrs.height} patterns -> {by_cluster.height} clusters of identical children ({children} children) -> "
          f"{long.height} cluster-visits")

    section("Fit on the clusters, each weighted by its count (R cannot: glmer's weights are per row)")
    grouped = gx.glmer(FORMULA, data=long, family="binomial", nagq=10, group_weights="Count")
    print(grouped.summary())

    section("The same fit on the expanded data, one cluster per child (gx.uncount)")
    expanded = gx.uncount(long, "Count", id="id")
    per_child = gx.glmer(FORMULA.replace("| id", "| id_expanded"), data=expanded, family="binomial", nagq=10)
    print(f"{expanded.height} rows, {expanded['id_expanded'].n_unique()} children")
    print(f"logLik: counts {grouped.loglik:.10f}, expanded {per_child.loglik:.10f}, "
          f"difference {abs(grouped.loglik - per_child.loglik):.1e}")
    t_grouped = median_time(lambda: gx.glmer(FORMULA, data=long, family="binomial", nagq=10, group_weights="Count"), repeats)
    t_expanded = median_time(
        lambda: gx.glmer(FORMULA.replace("| id", "| id_expanded"), data=expanded, family="binomial", nagq=10), repeats
    )
    print(f"time (median of {repeats}): counts {1e3 * t_grouped:.1f} ms, expanded {1e3 * t_expanded:.1f} ms "
          f"({t_expanded / t_grouped:.1f}x)")

    section("Sequential ANOVA table (R: anova(fit))")
    print(r_anova(grouped.anova()))

    ref, tight = lme4_reference("muscatine_nAGQ10"), lme4_reference("muscatine_nAGQ10_tight")
    if ref is not None and tight is not None:
        section(f"lme4 on the expanded data ({ref['engine']})")
        print(f"R call: {ref['call']}")
        timing = ref["timing_s"]
        print(f"  logLik {ref['loglik']:.4f}, converged: {ref['converged_lme4']} ({ref['lme4_messages']}); "
              f"{timing['median']:.0f} s (median of {len(timing['runs'])}, {timing['machine']})")
        print(f"R call: {tight['call']}")
        print(f"  logLik {tight['loglik']:.6f}, converged: {tight['converged_lme4']}")
        print(f"glmmx: logLik {grouped.loglik:.6f} in {1e3 * t_grouped:.1f} ms on the counts, {1e3 * t_expanded:.1f} ms expanded")
        print(f"sd(id): lme4 {tight['varcorr']['sdcor']:.5f}, glmmx {grouped.varcorr()['sdcor'][0]:.5f}")
        print(side_by_side(grouped, tight))

    section("Fitted probability of obesity at the middle visit: a typical child (b = 0) and averaged over children")
    grid = pl.DataFrame({"Gender": ["F", "M"] * 5, "Cohort": [c for c in range(1, 6) for _ in "FM"]}).with_columns(
        Age=4 + 2 * pl.col("Cohort") + 2, id=pl.lit(0)
    )
    typical = pl.Series(grouped.predict(grid, re=False))
    print(grid.with_columns(typical=typical, average=pl.Series(population_average(grouped, grid)))
          .pivot(on="Gender", index=["Cohort", "Age"], values=["typical", "average"]))

    plot(long, grouped, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
