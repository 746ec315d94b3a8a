"""A small power analysis: how many patients does a heart-rate study like the seed's need to
detect a Time x Drug interaction?

The seed's study had 24 patients (8 per drug arm), each measured at five times; its outcome is
whether the heart rate exceeds the patient's baseline. We take the fitted random-intercept
logistic model as the truth for everything but the interaction, set the interaction to a
clinically interesting size, and for each planned number of patients

1. build the planned design (patients split equally over the arms, the same five times),
2. simulate 1,000 studies from the model (glmmx's `simulate` with `params=`, lme4's
   `newparams`),
3. refit the model with and without the interaction to every simulated study (`refit_many`:
   all refits in Rust, on every core),
4. count how often the likelihood-ratio test of the interaction (2 df) rejects at 5%.

    python examples/power_analysis.py [--quick] [--out DIR]

Writes <out>/power_time_drug.png when matplotlib is installed. ``--quick`` runs two sizes with
50 studies each.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import polars as pl
from scipy.stats import chi2

import glmmx as gx
from _common import options, pyplot
from glmmx.inference.binomial import clopper_pearson

FULL = "HR_incr ~ Time + Drug + Time*Drug + (1 | Patient)"
REDUCED = "HR_incr ~ Time + Drug + (1 | Patient)"
INTERACTION = {"Time:Drugb": 2.5, "Time:Drugp": -2.5}  # effect sizes on the logit scale per unit of time
PATIENTS = [24, 48, 72, 96, 144, 192]
NSIM = 1000


def planned_design(n_patients: int, times) -> pl.DataFrame:
    """n patients split equally over drugs a, b, p, each measured at `times`; the response
    column is a placeholder (simulate replaces it)."""
    drugs = np.array(["a", "b", "p"])[np.arange(n_patients) % 3]
    return pl.DataFrame(
        {
            "Patient": np.repeat(np.arange(n_patients), len(times)),
            "Drug": np.repeat(drugs, len(times)),
            "Time": np.tile(times, n_patients),
            "HR_incr": np.tile([0, 1, 0, 1, 1], n_patients)[: n_patients * len(times)],
        }
    )


def power_at(n: int, truth: dict, times, seed: int, nsim: int = NSIM) -> tuple[float, int]:
    design = planned_design(n, times)
    full = gx.glmer(FULL, data=design)
    reduced = gx.glmer(REDUCED, data=design)
    sims = full.simulate(nsim, seed=seed, params=truth)
    f = full.refit_many(sims, progress=False).group_by("sim", maintain_order=True).agg(pl.col("loglik").first(), pl.col("converged").first())
    r = reduced.refit_many(sims, progress=False).group_by("sim", maintain_order=True).agg(pl.col("loglik").first(), pl.col("converged").first())
    ok = (f["converged"] & r["converged"]).to_numpy()
    lrt = 2 * (f["loglik"].to_numpy() - r["loglik"].to_numpy())
    pvalue = chi2.sf(np.clip(lrt, 0, None), df=2)
    return float(np.mean(pvalue[ok] < 0.05)), int(ok.sum())


def main(argv=None) -> int:
    args = options(__doc__, argv)
    nsim, sizes = (50, PATIENTS[:2]) if args.quick else (NSIM, PATIENTS)
    hr = gx.datasets.load("HR").with_columns(HR_incr=(pl.col("HR") > pl.col("baseHR")).cast(pl.Int64))
    seed_fit = gx.glmer(FULL, data=hr, nagq=1)
    beta = seed_fit.fixef() | INTERACTION
    truth = {"theta": seed_fit.theta, "beta": beta}
    times = np.sort(hr["Time"].unique().to_numpy())
    print("Truth: " + ", ".join(f"{k} = {v:.3f}" for k, v in beta.items()) + f", sd(Patient) = {seed_fit.theta[0]:.3f}")
    rows = []
    for k, n in enumerate(sizes):
        start = time.perf_counter()
        power, used = power_at(n, truth, times, seed=k, nsim=nsim)
        elapsed = time.perf_counter() - start
        low, high = clopper_pearson(round(power * used), used)
        rows.append({"patients": n, "power": power, "ci_low": float(low), "ci_high": float(high), "converged": used, "seconds": elapsed})
        print(f"{n:4d} patients: power {power:.3f} (exact 95% CI {float(low):.3f} to {float(high):.3f}), {2 * nsim} refits in {elapsed:.2f} s")
    table = pl.DataFrame(rows)
    print(table)
    plot(table, args.out, nsim)
    return 0


def studies_counted(counts, nsim: int) -> str:
    """How many simulated studies went into each point: those where both fits converged."""
    import textwrap

    if min(counts) == max(counts) == nsim:
        return f"{nsim} simulated studies per size"
    if min(counts) == max(counts):
        return f"{counts[0]} of {nsim} simulated studies per size counted (both fits converged)"
    return f"studies counted of {nsim} simulated per size (both fits converged):\n" + textwrap.fill(", ".join(map(str, counts)), 80)


def plot(table: pl.DataFrame, out, nsim: int = NSIM):
    """Power against study size with its exact (Clopper-Pearson) 95% intervals (the table's
    ci_low, ci_high) from the table["converged"] studies counted at each size; returns the
    figure."""
    plt = pyplot()
    if plt is None:
        return None
    path = out / "power_time_drug.png"
    power, n = table["power"].to_numpy(), table["converged"].to_numpy()
    low, high = table["ci_low"].to_numpy(), table["ci_high"].to_numpy()
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    ax.errorbar(table["patients"], power, yerr=[power - low, high - power], marker="o", capsize=3)
    ax.axhline(0.8, ls="--", color="grey", lw=1)
    ax.set_xlabel("number of patients (equal arms a, b, placebo)")
    ax.set_ylabel("power of the 2-df LRT for Time x Drug")
    ax.set_ylim(0, 1.04)  # room for a point at power 1
    ax.set_title("Time x Drug interaction: power by study size, exact 95% intervals\n"
                 f"({studies_counted(n.tolist(), nsim)})", fontsize=10)
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")
    return fig


if __name__ == "__main__":
    sys.exit(main())
