"""mixcat-like printed summary of an npmlt fit (spec §6.2), with the full-precision −2 log L
(mixcat rounds it to 4 significant digits), the convergence status and every warning; and the
mass-point plot."""

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


def plot_mass_points(fit, path=None, ax=None):
    """Support points sized by mass; with d = 1, points on the random-intercept axis."""
    try:
        import matplotlib

        if ax is None and path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'glmmx[plot]'") from e
    if fit.mass_points is None:
        raise ValueError("the fit has a normal random effect: there are no mass points to plot")
    pts, w = fit.mass_points, fit.masses
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6, 4))
    sizes = 2000 * w
    if pts.shape[1] == 1:
        ax.scatter(pts[:, 0], np.zeros(len(w)), s=sizes, alpha=0.6)
        for x, m in zip(pts[:, 0], w):
            ax.annotate(f"{m:.3f}", (x, 0), textcoords="offset points", xytext=(0, 18), ha="center")
        ax.set_yticks([])
        ax.set_xlabel(f"mass point: {fit.z_names[0]}")
    else:
        ax.scatter(pts[:, 0], pts[:, 1], s=sizes, alpha=0.6)
        for (x, y), m in zip(pts[:, :2], w):
            ax.annotate(f"{m:.3f}", (x, y), textcoords="offset points", xytext=(0, 14), ha="center")
        ax.set_xlabel(fit.z_names[0])
        ax.set_ylabel(fit.z_names[1])
    ax.margins(0.2, 0.3)
    ax.set_title(f"NPML random-effects distribution (K = {fit.k}, -2 log L = {fit.m2loglik:.2f})")
    if own and path is not None:
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return ax
