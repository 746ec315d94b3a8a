"""``summary()`` and ``print()`` of a glmer fit, laid out like lme4's."""

from __future__ import annotations

import math
import textwrap

import numpy as np

from glmmx.report.format import abbreviate, coef_lines, format_num, named_vector, r_quantile, table


def _method_title(fit) -> list[str]:
    if fit.nagq == 1:
        method = "Laplace Approximation"
    elif fit.nagq == 0:
        method = "nAGQ = 0: fixed effects in the penalised IRLS"
    else:
        method = f"Adaptive Gauss-Hermite Quadrature, nAGQ = {fit.nagq}"
    title = f"Generalized linear mixed model fit by maximum likelihood ({method}) [glmmx.glmer]"
    return textwrap.wrap(title, width=72, subsequent_indent="  ") + [
        f" Family: {fit.family}  ( {fit.link} )",
        f"Formula: {fit.formula}",
    ]


def _ic_table(fit, decimals: int | None) -> list[str]:
    values = [fit.aic, fit.bic, fit.loglik, -2.0 * fit.loglik]
    shown = [f"{v:.{decimals}f}" for v in values] if decimals is not None else format_num(values, 6)
    cells = [s.strip() for s in shown] + [str(fit.df_resid)]
    return named_vector(["AIC", "BIC", "logLik", "deviance", "df.resid"], cells)


def random_effects_lines(fit, variances: bool, residual: bool = True) -> list[str]:
    """The 'Random effects:' block for any number of terms (Groups, Name, Variance, Std.Dev.,
    Corr), with the residual row of a linear mixed model."""
    vc = fit.varcorr()
    groups, names, var, sd, corr = [], [], [], [], []
    for term in fit.re.terms:
        rows = vc.filter(vc["group"] == term.name)
        diag = rows.filter(rows["var2"] == "")
        off = rows.filter(rows["var2"] != "")
        for i, name in enumerate(term.columns):
            groups.append(term.name if i == 0 else "")
            names.append(name)
            var.append(float(diag["vcov"][i]))
            sd.append(float(diag["sdcor"][i]))
            cors = [float(off.filter((off["var1"] == term.columns[k]) & (off["var2"] == name))["sdcor"][0]) for k in range(i)]
            corr.append(" ".join(f"{c:.2f}" if math.isfinite(c) else "NaN" for c in cors))
    if residual:
        res = vc.filter(vc["group"] == "Residual")
        groups.append("Residual")
        names.append("")
        var.append(float(res["vcov"][0]))
        sd.append(float(res["sdcor"][0]))
        corr.append("")
    columns = [("Name", names)]
    if variances:
        columns.append(("Variance", format_num(var, 4)))
    columns.append(("Std.Dev.", format_num(sd, 4)))
    if any(corr):
        width = max(len(c) for c in corr)
        columns.append(("Corr", [c.rjust(width) if c else "" for c in corr]))
    pad = max(len("Groups"), max(len(g) for g in groups))
    groups = [g.ljust(pad) for g in groups]
    lines = table(groups, columns, left=list(range(len(columns))), indent=" ").split("\n")
    lines[0] = " " + "Groups".ljust(pad) + lines[0][1 + pad :]
    counts = "; ".join(f"{g}, {n}" for g, n in fit.re.n_levels_by_group().items())
    return ["Random effects:"] + lines + [f"Number of obs: {fit.nobs}, groups:  {counts}"]


def _correlation(fit) -> list[str]:
    v = fit.vcov()
    p = len(fit.x_names)
    if p <= 1:
        return []
    if p > 12:
        return ["", f"Correlation matrix not shown by default, as p = {p} > 12."]
    sd = np.sqrt(np.diag(v))
    corr = v / np.outer(sd, sd)
    rows = abbreviate(list(fit.x_names), 11)[1:]
    cols = abbreviate(list(fit.x_names), 6)[:-1]
    values = corr[np.tril_indices(p, -1)]
    width = max(len(f"{v:.3f}") for v in values)
    columns = [(name, [f"{corr[i, j]:.3f}".rjust(width) if i > j else "" for i in range(1, p)]) for j, name in enumerate(cols)]
    lines = table(rows, columns, left=list(range(len(columns)))).split("\n")
    return ["", "Correlation of Fixed Effects:"] + lines


def fit_notes(fit, *, singular: bool = True) -> list[str]:
    """The notes under a summary: dropped rows and columns, non-convergence, a singular fit
    (unless `singular` is False: lmer carries lme4's own message among its warnings), and
    the fit's warnings."""
    notes = []
    if fit.n_dropped:
        notes.append(f"{fit.n_dropped} row{'s' if fit.n_dropped != 1 else ''} with missing values dropped before fitting")
    if fit.dropped_columns:
        notes.append("fixed-effect model matrix is rank deficient; dropped: " + ", ".join(fit.dropped_columns))
    if not fit.converged:
        notes.append(f"Model failed to converge: {fit.message}")
    if singular and fit.is_singular:
        notes.append("boundary (singular) fit: a variance component is estimated at zero or a correlation at +/-1")
    notes.extend(w for w in fit.warnings if w not in notes)
    return notes


def glmer_summary(fit) -> str:
    """lme4's ``summary(glmerMod)`` layout."""
    lines = _method_title(fit) + [""] + _ic_table(fit, 1) + [""]
    resid = fit.residuals("pearson")
    q = format_num(r_quantile(resid, [0, 0.25, 0.5, 0.75, 1]), 4)
    lines += ["Scaled residuals: "] + named_vector(["Min", "1Q", "Median", "3Q", "Max"], q) + [""]
    lines += random_effects_lines(fit, variances=True, residual=False) + [""]
    ct = fit.coef_table()
    lines += ["Fixed effects:"] + coef_lines(
        fit.x_names, ct["estimate"].to_list(), ct["std_error"].to_list(), ct["z_value"].to_list(), ct["p_value"].to_list(), "z value", "Pr(>|z|)"
    )
    lines += _correlation(fit)
    notes = fit_notes(fit)
    if notes:
        lines += [""] + notes
    return "\n".join(lines)


def glmer_print(fit) -> str:
    """lme4's ``print(glmerMod)`` layout."""
    lines = _method_title(fit) + _ic_table(fit, 4) + random_effects_lines(fit, variances=False, residual=False)
    values = [s.strip() for s in format_num(list(fit.beta), 4)]
    lines += ["Fixed Effects:"] + named_vector(list(fit.x_names), values, gap=2)
    notes = fit_notes(fit)
    return "\n".join(lines + notes)
