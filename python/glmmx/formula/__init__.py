"""Model formulas in lme4's syntax, read without looking at any data.

- ``parse``: R's expression grammar (the tokens and precedence of ``?Syntax``) into ``Expr`` trees.
- ``algebra``: R's formula algebra on those trees (``a*b``, ``a/b``, ``^``, ``-``, ``0 +``) and
  lme4's random-effects bars, into ``Formula``/``ModelTerms``.
- ``reterms``: the random-effects structure a fit estimates (θ and Λ per term, lme4's names),
  for one grouping factor and for any number of terms.

May import: ``glmmx.exceptions`` and the standard library (numpy in ``reterms``). The public
names below are those of ``algebra``.
"""

from glmmx.formula.algebra import (
    SUPPORTED_FUNCTIONS,
    Expr,
    Formula,
    ModelTerms,
    RandomTerm,
    format_r_number,
    parse_formula,
    parse_rhs,
)

__all__ = ["SUPPORTED_FUNCTIONS", "Expr", "Formula", "ModelTerms", "RandomTerm", "format_r_number", "parse_formula", "parse_rhs"]
