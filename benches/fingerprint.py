"""Every number of a set of fits, to full precision, for checking that a change leaves results
bit-identical: the reference fits of tests/reference, lme4's crossed and nested examples, the
crossed glmer fits, npmlt, and a few bootstrap replicates of each model kind.

    python benches/fingerprint.py > before.json      # on the old code
    python benches/fingerprint.py --compare before.json

Floats are written with ``repr`` (round-trip exact), so ``--compare`` reports any difference at
all, naming the fit and the quantity; it exits 1 when something differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import _data
import numpy as np
import polars as pl

import glmmx as gx

HR_RS = "HR_incr ~ Time + Drug + Time*Drug + (1 + Time | Patient)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
VERBAGG = "r2 ~ (Anger + Gender + btype + situ)^2 + (1 | id) + (1 | item)"


def numbers(x):
    """Lists of floats (exactly, via repr) from arrays, dicts and polars frames."""
    if isinstance(x, pl.DataFrame):
        return {c: numbers(x[c].to_list()) for c in x.columns}
    if isinstance(x, dict):
        return {str(k): numbers(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [numbers(v) for v in np.asarray(x, dtype=object).tolist()] if np.ndim(x) else numbers(np.asarray(x).item())
    if isinstance(x, (float, np.floating)):
        return repr(float(x))
    if isinstance(x, (bool, np.bool_, int, np.integer, str)) or x is None:
        return x if not isinstance(x, np.generic) else x.item()
    return repr(x)


def glmer_prints(fit) -> dict:
    out = {"loglik": fit.loglik, "coef_table": fit.coef_table(), "varcorr": fit.varcorr(), "converged": fit.converged}
    out["ranef"] = fit.ranef()
    return numbers(out)


def lmer_prints(fit) -> dict:
    out = {"loglik": fit.loglik, "coef_table": fit.coef_table(), "varcorr": fit.varcorr(), "converged": fit.converged}
    out["anova"] = fit.anova()
    return numbers(out)


def npmlt_prints(fit) -> dict:
    out = {"m2loglik": fit.m2loglik, "coef_table": fit.coef_table(), "mass_points": fit.mass_points, "masses": fit.masses}
    out["converged"] = fit.converged
    return numbers(out)


def fits() -> dict:
    hr, cbpp = _data.heart_rate(), _data.cbpp()
    schizo = _data.bundled("schizo")
    sleep = _data.bundled("sleepstudy")
    verbagg = _data.bundled("VerbAgg")
    out = {}
    for nagq in (0, 1, 10, 20):
        out[f"HR_ri_nAGQ{nagq}"] = glmer_prints(gx.glmer(_data.HR_FORMULA, data=hr, family="binomial", nagq=nagq))
    out["HR_rs_laplace"] = glmer_prints(gx.glmer(HR_RS, data=hr, family="binomial"))
    out["HR_rs_nAGQ5"] = glmer_prints(gx.glmer(HR_RS, data=hr, family="binomial", nagq=5))
    out["cbpp_laplace"] = glmer_prints(gx.glmer(CBPP, data=cbpp, family="binomial"))
    out["cbpp_nAGQ25"] = glmer_prints(gx.glmer(CBPP, data=cbpp, family="binomial", nagq=25))
    obs = cbpp.with_columns(obs=pl.int_range(pl.len()))
    out["cbpp_obs_laplace"] = glmer_prints(gx.glmer(CBPP + " + (1 | obs)", data=obs, family="binomial"))
    out["cbpp_obs_nAGQ0"] = glmer_prints(gx.glmer(CBPP + " + (1 | obs)", data=obs, family="binomial", nagq=0))
    out["verbagg_laplace"] = glmer_prints(gx.glmer(VERBAGG, data=verbagg, family="binomial"))
    out["HR_lmer_reml"] = lmer_prints(gx.lmer("HR ~ Time + Drug + Time*Drug + (1 + Time | Patient)", data=hr))
    out["sleep_reml"] = lmer_prints(gx.lmer("Reaction ~ Days + (Days | Subject)", data=sleep))
    out["sleep_ml"] = lmer_prints(gx.lmer("Reaction ~ Days + (Days || Subject)", data=sleep, reml=False))
    pen = _data.bundled("Penicillin")
    out["penicillin"] = lmer_prints(gx.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", data=pen))
    pastes = _data.bundled("Pastes")
    out["pastes"] = lmer_prints(gx.lmer("strength ~ 1 + (1 | batch/cask)", data=pastes))
    npm = gx.npmlt("y ~ trt*sqrt(wk)", data=schizo, random="~1 + trt", id="id", k=2)
    out["schizo_np_k2"] = npmlt_prints(npm)
    out["schizo_npo_k2"] = npmlt_prints(gx.npmlt("y ~ trt*sqrt(wk)", data=schizo, random="~1 + trt", id="id", k=2, npo="~trt + sqrt(wk)"))
    out["schizo_k4"] = npmlt_prints(gx.npmlt("y ~ trt*sqrt(wk)", data=schizo, random="~1", id="id", k=4))
    out["schizo_normal"] = npmlt_prints(gx.npmlt("y ~ trt*sqrt(wk)", data=schizo, random="~1", id="id", random_dist="normal", nagq=10))
    boot = dict(nsim=8, seed=1, threads=1, progress=False)
    out["boot_HR_laplace"] = numbers(gx.glmer(_data.HR_FORMULA, data=hr, family="binomial").bootstrap(**boot).table)
    out["boot_HR_nAGQ10"] = numbers(gx.glmer(_data.HR_FORMULA, data=hr, family="binomial", nagq=10).bootstrap(**boot).table)
    out["boot_cbpp_obs"] = numbers(gx.glmer(CBPP + " + (1 | obs)", data=obs, family="binomial").bootstrap(**boot).table)
    out["boot_sleep"] = numbers(gx.lmer("Reaction ~ Days + (Days | Subject)", data=sleep).bootstrap(**boot).table)
    out["boot_npmlt"] = numbers(npm.bootstrap(**{**boot, "nsim": 4}).table)
    return out


def differences(old, new, path="") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        found = [f"{path}/{k}: only in one run" for k in set(old) ^ set(new)]
        for k in old.keys() & new.keys():
            found += differences(old[k], new[k], f"{path}/{k}")
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in differences(a, b, f"{path}[{i}]")]
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compare", type=Path, help="a saved run: report every number that differs from it")
    args = ap.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        now = fits()
    if args.compare is None:
        json.dump(now, sys.stdout, indent=1, sort_keys=True)
        return 0
    found = differences(json.loads(args.compare.read_text()), now)
    print("\n".join(found[:50]) if found else f"bit-identical: {len(now)} fits")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
