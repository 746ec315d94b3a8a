"""Scale series for glmer: simulated logistic random-intercept data (y ~ x + t + (1 | g)),
1k to 1M observations in clusters of 3 to 10 (uniform), nagq 1 and 10, plus the two named cases
of issue #4 (15,000 observations in 5,000 clusters and 1,000,000 in 100,000, nagq = 10).

Each cell (engine × size × nagq) runs in its own subprocess, so its peak resident memory can be
reported: a warm-up fit on 1,000 rows of the same design (untimed), then --repeat timed fits of the
full data (fewer once --budget seconds are used, never fewer than 3). Cells run one after another.

    python benches/bench_scale.py [--sizes 1000 10000 100000 1000000] [--nagq 1 10]
        [--engines glmmx lme4 glmm] [--repeat 5] [--budget 30] [--r-max-n 100000] [--format text|json]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys

import _data
import _timing as T

# label, observations, clusters, nagq, glmmx target in seconds (issue #4)
NAMED = [("15,000 obs, size 3", 15_000, 5_000, 10, 0.2),
         ("1,000,000 obs, size 10", 1_000_000, 100_000, 10, 5.0)]
TARGET_MB = 2048  # the 1M case: under 2 GB


def child(spec: dict) -> dict:
    """One cell, run in a subprocess: simulate, time one engine, report its peak memory."""
    df = _data.simulate(spec["n"], spec["clusters"])
    warm = _data.simulate(1_000, None if spec["clusters"] is None else max(1, spec["clusters"] * 1_000 // spec["n"]),
                          seed=1)
    kw = {"repeat": spec["repeat"], "budget": spec["budget"], "warmup_data": warm}
    base_mb = T.peak_rss_mb()
    run = {"glmmx": T.run_glmmx, "lme4": T.run_lme4, "glmm": T.run_glmm}[spec["engine"]]
    res = run(df, _data.SIM_FORMULA, spec["nagq"], **kw)
    if res is not None and spec["engine"] != "lme4":  # lme4 reports its R process's own peak
        res["peak_rss_mb"], res["data_rss_mb"] = T.peak_rss_mb(), base_mb
    return {**spec, "n_clusters": int(df["g"].n_unique()), "result": T.public(res)}


def cell(engine: str, n: int, clusters: int | None, nagq: int, args) -> dict:
    spec = {"engine": engine, "n": n, "clusters": clusters, "nagq": nagq, "repeat": args.repeat,
            "budget": args.budget}
    if engine == "lme4" and n > args.r_max_n:
        return {**spec, "result": {"note": f"lme4 skipped above {args.r_max_n:,} rows (--r-max-n): "
                                           "a 1M-row Laplace fit takes minutes"}}
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        return {**spec, "result": {"note": f"{engine} failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]}}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {engine:6s} n={n:>9,} nagq={nagq:>2}: {T.fmt_time((out['result'] or {}).get('median'))}",
          file=sys.stderr, flush=True)
    return out


def run(args) -> dict:
    cases = [(f"{n:,} obs, sizes 3-10", n, None, q, None) for n in args.sizes for q in args.nagq]
    cases += [] if args.no_named else [(label, n, c, q, t) for label, n, c, q, t in NAMED]
    rows = []
    for label, n, clusters, nagq, target in cases:
        cells = {e: cell(e, n, clusters, nagq, args) for e in args.engines}
        n_clusters = next((c["n_clusters"] for c in cells.values() if "n_clusters" in c), clusters)
        rows.append({"case": label, "n": n, "clusters": n_clusters, "nagq": nagq, "target": target,
                     "engines": {e: c["result"] for e, c in cells.items()}})
    return {"machine": T.machine(), "rows": rows}


def text(res: dict) -> str:
    out = []
    for r in res["rows"]:
        e = r["engines"]
        gx, rr, gm = e.get("glmmx") or {}, e.get("lme4") or {}, e.get("glmm") or {}
        def mb(d):
            return None if d.get("peak_rss_mb") is None else f"{d['peak_rss_mb']:.0f}"

        def dll(d, gx=gx):
            if d.get("loglik") is None or gx.get("loglik") is None or not math.isfinite(d["loglik"]):
                return None
            return f"{gx['loglik'] - d['loglik']:+.1e}"

        target = ""
        if r["target"] and gx.get("median") is not None:
            ok = gx["median"] < r["target"] and (r["n"] < 10**6 or (gx.get("peak_rss_mb") or 0) < TARGET_MB)
            target = f"< {T.fmt_time(r['target'])}" + (" & 2 GB" if r["n"] >= 10**6 else "") + f": {'met' if ok else 'MISSED'}"
        out.append([r["case"], None if r["clusters"] is None else f"{r['clusters']:,}", r["nagq"], T.fmt_time(gx.get("median")), T.fmt_time(gx.get("min")), mb(gx),
                    T.fmt_time(rr.get("median")), T.ratio(rr, gx), mb(rr),
                    gm.get("nagq"), T.fmt_time(gm.get("median")), T.ratio(gm, gx), mb(gm),
                    dll(rr), dll(gm), target])
    notes = sorted({v["note"] for r in res["rows"] for v in r["engines"].values() if v and v.get("note")})
    notes += [f"NOT CONVERGED: {e} on {r['case']}, nagq {r['nagq']}: loglik {v.get('loglik')}, {v.get('message') or ''}"
              for r in res["rows"] for e, v in r["engines"].items() if v and v.get("converged") is False]
    head = ["case", "clusters", "nagq", "glmmx", "min", "MB", "lme4", "÷ glmmx", "MB", "glmm nagq", "glmm", "÷ glmmx", "MB",
            "Δll lme4", "Δll glmm", "target"]
    title = ("Scale series, y ~ x + t + (1 | g); median and min of repeats; MB = peak RSS of the fitting "
             f"process; Δll = glmmx loglik − other's\n{res['machine']}")
    return "\n".join([title, "",
                      T.table(out, head), "", *notes])


def main(argv=None):
    p = T.arguments(__doc__, engines=False)
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    p.add_argument("--nagq", type=int, nargs="+", default=[1, 10])
    p.add_argument("--engines", nargs="+", default=["glmmx", "lme4", "glmm"], choices=["glmmx", "lme4", "glmm"])
    p.add_argument("--repeat", type=int, default=5, help="timed repeats per cell (after one warm-up)")
    p.add_argument("--budget", type=float, default=30.0, help="seconds per cell after which repeats stop (min. 3)")
    p.add_argument("--r-max-n", type=int, default=100_000,
                   help="skip lme4 above this many rows (2026-11-24: a 1M-row Laplace fit took 4 min)")
    p.add_argument("--no-named", action="store_true", help="leave out the two named cases")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    T.report(args, run, text)


if __name__ == "__main__":
    main()
