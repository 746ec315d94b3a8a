"""Simulation studies and bootstrap (issue #3): 1,000 parametric-bootstrap refits of the
seed's heart-rate glmer model (nAGQ 1 and 20) and of the schizo npmlt k = 2 model, on 1 and 2
threads (speed-up), lme4's refit loop side by side, and 100,000 heart-rate replicates with
their peak memory (in a subprocess).

    python benches/bench_batch.py [--nsim 1000] [--repeat 3] [--big 100000] [--format text|json]

Data: the bundled HR and schizo (glmmx.datasets). Medians of `--repeat` runs after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _data  # noqa: E402

HR_CSV = _data.path("HR")
HR_FORMULA = "HR_incr ~ Time + Drug + Time*Drug + (1 | Patient)"


def heart_rate():
    return _data.heart_rate()


def median_time(run, repeat: int) -> tuple[float, float]:
    run()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def bench_bootstrap(fit, label: str, nsim: int, repeat: int) -> list[dict]:
    rows = []
    for threads in (1, 2):
        med, best = median_time(lambda: fit.bootstrap(nsim=nsim, seed=1, threads=threads, progress=False), repeat)
        rows.append({"case": label, "threads": threads, "nsim": nsim, "median_s": med, "min_s": best})
    converged = fit.bootstrap(nsim=nsim, seed=1, progress=False).n_converged
    for r in rows:
        r["converged"] = converged
        r["speedup"] = rows[0]["median_s"] / r["median_s"]
    return rows


R_REFITS = r"""
suppressMessages(library(lme4))
HR <- read.csv("{hr}"); HR$HR_incr <- 1 * (HR$HR > HR$baseHR)
m <- glmer(HR_incr ~ Time + Drug + Time*Drug + (1 | Patient), data = HR, family = binomial, nAGQ = {nagq})
sims <- simulate(m, nsim = {n}, seed = 1)
t <- system.time(for (k in seq_len({n})) suppressWarnings(suppressMessages(refit(m, sims[[k]]))))[["elapsed"]]
cat(t / {n}, as.character(packageVersion("lme4")), R.version.string, "\n")
"""


def lme4_per_refit(nagq: int, n: int = 40) -> dict | None:
    """lme4's time per refit (refit() of simulate()), over `n` replicates."""
    if shutil.which("Rscript") is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as f:
        f.write(R_REFITS.format(hr=HR_CSV, nagq=nagq, n=n))
    out = subprocess.run(["Rscript", f.name], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        return None
    per, version, *rest = out.stdout.split()
    return {"per_refit_s": float(per), "lme4": version, "R": " ".join(rest), "n": n}


BIG = textwrap.dedent("""
    import resource, sys, time, warnings
    import polars as pl, glmmx as gx
    hr = pl.read_csv(sys.argv[1]).with_columns(HR_incr=(pl.col("HR") > pl.col("baseHR")).cast(pl.Int64))
    fit = gx.glmer("{formula}", data=hr)
    t0 = time.perf_counter()
    boot = fit.bootstrap(nsim=int(sys.argv[2]), seed=1, progress=False)
    elapsed = time.perf_counter() - t0
    print(elapsed, boot.table.height, boot.n_converged, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
""").format(formula=HR_FORMULA)


def bench_big(nsim: int) -> dict:
    out = subprocess.run([sys.executable, "-c", BIG, HR_CSV, str(nsim)], capture_output=True, text=True, check=True)
    elapsed, rows, converged, rss = out.stdout.split()
    return {"nsim": nsim, "seconds": float(elapsed), "table_rows": int(rows), "converged": int(converged), "peak_rss_mb": float(rss)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nsim", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--format", choices=("text", "json"), default="text")
    args = ap.parse_args()
    import glmmx as gx

    warnings.simplefilter("ignore")
    hr = heart_rate()
    rows = []
    for nagq in (1, 20):
        fit = gx.glmer(HR_FORMULA, data=hr, nagq=nagq)
        rows += bench_bootstrap(fit, f"HR glmer nAGQ={nagq}", args.nsim, args.repeat)
    schizo = _data.bundled("schizo")
    npm = gx.npmlt("y ~ trt*sqrt(wk)", data=schizo, random="~1 + trt", id="id", k=2)
    rows += bench_bootstrap(npm, "schizo npmlt k=2 (~1+trt)", args.nsim, args.repeat)
    r = {nagq: lme4_per_refit(nagq) for nagq in (1, 20)}
    big = bench_big(args.big) if args.big else None
    if args.format == "json":
        print(json.dumps({"bootstrap": rows, "lme4": r, "big": big}, indent=2))
        return
    print(f"{'case':32s} {'threads':>7s} {'nsim':>6s} {'median':>9s} {'min':>9s} {'speed-up':>8s} {'converged':>9s}")
    for row in rows:
        print(f"{row['case']:32s} {row['threads']:7d} {row['nsim']:6d} {row['median_s']:8.3f}s {row['min_s']:8.3f}s {row['speedup']:7.2f}x {row['converged']:9d}")
    for nagq, res in r.items():
        if res:
            per = res["per_refit_s"]
            ours = next(x for x in rows if x["case"] == f"HR glmer nAGQ={nagq}" and x["threads"] == 2)["median_s"] / args.nsim
            print(f"lme4 {res['lme4']} refit() nAGQ={nagq}: {per * 1e3:.1f} ms per refit ({res['n']} timed) -> {per * args.nsim:.0f} s per {args.nsim}; glmmx {per / ours:.0f}x faster")
    if big:
        print(f"{big['nsim']} heart-rate bootstrap replicates: {big['seconds']:.1f} s, peak RSS {big['peak_rss_mb']:.0f} MB, {big['converged']} converged, table of {big['table_rows']} rows")


if __name__ == "__main__":
    main()
