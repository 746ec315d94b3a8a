"""The random-effects structure of a model with one grouping factor.

lme4 allows several terms on the same grouping factor, e.g. ``(1 | g) + (0 + x | g)`` (which is
what ``(1 + x || g)`` expands to). With one grouping factor they share the levels, so glmmx
stacks their columns into one ``Z`` (n × d) and makes the relative covariance factor Λ block
diagonal: a full lower triangle per term. θ holds those entries in lme4's order, so θ, and
the variance components printed from it, compare with lme4 number for number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glmmx.exceptions import ModelSpecError


@dataclass(frozen=True)
class ReTerm:
    """One random-effects term: its columns in ``Z`` and lme4's name for it in ``VarCorr``."""

    group: str
    name: str
    columns: tuple[str, ...]
    offset: int

    @property
    def d(self) -> int:
        return len(self.columns)


@dataclass(frozen=True)
class ReStructure:
    """The grouping factor, the stacked ``Z``, and where θ sits in Λ."""

    group: str
    levels: tuple[str, ...]
    codes: np.ndarray
    Z: np.ndarray
    terms: tuple[ReTerm, ...]
    theta_rows: np.ndarray
    theta_cols: np.ndarray

    @property
    def d(self) -> int:
        return self.Z.shape[1]

    @property
    def n_theta(self) -> int:
        return len(self.theta_rows)

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c for t in self.terms for c in t.columns)

    def lambda_(self, theta: np.ndarray) -> np.ndarray:
        """Λ(θ), d × d lower triangular."""
        lam = np.zeros((self.d, self.d))
        lam[self.theta_rows, self.theta_cols] = theta
        return lam

    def covariance(self, theta: np.ndarray) -> np.ndarray:
        """ΛΛᵀ: the covariance of one level's random effects (GLMM scale)."""
        lam = self.lambda_(theta)
        return lam @ lam.T

    def theta_lower(self) -> np.ndarray:
        """Lower bounds of θ: 0 on the diagonal of Λ."""
        return np.where(self.theta_rows == self.theta_cols, 0.0, -np.inf)


def single_factor(blocks, *, what: str = "glmer") -> ReStructure:
    """Stack the design's random-effects blocks, which must share one grouping factor."""
    if not blocks:
        raise ModelSpecError(f"{what} needs at least one random-effects term, e.g. (1 | group)")
    groups = list(dict.fromkeys(b.group for b in blocks))
    if len(groups) > 1:
        raise ModelSpecError(
            f"{what} fits one grouping factor for now; the formula has {len(groups)}: "
            f"{', '.join(groups)}. Crossed or nested grouping factors (e.g. (1 | a) + (1 | b) or "
            "(1 | a/b)) come in a later release."
        )
    first = blocks[0]
    if len(first.levels) < 2:
        raise ModelSpecError(
            f"grouping factor {first.group} has only one level; a random effect needs at least two "
            "groups (lme4: 'grouping factors must have > 1 sampled level')"
        )
    terms, rows, cols, offset = [], [], [], 0
    for k, b in enumerate(blocks):
        name = first.group if k == 0 else f"{first.group}.{k}"
        terms.append(ReTerm(first.group, name, tuple(b.names), offset))
        d = len(b.names)
        for c in range(d):
            for r in range(c, d):
                rows.append(offset + r)
                cols.append(offset + c)
        offset += d
    Z = np.asfortranarray(np.column_stack([b.Z for b in blocks]), dtype=np.float64)
    return ReStructure(
        group=first.group,
        levels=tuple(first.levels),
        codes=np.ascontiguousarray(first.codes, dtype=np.uint32),
        Z=Z,
        terms=tuple(terms),
        theta_rows=np.array(rows, dtype=np.uint32),
        theta_cols=np.array(cols, dtype=np.uint32),
    )
