"""R's contrasts: how a factor with k levels becomes k − 1 columns, and what R calls them.

A contrast is a k × (k − 1) matrix C; the row of a level is what its observations get in the
model matrix, and column j is named ``<factor><suffix j>``:

- ``treatment`` (R's ``contr.treatment``, the default for unordered factors): the indicators of
  levels 2..k; suffixes are the level names.
- ``sum`` (``contr.sum``): indicators of levels 1..k − 1 minus the indicator of level k; the
  coefficients sum to zero over the levels. Suffixes 1..k − 1.
- ``helmert`` (``contr.helmert``): column j contrasts level j + 1 with the mean of levels
  1..j (entries −1 for levels ≤ j, j for level j + 1, 0 after). Suffixes 1..k − 1.
- ``poly`` (``contr.poly``, the default for ordered factors): orthonormal polynomials of degree
  1..k − 1 in the level scores 1..k (centred), each the part of the power (s − s̄)ʲ orthogonal
  to the lower powers, normalised to length one with a positive leading coefficient. Suffixes
  ``.L``, ``.Q``, ``.C``, ``^4``, ``^5``, ...
- a matrix with k rows and k − 1 columns, independent of each other and of a constant
  (suffixes 1, 2, ... or the column names of a DataFrame given as the matrix).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glmmx.exceptions import ModelSpecError

NAMES = ("treatment", "sum", "helmert", "poly")


@dataclass(frozen=True, eq=False)
class Contrast:
    """A factor's coding: ``matrix`` (levels × columns) and the column-name suffixes."""

    kind: str
    matrix: np.ndarray
    suffixes: tuple[str, ...]

    def columns(self, label: str, codes: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """The factor's model-matrix columns for level codes (−1 = missing, giving NaN)."""
        rows = np.vstack([self.matrix, np.full((1, self.matrix.shape[1]), np.nan)])
        coded = rows[np.where(codes < 0, len(self.matrix), codes)]
        return [(label + s, coded[:, j]) for j, s in enumerate(self.suffixes)]


def treatment(levels: Sequence[str]) -> Contrast:
    k = len(levels)
    return Contrast("treatment", np.eye(k)[:, 1:], tuple(levels[1:]))


def sum_to_zero(levels: Sequence[str]) -> Contrast:
    k = len(levels)
    C = np.vstack([np.eye(k - 1), -np.ones((1, k - 1))])
    return Contrast("sum", C, tuple(str(j) for j in range(1, k)))


def helmert(levels: Sequence[str]) -> Contrast:
    k = len(levels)
    C = np.zeros((k, k - 1))
    for j in range(1, k):
        C[:j, j - 1] = -1.0
        C[j, j - 1] = j
    return Contrast("helmert", C, tuple(str(j) for j in range(1, k)))


def _poly_suffix(degree: int) -> str:
    return {1: ".L", 2: ".Q", 3: ".C"}.get(degree, f"^{degree}")


def orthogonal_polynomials(scores: np.ndarray, degree: int) -> np.ndarray:
    """Columns 1..degree of the orthonormal polynomial basis on ``scores``: the powers of the
    centred scores made orthonormal in order (QR), each with a positive leading coefficient."""
    centred = scores - scores.mean()
    powers = np.vander(centred, degree + 1, increasing=True)
    Q, R = np.linalg.qr(powers)
    Q = Q * np.sign(np.diag(R))
    return Q[:, 1:]


def polynomial(levels: Sequence[str]) -> Contrast:
    k = len(levels)
    C = orthogonal_polynomials(np.arange(1.0, k + 1.0), k - 1)
    return Contrast("poly", C, tuple(_poly_suffix(d) for d in range(1, k)))


_BUILDERS = {"treatment": treatment, "sum": sum_to_zero, "helmert": helmert, "poly": polynomial}
_ALIASES = {"contr.treatment": "treatment", "contr.sum": "sum", "contr.helmert": "helmert", "contr.poly": "poly"}


def contrast(spec, levels: Sequence[str], factor: str) -> Contrast:
    """The coding ``spec`` (a name of ``NAMES``, R's ``contr.*`` name, or a matrix with one row
    per level) of ``factor`` with ``levels``."""
    if isinstance(spec, str):
        name = _ALIASES.get(spec, spec)
        if name not in _BUILDERS:
            raise ModelSpecError(
                f"unknown contrast {spec!r} for factor {factor}; use one of {', '.join(NAMES)} or a matrix")
        return _BUILDERS[name](levels)
    return _from_matrix(spec, levels, factor)


def _from_matrix(spec, levels: Sequence[str], factor: str) -> Contrast:
    names = None
    if hasattr(spec, "columns") and hasattr(spec, "to_numpy"):  # a polars or pandas frame
        names = tuple(str(c) for c in spec.columns)
        spec = spec.to_numpy()
    try:
        C = np.asarray(spec, dtype=float)
    except (TypeError, ValueError):
        raise ModelSpecError(f"contrasts for factor {factor} must be a name or a numeric matrix, not {type(spec).__name__}") from None
    if C.ndim == 1:
        C = C[:, None]
    k = len(levels)
    if C.ndim != 2 or C.shape != (k, k - 1):
        raise ModelSpecError(
            f"a contrast matrix for factor {factor} needs {k} rows (one per level: {', '.join(levels)}) "
            f"and {k - 1} columns; got shape {C.shape}")
    if not np.isfinite(C).all():
        raise ModelSpecError(f"the contrast matrix for factor {factor} has missing or infinite entries")
    if np.linalg.matrix_rank(np.column_stack([np.ones(k), C])) != C.shape[1] + 1:
        raise ModelSpecError(f"the contrast matrix for factor {factor} is singular together with the intercept")
    suffixes = names if names is not None and len(names) == C.shape[1] else tuple(str(j) for j in range(1, C.shape[1] + 1))
    return Contrast("matrix", C, suffixes)
