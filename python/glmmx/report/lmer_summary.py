"""``summary()`` and ``print()`` of an lmer fit, laid out like lmerTest's and lme4's."""

from __future__ import annotations

import math
import textwrap

from glmmx.report.format import SIGNIF_LEGEND, format_num, format_pval, named_vector, r_quantile, signif_stars, table
from glmmx.report.glmer_summary import _correlation, fit_notes, random_effects_lines


def _title(fit, summary: bool) -> list[str]:
    how = "REML" if fit.reml else "maximum likelihood"
    extra = ". t-tests use Satterthwaite's method" if summary else ""
    return textwrap.wrap(f"Linear mixed model fit by {how}{extra} [glmmx.lmer]", width=72, subsequent_indent="  ") + [f"Formula: {fit.formula}"]


def _criterion(fit, decimals: int | None) -> list[str]:
    if fit.reml:
        value = f"{fit.objective:.{decimals}f}" if decimals is not None else format_num([fit.objective], 4)[0].strip()
        return [f"REML criterion at convergence: {value}"]
    values = [fit.aic, fit.bic, fit.loglik, -2.0 * fit.loglik]
    shown = [f"{v:.{decimals if decimals is not None else 1}f}" for v in values]
    return named_vector(["AIC", "BIC", "logLik", "deviance", "df.resid"], shown + [str(fit.df_resid)])


def _cs_format(values: list[float], digits: int = 4) -> list[str]:
    """R's ``printCoefmat`` on its coefficient columns (estimate, std. error, df): rounded to
    the decimals that give the smallest |value| ``digits`` significant digits, then formatted
    together."""
    finite = [abs(v) for v in values if math.isfinite(v) and v != 0]
    dec = max(1, digits - 1 - math.floor(math.log10(min(finite)))) if finite else 1
    return format_num([round(v, dec) if math.isfinite(v) else v for v in values], digits)


def coef_lines_df(names, est, se, df, stat, pvals) -> list[str]:
    """lmerTest's coefficient table as R prints it: estimate, std. error and df formatted
    together, t values rounded to 3 decimals, p-values with 3 digits, significance stars."""
    p = len(est)
    cs = _cs_format(list(est) + list(se) + list(df))
    tests = format_num([round(v, 3) for v in stat], 4)
    cols = [("Estimate", cs[:p]), ("Std. Error", cs[p : 2 * p]), ("df", cs[2 * p :]), ("t value", tests), ("Pr(>|t|)", format_pval(pvals, 3))]
    lines = table(list(names), cols).split("\n")
    stars = [signif_stars(v) for v in pvals]
    if any(s.strip() for s in stars):
        lines = [lines[0]] + [line + " " + s for line, s in zip(lines[1:], stars)] + ["---", SIGNIF_LEGEND]
    return lines


def lmer_summary(fit) -> str:
    """lmerTest's ``summary(lmerModLmerTest)`` layout."""
    lines = _title(fit, True) + [""] + _criterion(fit, None) + [""]
    q = format_num(r_quantile(fit.residuals("pearson", scaled=True), [0, 0.25, 0.5, 0.75, 1]), 4)
    lines += ["Scaled residuals: "] + named_vector(["Min", "1Q", "Median", "3Q", "Max"], q) + [""]
    lines += random_effects_lines(fit, variances=True) + [""]
    ct = fit.coef_table()
    lines += ["Fixed effects:"] + coef_lines_df(
        fit.x_names, ct["estimate"].to_list(), ct["std_error"].to_list(), ct["df"].to_list(), ct["t_value"].to_list(), ct["p_value"].to_list()
    )
    lines += _correlation(fit)
    notes = fit_notes(fit, singular=False)
    return "\n".join(lines + ([""] + notes if notes else []))


def lmer_print(fit) -> str:
    """lme4's ``print(lmerMod)`` layout."""
    title = [f"Linear mixed model fit by {'REML' if fit.reml else 'maximum likelihood'} [glmmx.lmer]", f"Formula: {fit.formula}"]
    lines = title + _criterion(fit, 4) + random_effects_lines(fit, variances=False)
    values = [s.strip() for s in format_num(list(fit.beta), 4)]
    lines += ["Fixed Effects:"] + named_vector(list(fit.x_names), values, gap=2)
    return "\n".join(lines + fit_notes(fit, singular=False))
