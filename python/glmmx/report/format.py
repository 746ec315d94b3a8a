"""Formatting numbers and tables the way R prints them (``format``, ``format.pval``,
``printCoefmat``, ``abbreviate``), so summaries read like lme4's and mixcat's."""

from __future__ import annotations

import math
from collections.abc import Sequence

EPS_PVALUE = 2.220446049250313e-16


def _sig_and_exp(x: float, digits: int) -> tuple[int, int]:
    """(significant digits needed, decimal exponent) of x rounded to ``digits`` digits."""
    mantissa, exponent = f"{abs(x):.{digits - 1}e}".split("e")
    sig = len(mantissa.replace(".", "").rstrip("0")) or 1
    return sig, int(exponent)


def decimals_needed(values: Sequence[float], digits: int) -> int:
    """R's rule: the fewest decimals showing every value to ``digits`` significant digits."""
    dec = 0
    for x in values:
        if x is None or not math.isfinite(x) or x == 0:
            continue
        sig, exp = _sig_and_exp(x, digits)
        dec = max(dec, sig - 1 - exp)
    return min(dec, 15)


def format_num(values: Sequence[float], digits: int = 4) -> list[str]:
    """R's ``format(x, digits=)`` of a numeric vector: common decimals, right-aligned."""
    dec = decimals_needed(values, digits)
    out = [_one(x, dec) for x in values]
    width = max((len(s) for s in out), default=0)
    return [s.rjust(width) for s in out]


def _one(x: float | None, dec: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    if x != 0 and (abs(x) >= 1e15 or abs(x) < 1e-5):
        return f"{x:.{max(dec - 1, 2)}e}"
    return f"{x:.{dec}f}"


def format_pval(pvalues: Sequence[float], digits: int = 3) -> list[str]:
    """R's ``format.pval``: tiny values as ``<2e-16``, others with ``digits`` digits."""
    out = [""] * len(pvalues)
    fixed = [i for i, p in enumerate(pvalues) if math.isfinite(p) and p >= EPS_PVALUE and math.floor(math.log10(p)) >= -3]
    sci = [i for i, p in enumerate(pvalues) if math.isfinite(p) and p >= EPS_PVALUE and i not in fixed]
    for i, s in zip(fixed, format_num([pvalues[i] for i in fixed], digits)):
        out[i] = s.strip()
    for i in sci:
        mantissa, exponent = f"{pvalues[i]:.{digits - 1}e}".split("e")
        out[i] = mantissa.rstrip("0").rstrip(".") + "e" + exponent
    for i, p in enumerate(pvalues):
        if math.isfinite(p) and p < EPS_PVALUE:
            out[i] = "<2e-16"
        elif not math.isfinite(p):
            out[i] = "NA"
    return out


def signif_stars(p: float) -> str:
    """R's significance codes."""
    if not math.isfinite(p):
        return ""
    for cut, star in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p < cut:
            return star
    return " "


SIGNIF_LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


def _abbreviate_once(name: str, minlength: int) -> str:
    """R's ``abbreviate`` (method "left.kept") for one string: drop lower-case vowels from the
    end of words, then other lower-case vowels, then lower-case letters, then anything, always
    keeping each word's first character, until ``minlength`` is reached."""
    s = list(name.strip())
    if len(s) <= minlength:
        return "".join(s)

    def first_of_word(i):
        return s[i - 1].isspace()

    def last_of_word(i):
        return not s[i - 1].isspace() and (i + 1 == len(s) or s[i + 1].isspace())

    tests = (
        lambda i: s[i] in "aeiou" and last_of_word(i),
        lambda i: s[i] in "aeiou" and not first_of_word(i),
        lambda i: s[i].islower() and last_of_word(i),
        lambda i: s[i].islower() and not first_of_word(i),
        lambda i: not first_of_word(i) and not s[i].isspace(),
    )
    for test in tests:
        for i in range(len(s) - 1, 0, -1):
            if i < len(s) and test(i):
                del s[i]
            if len(s) <= minlength:
                return "".join(s)
    return "".join(s)


def abbreviate(names: Sequence[str], minlength: int) -> list[str]:
    """R's ``abbreviate(names, minlength)``: raise the length for names that would collide."""
    out = [_abbreviate_once(n, minlength) for n in names]
    length = minlength
    while len(set(out)) < len(out) and length < max(len(n) for n in names):
        length += 1
        dup = {a for a in out if out.count(a) > 1}
        out = [_abbreviate_once(n, length) if a in dup else a for n, a in zip(names, out)]
    return out


def named_vector(names: Sequence[str], values: Sequence[str], gap: int = 1) -> list[str]:
    """R's print of a named vector: one common width, right-aligned, wrapped at 80 columns."""
    width = max(len(x) for x in list(names) + list(values))
    per_line = max(1, 80 // (width + gap))
    lines = []
    for start in range(0, len(names), per_line):
        chunk = slice(start, start + per_line)
        lines.append("".join(n.rjust(width) + " " * gap for n in names[chunk]))
        lines.append("".join(v.rjust(width) + " " * gap for v in values[chunk]))
    return lines


def table(row_names: Sequence[str], columns: Sequence[tuple[str, Sequence[str]]], *, left: Sequence[int] = (), indent: str = "") -> str:
    """A printed R matrix: left-aligned row names, right-aligned columns under their headers.
    Column indices in ``left`` are left-aligned (as R prints character columns)."""
    rn_width = max((len(r) for r in row_names), default=0)
    widths = [max([len(h)] + [len(c) for c in cells]) for h, cells in columns]
    def cell(k, s):
        return s.ljust(widths[k]) if k in left else s.rjust(widths[k])
    header = indent + " " * rn_width + "".join(" " + cell(k, h) for k, (h, _) in enumerate(columns))
    lines = [header]
    for i, r in enumerate(row_names):
        lines.append(indent + r.ljust(rn_width) + "".join(" " + cell(k, cells[i]) for k, (_, cells) in enumerate(columns)))
    return "\n".join(line.rstrip() if not left else line for line in lines)


def coef_lines(names, est, se, stat, pvals, stat_name: str, p_name: str) -> list[str]:
    """R's ``printCoefmat``: estimates and standard errors formatted together with 4
    significant digits, the statistic rounded to 3 decimals, p-values with 3 digits, stars."""
    both = format_num(list(est) + list(se), 4)
    est_s, se_s = both[: len(est)], both[len(est):]
    stat_s = format_num([round(z, 3) for z in stat], 4)
    cols = [("Estimate", est_s), ("Std. Error", se_s), (stat_name, stat_s)]
    stars = []
    if pvals is not None:
        cols.append((p_name, format_pval(pvals, 3)))
        stars = [signif_stars(p) for p in pvals]
    text = table(list(names), cols)
    lines = text.split("\n")
    if stars and any(s.strip() for s in stars):
        lines = [lines[0]] + [line + " " + s for line, s in zip(lines[1:], stars)]
        lines += ["---", SIGNIF_LEGEND]
    return lines


def r_quantile(values, probs) -> list[float]:
    """R's default (type 7) quantiles."""
    import numpy as np

    return list(np.quantile(np.asarray(values, dtype=float), probs, method="linear"))
