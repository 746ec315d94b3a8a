"""Muscatine coronary risk factor study (geepack's muscatine, bundled as gx.datasets "muscatine"): 4,856 children,
obesity (yes/no, often missing) at three occasions; model (``--model fitzmaurice``, the default)
obese ~ gender * (cage + I(cage^2)) + (1 | id), cage = age - 12, or (``--model lecture``) the seed
lecture's obese ~ gender + log(age) * factor(cohort) + (1 | id); rows with missing obese dropped.

Times (median and min of --repeat after an untimed warm-up on every 16th child) glmmx with
nagq = 10 (and 9, 11), lme4 with nAGQ = 10 and glmm with nagq = 11 and 9 on the same long data;
then glmmx on the aggregated form (children with the same gender, cohort and obesity pattern, missingness
included, collapsed into one cluster with a count, fitted with group_weights=) and checks that it
reaches the long data's log-likelihood. Last, how the nagq = k log-likelihood settles as k grows.

    python benches/bench_muscatine.py [--model fitzmaurice|lecture] [--repeat 10] [--no-r] [--no-glmm] [--format text|json]
"""

from __future__ import annotations

import warnings

import _data
import _timing as T
import polars as pl

MODELS = {"fitzmaurice": _data.MUSCATINE_FORMULA, "lecture": _data.MUSCATINE_LECTURE_FORMULA}
F = MODELS["fitzmaurice"]
TARGET = 0.15  # seconds, glmmx nagq = 10 (issue #4)


def run(args) -> dict:
    long, agg = _data.muscatine(), _data.muscatine_aggregated()
    warm = long.filter(pl.col("id") % 16 == 0)  # ~300 children of both genders and all cohorts
    kw = {"repeat": args.repeat, "warmup_data": warm}
    fits = [("long", "glmmx", T.run_glmmx(long, F, q, **kw)) for q in (10, 9, 11)]
    if not args.no_r:
        fits.append(("long", "lme4", T.run_lme4(long, F, 10, budget=args.r_budget, **kw)))
    if not args.no_glmm:
        fits += [("long", "glmm", T.run_glmm(long, F, q, **kw)) for q in (11, 9)]
    fits.append(("aggregated", "glmmx", T.run_glmmx(agg, F, 10, group_weights="count", repeat=args.repeat)))
    accuracy = []
    for q in (1, 5, 7, 9, 10, 11, 12, 15, 20, 25, 30, 40, 60):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import glmmx as gx

            f = gx.glmer(F, data=agg, nagq=q, group_weights="count")
        accuracy.append({"nagq": q, "loglik": f.loglik, "sigma2": float(f.varcorr()["vcov"][0])})
    return {"machine": T.machine(), "nobs": long.height, "children": long["id"].n_unique(),
            "patterns": agg["id"].n_unique(), "agg_rows": agg.height, "children_in_patterns":
            int(agg.group_by("id").agg(pl.col("count").first())["count"].sum()),
            "fits": [{"form": a, "engine": e, **T.public(r)} for a, e, r in fits if r is not None],
            "accuracy": accuracy}


def text(res: dict) -> str:
    base = next(f for f in res["fits"] if f["engine"] == "glmmx" and f["nagq"] == 10 and f["form"] == "long")
    agg = next(f for f in res["fits"] if f["form"] == "aggregated")
    rows = []
    for f in res["fits"]:
        target = ""
        if f["engine"] == "glmmx" and f["nagq"] == 10:
            target = f"< {T.fmt_time(TARGET)}: {'met' if f['median'] < TARGET else 'MISSED'}"
        rows.append([f["form"], f["engine"], f["nagq"], T.fmt_time(f["median"]), T.fmt_time(f["min"]), f["n"],
                     T.ratio(f, base), f"{f['loglik']:.6f}", "yes" if f["converged"] else "NO", target])
    same = abs(agg["loglik"] - base["loglik"])
    acc = [[a["nagq"], f"{a['loglik']:.4f}", f"{a['sigma2']:.3f}"] for a in res["accuracy"]]
    notes = sorted({f["note"] for f in res["fits"] if f.get("note")})
    return "\n".join([
        f"Muscatine: {F}",
        (f"  {res['nobs']} rows, {res['children']} children; aggregated: {res['patterns']} patterns "
         f"({res['agg_rows']} rows) standing for {res['children_in_patterns']} children"),
        f"  {res['machine']}",
        "", T.table(rows, ["data", "engine", "nagq", "median", "min", "repeats", "÷ glmmx long nagq=10", "loglik",
                           "converged", "target"]),
        "", (f"aggregated vs long log-likelihood (glmmx, nagq = 10): |difference| = {same:.1e} "
             f"({'same' if same < 1e-6 else 'DIFFERENT'})"),
        "", "Log-likelihood and random-intercept variance against the number of quadrature nodes (glmmx, aggregated):",
        "", T.table(acc, ["nagq", "loglik", "sigma^2"]), "", *notes])


def main(argv=None):
    p = T.arguments(__doc__)
    p.add_argument("--repeat", type=int, default=10, help="timed repeats per fit (after one warm-up)")
    p.add_argument("--r-budget", type=float, default=60.0, help="seconds after which lme4 stops repeating (min. 3)")
    p.add_argument("--model", choices=sorted(MODELS), default="fitzmaurice", help="which Muscatine model")
    args = p.parse_args(argv)
    global F
    F = MODELS[args.model]
    T.report(args, run, text)


if __name__ == "__main__":
    main()
