"""Timing of glmmx.npmlt: median (and min) of repeated fits, warm-up excluded.

Cases (issue #2):
  schizo_rs_k2   npmlt(y ~ trt*sqrt(wk), random=~1+trt, id=id, k=2)      target < 10 ms (mixcat 0.56 s)
  schizo_ri_k4   npmlt(y ~ trt*sqrt(wk), random=~1, id=id, k=4)          target < 30 ms fully converged
                                                                          (mixcat 6.8 s, maxit reached)
  simulated      100,000 rows in 20,000 clusters, Q = 4, k = 4            target < 2 s

Usage: python benches/bench_npmlt.py [--repeat 20] [--threads N] [--format text|json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings

import numpy as np
import polars as pl

import glmmx as gx

MIXCAT_SECONDS = {"schizo_rs_k2": 0.56, "schizo_ri_k4": 6.79, "simulated": None}


def simulated(n_clusters=20_000, per=5, seed=7) -> pl.DataFrame:
    """Q = 4 cumulative logit with a 4-point random intercept, two covariates."""
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(n_clusters), per)
    x = rng.normal(size=ids.size)
    g = (ids % 2).astype(float)
    support, mass = np.array([-2.5, -0.5, 1.0, 3.0]), np.array([0.2, 0.35, 0.3, 0.15])
    b = (support - mass @ support)[rng.choice(4, size=n_clusters, p=mass)][ids]
    eta = np.array([-1.5, 0.0, 1.5])[None, :] - (0.8 * x + 0.5 * g + b)[:, None]
    u = rng.uniform(size=ids.size)
    y = 1 + (u[:, None] > 1 / (1 + np.exp(-eta))).sum(axis=1)
    return pl.DataFrame({"id": ids, "y": y, "x": x, "g": g})


def cases():
    out = []
    schizo = gx.datasets.load("schizo")
    out.append(("schizo_rs_k2", lambda t: gx.npmlt("y ~ trt*sqrt(wk)", schizo, random="~1 + trt", id="id", k=2, threads=t)))
    out.append(("schizo_ri_k4", lambda t: gx.npmlt("y ~ trt*sqrt(wk)", schizo, random="~1", id="id", k=4, threads=t)))
    sim = simulated()
    out.append(("simulated", lambda t: gx.npmlt("y ~ x + g", sim, random="~1", id="id", k=4, threads=t)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--format", choices=("text", "json"), default="text")
    args = ap.parse_args()
    rows = []
    warnings.simplefilter("ignore")
    for name, run in cases():
        fit = run(args.threads)  # warm-up
        repeat = args.repeat if name != "simulated" else max(3, args.repeat // 5)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fit = run(args.threads)
            times.append(time.perf_counter() - t0)
        rows.append({"case": name, "median_s": statistics.median(times), "min_s": min(times), "repeat": repeat,
                     "m2loglik": fit.m2loglik, "iterations": fit.iterations, "converged": fit.converged,
                     "mixcat_s": MIXCAT_SECONDS[name]})
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'case':<14} {'median':>10} {'min':>10} {'-2 log L':>14} {'iter':>5} {'conv':>5} {'mixcat':>8}")
        for r in rows:
            mix = f"{r['mixcat_s']:.2f} s" if r["mixcat_s"] else "-"
            print(f"{r['case']:<14} {1000 * r['median_s']:>8.1f}ms {1000 * r['min_s']:>8.1f}ms {r['m2loglik']:>14.4f} "
                  f"{r['iterations']:>5} {str(r['converged']):>5} {mix:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
