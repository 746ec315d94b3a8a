"""Term codings and model matrices with R's column names, and R's test for aliased columns.

Factors are coded by contrasts (``glmmx.design.contrasts``; treatment unless said otherwise) by
R's rule (``?terms.object``: a factor in term T is coded by contrasts iff T without it is empty or
contained in an earlier term; without an intercept the first factor gets indicators), columns of an interaction vary the first variable fastest, and
aliased columns are found as lme4's ``chkRank.drop.cols`` finds them (R's ``qr(X, tol = 1e-7)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from glmmx.design.contrasts import Contrast, sum_to_zero
from glmmx.formula.algebra import ModelTerms

__all__ = ["ModelMatrix", "TermCoding", "independent_columns", "sequential_independent_columns"]


@dataclass(frozen=True)
class ModelMatrix:
    """A model matrix with R's column names and ``assign`` (term index, 0 = intercept)."""

    X: np.ndarray
    names: tuple[str, ...]
    assign: tuple[int, ...]
    term_labels: tuple[str, ...]


@dataclass(frozen=True)
class TermCoding:
    """How a ModelTerms block becomes columns: per term and variable, contrasts or indicators."""

    terms: ModelTerms
    contrasts: tuple[tuple[bool, ...], ...]

    @classmethod
    def of(cls, terms: ModelTerms, factors: Mapping[str, tuple[str, ...]]) -> TermCoding:
        """R's rule: variable v of term T is coded by contrasts iff T without v is empty or is
        contained in an earlier term; with no intercept, the first factor met gets indicators."""
        sets = [frozenset(v.label for v in t) for t in terms.terms]
        flags = [
            [_contained(s - {v.label}, sets[:j]) for v in t]
            for j, (t, s) in enumerate(zip(terms.terms, sets))
        ]
        if not terms.intercept:
            first = [(j, i) for j, t in enumerate(terms.terms) for i, v in enumerate(t) if v.label in factors]
            if first:
                flags[first[0][0]][first[0][1]] = False
        return cls(terms, tuple(tuple(f) for f in flags))

    def matrix(
        self,
        columns: Mapping[str, np.ndarray],
        factors: Mapping[str, tuple[str, ...]],
        n: int,
        sum_contrasts: bool = False,
        contrasts: Mapping[str, Contrast] | None = None,
    ) -> ModelMatrix:
        """Columns named as R's ``model.matrix`` names them.

        ``columns`` holds float64 values of numeric variables and int64 level codes (-1 where
        missing, giving NaN) of the factors in ``factors``. A contrasted factor is coded by its
        entry in ``contrasts`` (treatment if it has none); ``sum_contrasts`` codes every
        contrasted factor with R's ``contr.sum`` instead (same span: type III hypotheses).
        """
        contrasts = contrasts or {}
        names, cols, assign = [], [], []
        if self.terms.intercept:
            names, cols, assign = ["(Intercept)"], [None], [0]
        for j, (term, flags) in enumerate(zip(self.terms.terms, self.contrasts), start=1):
            block: list[tuple[str, np.ndarray | None]] = [("", None)]
            for v, contrast in zip(term, flags):
                levels = factors.get(v.label)
                coding = None
                if levels is not None and contrast:
                    coding = sum_to_zero(levels) if sum_contrasts else contrasts.get(v.label)
                var_cols = _variable_columns(v.label, columns[v.label], levels, contrast, coding)
                block = [
                    (f"{n0}:{n1}" if n0 else n1, c1 if c0 is None else c0 * c1)
                    for n1, c1 in var_cols
                    for n0, c0 in block
                ]
            names += [name for name, _ in block]
            cols += [c for _, c in block]
            assign += [j] * len(block)
        X = np.empty((n, len(cols)), order="F")
        for k, c in enumerate(cols):
            X[:, k] = 1.0 if c is None else c
        return ModelMatrix(X, tuple(names), tuple(assign), self.terms.term_labels)


def _contained(rest: frozenset[str], earlier: list[frozenset[str]]) -> bool:
    return not rest or any(rest <= e for e in earlier)


def _variable_columns(
    label: str, values: np.ndarray, levels: tuple[str, ...] | None, contrast: bool, coding: Contrast | None = None
) -> list[tuple[str, np.ndarray]]:
    """A variable's columns: the values of a numeric one; a factor's contrast columns
    (``coding``, treatment when None) or, when not contrasted, the indicators of every level."""
    if levels is None:
        return [(label, values)]
    if coding is not None and coding.kind != "treatment":
        return coding.columns(label, values)
    first = 1 if contrast else 0
    missing = values < 0
    if missing.any():
        return [(label + levels[k], np.where(missing, np.nan, values == k)) for k in range(first, len(levels))]
    return [(label + levels[k], values == k) for k in range(first, len(levels))]


# ----------------------------------------------------------------------------------------------
# Aliased columns
# ----------------------------------------------------------------------------------------------

_EPS = np.finfo(float).eps
_CLEAR = 1e-8  # smallest eigenvalue of the scaled Gram matrix taken as clearly full rank


def independent_columns(X: np.ndarray, tol: float = 1e-7) -> list[int]:
    """The columns R's ``qr(X, tol)`` keeps; see ``sequential_independent_columns``.

    A cheap test runs first: if the smallest eigenvalue of the Gram matrix of the columns scaled
    to unit length exceeds ``1e-8`` (plus a bound on its rounding error), every column is at
    least ``1e-4`` of its length away from the span of all the others, far above ``tol``, so
    all are kept. Only near-singular designs take the column-by-column test.
    """
    if X.shape[1] == 0:
        return []
    if tol <= 1e-7 and _clearly_full_rank(X):
        return list(range(X.shape[1]))
    return sequential_independent_columns(X, tol)


def _clearly_full_rank(X: np.ndarray) -> bool:
    """λ_min(D⁻¹ XᵀX D⁻¹) > 1e-8, D = diag of column norms: each column's residual on the span of
    any other columns is then ≥ 1e-4 times its norm."""
    n, p = X.shape
    gram = X.T @ X
    norms = np.sqrt(np.diagonal(gram))
    if not (np.isfinite(gram).all() and (norms > 0).all()):
        return False
    scaled = gram / np.outer(norms, norms)
    # rounding: each scaled entry of XᵀX is off by at most n·eps, so λ_min by at most p·n·eps
    return bool(np.linalg.eigvalsh(scaled)[0] > _CLEAR + 4 * p * max(n, 1) * _EPS)


def sequential_independent_columns(X: np.ndarray, tol: float = 1e-7) -> list[int]:
    """Columns not within ``tol`` (relative to their norm) of the span of earlier kept columns.

    The sequential, pivot-free test of R's ``qr(X, tol = 1e-7)`` (LINPACK ``dqrdc2``), which
    keeps the earlier of two aliased columns.
    """
    basis = np.empty(X.shape, order="F")
    keep: list[int] = []
    for j in range(X.shape[1]):
        x, Q = X[:, j], basis[:, : len(keep)]
        r = x - Q @ (Q.T @ x)
        r -= Q @ (Q.T @ r)  # second pass keeps the basis orthogonal to working precision
        norm = np.linalg.norm(r)
        if norm >= tol * (np.linalg.norm(x) or 1.0):
            basis[:, len(keep)] = r / norm
            keep.append(j)
    return keep
