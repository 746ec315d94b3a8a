"""Time every reference fit of tests/reference that glmer covers (median and min of --repeat,
warm-up excluded) with glmmx, lme4 (same data, formula and nAGQ, timed inside R) and the PyPI
package glmm (odd nagq only: timed at the next odd order), and show the log-likelihood each reaches.

    python benches/bench_reference.py [--repeat 20] [--no-r] [--no-glmm] [--format text|json]

Log-likelihoods are compared like with like: lme4's logLik for nAGQ > 1 leaves out the saturated
binomial log-likelihood (lme4 issue #161), so for cbind() responses it is added back here.
"""

from __future__ import annotations

import json

import _data
import _timing as T
import numpy as np

HR_RS = "HR_incr ~ Time + Drug + Time*Drug + (1 + Time | Patient)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
CBPP_GLMM = "cbind(incidence, failures) ~ period + (1 | herd)"  # glmm's cbind takes two columns

# name, data, formula, nagq, glmm formula, target (seconds, from issue #4)
FITS = [
    ("HR_ri_nAGQ0", "HR", _data.HR_FORMULA, 0, None, None),
    ("HR_ri_nAGQ1", "HR", _data.HR_FORMULA, 1, None, 0.6e-3),
    ("HR_ri_nAGQ10", "HR", _data.HR_FORMULA, 10, None, None),
    ("HR_ri_nAGQ20", "HR", _data.HR_FORMULA, 20, None, 5e-3),
    ("HR_rs_laplace", "HR", HR_RS, 1, None, None),
    ("cbpp_laplace", "cbpp", CBPP, 1, CBPP_GLMM, None),
    ("cbpp_nAGQ25", "cbpp", CBPP, 25, CBPP_GLMM, None),
]


def saturated_binomial(df) -> float:
    """Saturated binomial log-likelihood of cbpp (binomial coefficients included)."""
    from scipy.special import gammaln, xlogy

    y, n = df["incidence"].to_numpy().astype(float), df["size"].to_numpy().astype(float)
    p = y / n
    return float(np.sum(gammaln(n + 1) - gammaln(y + 1) - gammaln(n - y + 1) + xlogy(y, p) + xlogy(n - y, 1 - p)))


def lme4_full_loglik(loglik, data: str, formula: str, nagq: int, df):
    """lme4's logLik on glmmx's scale: add the saturated part back for cbind() with nAGQ > 1."""
    if loglik is None or not ("cbind(" in formula and nagq > 1):
        return loglik
    return loglik + saturated_binomial(df)


def run(args) -> dict:
    out = {"machine": T.machine(), "fits": []}
    for name, data, formula, nagq, glmm_formula, target in FITS:
        df = _data.load(data)
        ref = json.loads((_data.REFERENCE / f"{name}.json").read_text())
        eng = {"glmmx": T.run_glmmx(df, formula, nagq, repeat=args.repeat)}
        if not args.no_r:
            eng["lme4"] = T.run_lme4(df, formula, nagq, repeat=args.repeat)
            if eng["lme4"]:
                eng["lme4"]["loglik_full"] = lme4_full_loglik(eng["lme4"]["loglik"], data, formula, nagq, df)
        if not args.no_glmm:
            eng["glmm"] = T.run_glmm(df, glmm_formula or formula, nagq, repeat=args.repeat)
        out["fits"].append({"name": name, "formula": formula, "nagq": nagq, "target": target,
                            "reference_loglik": lme4_full_loglik(ref["loglik"], data, formula, nagq, df),
                            "reference_converged": ref.get("converged_lme4"),
                            "engines": {k: T.public(v) for k, v in eng.items()}})
    return out


def _ll(res: dict | None, key: str = "loglik") -> str | None:
    """A log-likelihood to 6 decimals, flagged when that fit did not converge."""
    if not res or res.get(key) is None:
        return None
    return f"{res[key]:.6f}" + (" (not converged)" if res.get("converged") is False else "")


def text(res: dict) -> str:
    times, lls = [], []
    for f in res["fits"]:
        e = f["engines"]
        gx, r, gm = e["glmmx"], e.get("lme4"), e.get("glmm")
        target = f"< {T.fmt_time(f['target'])}: {'met' if gx['median'] < f['target'] else 'MISSED'}" if f["target"] else ""
        times.append([f["name"], f["nagq"], T.fmt_time(gx["median"]), T.fmt_time(gx["min"]),
                      T.fmt_time(r and r["median"]), T.ratio(r, gx),
                      gm and gm.get("nagq"), T.fmt_time(gm and gm.get("median")), T.ratio(gm, gx), target])
        lme4_ll = r and r.get("loglik_full")
        ref = f"{f['reference_loglik']:.6f}" + ("" if f["reference_converged"] else " (lme4: not converged)")
        lls.append([f["name"], _ll(gx), _ll(r, "loglik_full"), ref, _ll(gm),
                    None if lme4_ll is None else f"{gx['loglik'] - lme4_ll:+.1e}",
                    None if not gm or gm.get("loglik") is None else f"{gx['loglik'] - gm['loglik']:+.1e}"])
    notes = {v["note"] for f in res["fits"] for v in f["engines"].values() if v and v.get("note")}
    return "\n".join([
        f"Reference fits, median and min of repeats after one warm-up; {res['machine']}", "",
        T.table(times, ["fit", "nagq", "glmmx", "min", "lme4", "÷ glmmx", "glmm nagq", "glmm", "÷ glmmx", "target"]),
        "", "Log-likelihoods (full, binomial coefficients included; lme4's nAGQ > 1 cbind value put on that scale):", "",
        T.table(lls, ["fit", "glmmx", "lme4 (this run)", "lme4 (tests/reference)", "glmm",
                      "glmmx − lme4", "glmmx − glmm"]),
        "", *sorted(notes),
    ])


def main(argv=None):
    p = T.arguments(__doc__)
    p.add_argument("--repeat", type=int, default=20, help="timed repeats per fit and engine (after one warm-up)")
    args = p.parse_args(argv)
    T.report(args, run, text)


if __name__ == "__main__":
    main()
