"""Time one glmer fit with glmmx (median and min of --repeat, after one untimed warm-up) beside
lme4's glmer on the same data, formula and nAGQ (timed inside one R process, when Rscript with
lme4 is installed) and the PyPI package glmm (at the nearest odd nagq it accepts).

    python benches/bench_fit.py --model glmer --data HR \
        --formula "HR_incr ~ Time + Drug + Time*Drug + (1 | Patient)" --n-agq 20 --repeat 20 --format text
"""

from __future__ import annotations


import _data
import _timing as T


def run(args) -> dict:
    df = _data.load(args.data)
    res = {"model": args.model, "data": args.data, "nobs": df.height, "formula": args.formula,
           "family": args.family, "n_agq": args.n_agq, "machine": T.machine(), "notes": []}
    kw = {"group_weights": args.group_weights} if args.group_weights else {}
    eng = {"glmmx": T.run_glmmx(df, args.formula, args.n_agq, family=args.family, repeat=args.repeat, **kw)}
    if args.group_weights:
        res["notes"].append("group_weights: lme4 and glmm have no cluster frequencies; glmmx only")
    else:
        if not args.no_r:
            eng["lme4"] = T.run_lme4(df, args.formula, args.n_agq, family=args.family, repeat=args.repeat,
                                     budget=args.budget)
            if eng["lme4"] is None:
                res["notes"].append("lme4: Rscript with lme4 not found, not timed")
        if not args.no_glmm:
            try:
                eng["glmm"] = T.run_glmm(df, args.glmm_formula or args.formula, args.n_agq, family=args.family,
                                         repeat=args.repeat, budget=args.budget)
            except Exception as e:  # noqa: BLE001 -- glmm's formula language is narrower (cbind of two columns)
                eng["glmm"] = {"note": f"glmm failed: {type(e).__name__}: {e}"}
    if "cbind(" in args.formula and args.n_agq > 1 and eng.get("lme4"):
        res["notes"].append("lme4's logLik for nAGQ > 1 leaves out the saturated binomial log-likelihood "
                            "(lme4 issue #161); glmmx and glmm report the full log-likelihood")
    res["engines"] = {k: T.public(v) for k, v in eng.items()}
    return res


def text(res: dict) -> str:
    head = (f"{res['model']}: {res['formula']}\n  data {res['data']} ({res['nobs']} rows), {res['family']}, "
            f"nagq = {res['n_agq']}\n  {res['machine']}")
    notes = [f"{k}: {v.get('call', '')} ({v['note']})" if v.get("call") else f"{k}: {v['note']}"
             for k, v in res["engines"].items() if v and v.get("note")]
    return "\n".join([head, "", T.engine_table(res["engines"]), "", *notes, *res["notes"]])


def main(argv=None):
    p = T.arguments(__doc__)
    p.add_argument("--model", default="glmer", choices=["glmer"])
    p.add_argument("--data", default="HR", help="HR, cbpp, muscatine, sim:<n_obs>, or a CSV/parquet path")
    p.add_argument("--formula", default=_data.HR_FORMULA)
    p.add_argument("--family", default="binomial", choices=["binomial", "poisson"])
    p.add_argument("--n-agq", type=int, default=1)
    p.add_argument("--repeat", type=int, default=20, help="timed repeats (after one warm-up)")
    p.add_argument("--budget", type=float, default=60.0,
                   help="seconds after which lme4 and glmm stop repeating (never before 3 repeats)")
    p.add_argument("--group-weights", help="column of cluster frequencies (glmmx only)")
    p.add_argument("--glmm-formula", help="formula for glmm when its syntax differs (cbind of two columns)")
    args = p.parse_args(argv)
    T.report(args, run, text)


if __name__ == "__main__":
    main()
