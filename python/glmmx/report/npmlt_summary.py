"""mixcat-like printed summary of an npmlt fit (spec §6.2), with the full-precision −2 log L
(mixcat rounds it to 4 significant digits), the convergence status and every warning. The
mass-point plot is in ``mass_plot``."""

from __future__ import annotations

import numpy as np

from glmmx.report.format import format_num, table


def _coef_block(fit) -> list[str]:
    est = list(fit.coefficients)
    se = list(np.concatenate([fit.se_alpha, fit.se_beta]))
    both = format_num(est + se, 4)
    rows = [n for n in fit.coef_names]
    return ["Coefficients:", table(rows, [("Estimate", both[: len(est)]), ("Std. Error", both[len(est):])], indent="  ")]


def _np_block(fit) -> list[str]:
    k, d = fit.mass_points.shape
    out = []
    if d == 1:
        vals = list(fit.mass_points[:, 0]) + list(fit.masses)
        ses = list(fit.se_mass_points[:, 0]) + list(fit.se_masses)
        both = format_num(vals + ses, 4)
        rows = [f"mass point {l}" for l in range(1, k + 1)] + [f"mass {l}" for l in range(1, k + 1)]
        out += ["Estimated NP Dist.:", table(rows, [("Estimate", both[: 2 * k]), ("Std. Error", both[2 * k:])], indent="  "), ""]
        out += ["Random effects mean: constrained to 0", "", "Random effects variance:"]
        v = format_num([fit.re_vcov()[0, 0], fit.se_re_var[0]], 4)
        out += [table(["(Intercept)"], [("Estimate", [v[0]]), ("Std. Error", [v[1]])], indent="  ")]
        return out
    pts = format_num(list(fit.mass_points.ravel()), 4)
    ses = format_num(list(fit.se_mass_points.ravel()), 4)
    cols = [(name, pts[j::d]) for j, name in enumerate(fit.z_names)]
    cols += [(f"Std. Error {name}", ses[j::d]) for j, name in enumerate(fit.z_names)]
    out += ["Estimated Multivariate NP Dist.:", "", "Mass Points:",
            table([f"mass point {l}" for l in range(1, k + 1)], cols, indent="  "), ""]
    m = format_num(list(fit.masses) + list(fit.se_masses), 5)
    out += ["Masses:", table([f"mass {l}" for l in range(1, k + 1)], [("Estimate", m[:k]), ("Std. Error", m[k:])], indent="  "), ""]
    out += ["Random effects mean: all dimensions constrained to 0", ""]
    out += _varcor_block(fit)
    return out


def _varcor_block(fit) -> list[str]:
    v, c = fit.re_vcov(), fit.re_corr()
    d = v.shape[0]
    vc = np.where(np.tril(np.ones((d, d))) > 0, v, c)
    cells = format_num(list(vc.ravel()), 4)
    cols = [(name, cells[j::d]) for j, name in enumerate(fit.z_names)]
    out = ["Random effects covariance (lower) and correlation (upper) matrices:",
           table(list(fit.z_names), cols, indent="  ")]
    se = format_num(list(fit.se_re_var), 4)
    out += [table(["Std. Errors of random effects variances:"], [(n, [s]) for n, s in zip(fit.z_names, se)], indent="  ")]
    return out


def _normal_block(fit) -> list[str]:
    return [f"Normal random effects (adaptive Gauss-Hermite quadrature, {fit.nagq} nodes per dimension):", ""] + _varcor_block(fit)


def summary_text(fit) -> str:
    lines = ["Call:", f"npmlt({fit.formula}, random = {fit.random}, id = {fit.id_name}, k = {fit.k}"
             + (f", npo = {fit.npo}" if fit.npo else "") + f", link = \"{fit.link}\""
             + (f", random_dist = \"normal\", nagq = {fit.nagq}" if fit.random_dist == "normal" else "") + ")", ""]
    lines += [f"Response categories: {', '.join(fit.categories)} ({len(fit.categories) - 1} logits, "
              + ("cumulative logit P(y <= c)" if fit.link == "clogit" else f"baseline-category logit, baseline {fit.categories[-1]}") + ")",
              f"Observations: {fit.n_obs} in {fit.n_clusters} clusters"
              + (f" ({fit.n_dropped} rows with missing values dropped)" if fit.n_dropped else ""), ""]
    lines += _coef_block(fit) + [f"  (standard errors: {'outer product of cluster scores' if fit.se_kind == 'opg' else 'inverse observed information'})", ""]
    if fit.random_dist == "normal":
        lines += _normal_block(fit) + [""]
    elif fit.k > 1:
        lines += _np_block(fit) + [""]
    lines += [f" -2(Log-Likelihood) : {fit.m2loglik:.10g}", f"Number of iterations : {fit.iterations}",
              f"Converged : {'yes' if fit.converged else 'no'} ({fit.message})"]
    lines += [f"Warning: {w}" for w in fit.warnings]
    return "\n".join(lines)

