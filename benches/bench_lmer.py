"""Time lmer and crossed-factor glmer fits: glmmx beside the PyPI package ``glmm`` (Rust) and,
with ``--r``, lme4 (R) on the same data.

    python benches/bench_lmer.py [--repeat 7] [--r] [--format text|json]

Models (issue #5's benchmark set):
  insteval  lmer(y ~ service + (1|s) + (1|d) + (1|dept:service), InstEval, REML = FALSE)
            73,421 ratings, 2,972 students x 1,128 lecturers x 28 department:service cells
  verbagg   glmer(r2 ~ (Anger + Gender + btype + situ)^2 + (1|id) + (1|item), VerbAgg, binomial)
            Laplace, 7,584 responses, 316 persons x 24 items
  sleep     lmer(Reaction ~ Days + (Days | Subject), sleepstudy) (REML)

Each glmmx and glmm time is a whole call from a DataFrame (design included), warm-up excluded;
median and minimum of ``--repeat`` runs, the two packages' calls alternating so that drift in
the machine's speed affects both alike; ``ratio`` is glmm's median over glmmx's. lme4 is timed once inside R (system.time of the fit,
data already loaded). InstEval, VerbAgg and sleepstudy are the bundled copies
(glmmx.datasets). The machine load (1-minute average) is
printed with the results, since other work on the machine slows every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

import glmmx as gx

ROOT = Path(__file__).resolve().parents[1]
VERBAGG = "r2 ~ (Anger + Gender + btype + situ)^2 + (1 | id) + (1 | item)"
# glmm's formula parser has no (a + b)^2: the same terms written out
VERBAGG_EXPANDED = "r2 ~ Anger + Gender + btype + situ + Anger:Gender + Anger:btype + Anger:situ + Gender:btype + Gender:situ + btype:situ + (1 | id) + (1 | item)"
INSTEVAL = "y ~ service + (1 | s) + (1 | d) + (1 | dept:service)"
SLEEP = "Reaction ~ Days + (Days | Subject)"


def load_insteval() -> pl.DataFrame | None:
    df = gx.datasets.load("InstEval")
    return df.with_columns(pl.col("service").cast(pl.String)).select("y", "s", "d", "dept", "service")


def load_verbagg() -> pl.DataFrame:
    return gx.datasets.load("VerbAgg")


def load_sleep() -> pl.DataFrame | None:
    return gx.datasets.load("sleepstudy")


def timed(f, repeat: int) -> tuple[float, float, object]:
    result = f()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), result


def timed_side_by_side(f, g, repeat: int) -> tuple[tuple[float, float, object], tuple[float, float, object]]:
    """``timed`` for two calls run alternately, so that a change in the machine's speed during
    the runs affects both alike."""
    results = [f(), g()]
    times: list[list[float]] = [[], []]
    for _ in range(repeat):
        for k, h in enumerate((f, g)):
            t = time.perf_counter()
            results[k] = h()
            times[k].append(time.perf_counter() - t)
    return tuple((statistics.median(ts), min(ts), r) for ts, r in zip(times, results))  # type: ignore[return-value]


def glmm_data(df: pl.DataFrame, factors: list[str], binary: str | None = None) -> dict:
    out = {c: df[c].to_numpy() for c in df.columns}
    for c in factors:
        out[c] = df[c].cast(pl.String).to_numpy()
    if binary:
        out[binary] = (df[binary] == "Y").cast(pl.Int64).to_numpy()
    return out


R_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(TRUE)
which <- args[1]
if (which == "insteval") {
  data(InstEval, package = "lme4")
  t <- system.time(m <- lmer(y ~ service + (1|s) + (1|d) + (1|dept:service), data = InstEval, REML = FALSE))
} else if (which == "verbagg") {
  data(VerbAgg, package = "lme4")
  t <- system.time(m <- glmer(r2 ~ (Anger + Gender + btype + situ)^2 + (1|id) + (1|item), data = VerbAgg, family = binomial))
} else {
  d <- read.csv(args[2])
  t <- system.time(m <- lmer(Reaction ~ Days + (Days | Subject), data = d))
}
cat(sprintf("%.6f %.10f %s\n", t[["elapsed"]], as.numeric(logLik(m)), is.null(m@optinfo$conv$lme4$messages)))
"""


def lme4(which: str) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as f:
        f.write(R_SCRIPT)
    args = ["Rscript", f.name, which]
    if which == "sleep":
        args.append(str(gx.datasets.path("sleepstudy")))
    out = subprocess.run(args, capture_output=True, text=True, check=False)
    os.unlink(f.name)
    try:
        seconds, loglik, ok = out.stdout.split()[-3:]
    except ValueError:
        return None
    return {"seconds": float(seconds), "loglik": float(loglik), "converged": ok == "TRUE"}


def run(repeat: int, with_r: bool, with_glmm: bool) -> list[dict]:
    rows = []
    cases = []
    ie = load_insteval()
    if ie is not None:
        cases.append(("insteval", ie, lambda d: gx.lmer(INSTEVAL, data=d, reml=False),
                      lambda d: _glmm().fit(glmm_data(d, ["s", "d", "dept", "service"]), INSTEVAL, reml=False, satterthwaite=False)))
    va = load_verbagg()
    cases.append(("verbagg", va, lambda d: gx.glmer(VERBAGG, data=d, family="binomial"),
                  lambda d: _glmm().fit(glmm_data(d, ["id"], binary="r2"), VERBAGG_EXPANDED, family="binomial")))
    sl = load_sleep()
    if sl is not None:
        cases.append(("sleep", sl, lambda d: gx.lmer(SLEEP, data=d),
                      lambda d: _glmm().fit(glmm_data(d, ["Subject"]), SLEEP, reml=True, satterthwaite=False)))
    for name, data, ours, theirs in cases:
        load = os.getloadavg()[0]
        if with_glmm and _glmm() is not None:
            (med, best, fit), (gmed, gbest, gfit) = timed_side_by_side(lambda: ours(data), lambda: theirs(data), repeat)
        else:
            (med, best, fit), gfit = timed(lambda: ours(data), repeat), None
        row = {"model": name, "nobs": fit.nobs, "load": load, "glmmx_median_s": med, "glmmx_min_s": best,
               "glmmx_loglik": fit.loglik, "glmmx_converged": fit.converged}
        if gfit is not None:
            row |= {"glmm_median_s": gmed, "glmm_min_s": gbest, "glmm_loglik": float(gfit.loglik), "glmm_over_glmmx": gmed / med}
        rows.append(row)
    # lme4 last: a minute of R on one core would slow the other timings
    for row in rows if with_r else []:
        r = lme4(row["model"])
        if r:
            row |= {"lme4_s": r["seconds"], "lme4_loglik": r["loglik"], "lme4_converged": r["converged"]}
    return rows


def _glmm():
    try:
        import glmm
    except ImportError:
        return None
    return glmm


def fmt_time(s: float | None) -> str:
    if s is None or not np.isfinite(s):
        return "-"
    return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"


def print_table(rows: list[dict]) -> None:
    head = f"{'model':9} {'n':>6} {'load':>5} {'glmmx median':>13} {'(min)':>10} {'glmm median':>12} {'ratio':>6} {'lme4':>9}  {'logLik glmmx':>16} {'glmm':>16} {'lme4':>16}"
    print(head)
    print("-" * len(head))
    for r in rows:
        lme4_ll = f"{r['lme4_loglik']:.6f}{'' if r.get('lme4_converged', True) else '*'}" if "lme4_loglik" in r else "-"
        print(f"{r['model']:9} {r['nobs']:>6} {r['load']:>5.2f} {fmt_time(r['glmmx_median_s']):>13} {fmt_time(r['glmmx_min_s']):>10} "
              f"{fmt_time(r.get('glmm_median_s')):>12} {r.get('glmm_over_glmmx', float('nan')):>6.2f} {fmt_time(r.get('lme4_s')):>9}  {r['glmmx_loglik']:>16.6f} "
              f"{r.get('glmm_loglik', float('nan')):>16.6f} {lme4_ll:>16}")
    if any(not r.get("lme4_converged", True) for r in rows):
        print("* lme4 reported a convergence failure")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--r", action="store_true", help="also time lme4 with Rscript (about a minute)")
    ap.add_argument("--no-glmm", action="store_true", help="do not time the glmm package")
    ap.add_argument("--format", choices=["text", "json"], default="text")
    a = ap.parse_args()
    rows = run(a.repeat, a.r, not a.no_glmm)
    if a.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows)


if __name__ == "__main__":
    main()
