"""Thread modes side by side (issue #18): the default ``threads=None`` against ``threads=1`` and
``threads=2`` on the same data, alternating the modes in one run (each round times every mode once,
in a rotated order), at 1k to 1M rows.

Models (each on simulated data with clusters of 10 rows, ``g`` = rows / 10 levels):
  glmer1    y ~ x + t + (1 | g), binomial, Laplace
  glmer10   the same at nAGQ = 10
  lmer      z ~ x + t + (1 | g), REML
  crossed   y ~ x + (1 | g) + (1 | h), binomial, Laplace; h has 50 levels crossed with g
  npmlt     y ~ x + g2, 4-category cumulative logit, k = 4 mass points in id (clusters of 5)
  muscatine the Muscatine obesity glmer (benches/_data.py, 4,856 children), nAGQ = 10

With ``--busy`` a second process spins on one core for the whole run (the case of a loaded
machine). Every mode's log-likelihood and coefficients are compared bit for bit.

    python benches/bench_threads.py [--models glmer1 glmer10 lmer crossed npmlt muscatine]
        [--sizes 1000 3000 9000 30000 100000 1000000] [--repeat 7] [--budget 20] [--busy]
        [--format text|json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
import polars as pl

import _data
import _timing as T
import glmmx as gx

MODES = (None, 1, 2)
MODELS = ("glmer1", "glmer10", "lmer", "crossed", "npmlt", "muscatine")
SIZES = (1_000, 3_000, 9_000, 30_000, 100_000, 1_000_000)


def simulated(n: int, seed: int = 2024) -> pl.DataFrame:
    """Clusters g of 10 rows (n / 10 of them), a crossed factor h of 50 levels; y binary, z
    continuous, both with random effects of g (sd 1) and, for y, of h (sd 0.5)."""
    rng = np.random.default_rng(seed)
    n_g = max(n // 10, 1)
    g = np.repeat(np.arange(n_g), -(-n // n_g))[:n]
    h = rng.integers(0, 50, n)
    x = rng.normal(size=n)
    t = rng.integers(0, 2, n_g)[g]
    b, c = rng.normal(0, 1.0, n_g)[g], rng.normal(0, 0.5, 50)[h]
    eta = -0.5 + 0.8 * x - 0.6 * t + b
    y = (rng.random(n) < 1 / (1 + np.exp(-(eta + c)))).astype(np.int64)
    z = eta + rng.normal(size=n)
    return pl.DataFrame({"y": y, "z": z, "x": x, "t": t, "g": g, "h": h})


def ordinal(n: int, seed: int = 7) -> pl.DataFrame:
    """A 4-category cumulative logit with a 4-point random intercept in clusters of 5 rows."""
    rng = np.random.default_rng(seed)
    n_id = max(n // 5, 1)
    ids = np.repeat(np.arange(n_id), 5)[:n]
    x = rng.normal(size=n)
    g2 = (ids % 2).astype(float)
    support, mass = np.array([-2.5, -0.5, 1.0, 3.0]), np.array([0.2, 0.35, 0.3, 0.15])
    b = (support - mass @ support)[rng.choice(4, size=n_id, p=mass)][ids]
    eta = np.array([-1.5, 0.0, 1.5])[None, :] - (0.8 * x + 0.5 * g2 + b)[:, None]
    y = 1 + (rng.uniform(size=n)[:, None] > 1 / (1 + np.exp(-eta))).sum(axis=1)
    return pl.DataFrame({"id": ids, "y": y, "x": x, "g2": g2})


def fitter(model: str, n: int):
    """(rows, fit(threads) -> result) for one model and size."""
    if model == "npmlt":
        d = ordinal(n)
        return d.height, lambda k: gx.npmlt("y ~ x + g2", d, random="~1", id="id", k=4, threads=k)
    if model == "muscatine":
        d = _data.muscatine()
        return d.height, lambda k: gx.glmer(_data.MUSCATINE_FORMULA, d, family="binomial", nagq=10, threads=k)
    d = simulated(n)
    if model == "lmer":
        return n, lambda k: gx.lmer("z ~ x + t + (1 | g)", d, threads=k)
    if model == "crossed":
        return n, lambda k: gx.glmer("y ~ x + (1 | g) + (1 | h)", d, family="binomial", threads=k)
    nagq = {"glmer1": 1, "glmer10": 10}[model]
    return n, lambda k: gx.glmer("y ~ x + t + (1 | g)", d, family="binomial", nagq=nagq, threads=k)


def fingerprint(fit) -> tuple:
    """What must not change with the thread mode: the log-likelihood and the coefficients, exactly."""
    beta = getattr(fit, "beta", None)
    if beta is None:
        beta = fit.coef_table()["estimate"].to_numpy()
    return (float(fit.loglik), tuple(float(v) for v in np.asarray(beta).ravel()))


def time_modes(fit, repeat: int, budget: float) -> dict:
    """Warm each mode up once, then rounds of one timed fit per mode (rotated order) until
    ``repeat`` rounds or ``budget`` seconds (never fewer than 3 rounds)."""
    prints = {m: fingerprint(fit(m)) for m in MODES}
    times: dict = {m: [] for m in MODES}
    spent, rounds = 0.0, 0
    while rounds < repeat and (rounds < 3 or spent < budget):
        order = MODES[rounds % len(MODES):] + MODES[: rounds % len(MODES)]
        for m in order:
            t0 = time.perf_counter()
            fit(m)
            dt = time.perf_counter() - t0
            times[m].append(dt)
            spent += dt
        rounds += 1
    med = {m: statistics.median(v) for m, v in times.items()}
    best = min(med[1], med[2])
    return {"median": {str(m): med[m] for m in MODES}, "min": {str(m): min(times[m]) for m in MODES},
            "rounds": rounds, "default_vs_best": med[None] / best,
            "identical": len(set(prints.values())) == 1}


@contextlib.contextmanager
def busy_core(on: bool):
    """A second process spinning on one core while the block runs (nothing when ``on`` is False)."""
    if not on:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        yield
    finally:
        spinner.kill()
        spinner.wait()


def run(args) -> dict:
    rows = []
    with busy_core(args.busy), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model in args.models:
            for n in ([0] if model == "muscatine" else args.sizes):
                rows_n, fit = fitter(model, n)
                r = time_modes(fit, args.repeat, args.budget)
                rows.append({"model": model, "rows": rows_n, **r})
                print(f"  {model:9s} {rows_n:>9,}: " + "  ".join(
                    f"{m}={T.fmt_time(r['median'][str(m)])}" for m in MODES)
                    + f"  default/best={r['default_vs_best']:.2f} identical={r['identical']}",
                    file=sys.stderr, flush=True)
    return {"machine": T.machine(), "busy": args.busy, "rows": rows}


def text(res: dict) -> str:
    head = ("| model | rows | default (None) | threads=1 | threads=2 | default / best | bit-identical |\n"
            "|---|---:|---:|---:|---:|---:|---|")
    lines = [f"busy second core: {res['busy']}", head]
    for r in res["rows"]:
        m = r["median"]
        lines.append(f"| {r['model']} | {r['rows']:,} | {T.fmt_time(m['None'])} | {T.fmt_time(m['1'])} | "
                     f"{T.fmt_time(m['2'])} | {r['default_vs_best']:.2f} | {'yes' if r['identical'] else 'NO'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per cell after 3 rounds")
    ap.add_argument("--busy", action="store_true", help="spin a second process on one core meanwhile")
    ap.add_argument("--format", choices=("text", "json"), default="text")
    args = ap.parse_args(argv)
    res = run(args)
    print(json.dumps(res, indent=1) if args.format == "json" else text(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
