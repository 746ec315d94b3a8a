"""The random-effects structure: one grouping factor (``single_factor``, glmer's per-cluster
path) or any number of terms (``random_terms``, the blocked sparse path of lmer and crossed glmer).

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

    def n_levels_by_group(self) -> dict[str, int]:
        return {self.group: self.n_levels}

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
            f"{what}'s per-cluster path needs one grouping factor; the formula has {len(groups)}: "
            f"{', '.join(groups)} (use random_terms for crossed or nested grouping factors)"
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


# ----------------------------------------------------------------------------------------------
# Any number of grouping factors (lmer, and glmer with crossed or nested terms)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term of a model with any number of terms: its grouping factor,
    lme4's name for it in ``VarCorr`` (``g``, ``g.1`` for a second term on ``g``), the levels and
    their codes, the dense ``Z`` block (n × d) and the names of its columns."""

    group: str
    name: str
    levels: tuple[str, ...]
    codes: np.ndarray
    Z: np.ndarray
    columns: tuple[str, ...]
    theta_start: int

    @property
    def d(self) -> int:
        return len(self.columns)

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def n_theta(self) -> int:
        return self.d * (self.d + 1) // 2

    def lambda_(self, theta: np.ndarray) -> np.ndarray:
        """This term's Λ (d × d lower triangular) from the whole θ vector."""
        lam = np.zeros((self.d, self.d))
        rows, cols = np.tril_indices(self.d)
        order = np.lexsort((rows, cols))  # column by column, lme4's order
        lam[rows[order], cols[order]] = theta[self.theta_start : self.theta_start + self.n_theta]
        return lam


@dataclass(frozen=True)
class RandomTerms:
    """The random-effects terms of a model, in lme4's order (θ follows the same order)."""

    terms: tuple[RandomTerm, ...]

    @property
    def n_theta(self) -> int:
        return sum(t.n_theta for t in self.terms)

    @property
    def groups(self) -> tuple[str, ...]:
        """The distinct grouping factors, in term order."""
        return tuple(dict.fromkeys(t.group for t in self.terms))

    def n_levels_by_group(self) -> dict[str, int]:
        return {t.group: t.n_levels for t in self.terms}

    def theta_lower(self) -> np.ndarray:
        out = []
        for t in self.terms:
            out += [0.0 if r == c else -np.inf for c in range(t.d) for r in range(c, t.d)]
        return np.array(out)

    def theta_diagonal(self) -> np.ndarray:
        """Mask of the θ on a diagonal of Λ (bounded below by 0)."""
        return self.theta_lower() == 0.0

    def split_levels(self, flat: np.ndarray, square: bool = False) -> tuple[np.ndarray, ...]:
        """A flat global-order array of the core (d values per level, or a d × d block per level
        when ``square``) cut into one (n_levels, d) or (n_levels, d, d) array per term."""
        flat = np.asarray(flat)
        out, k = [], 0
        for t in self.terms:
            shape = (t.n_levels, t.d, t.d) if square else (t.n_levels, t.d)
            size = int(np.prod(shape))
            out.append(flat[k : k + size].reshape(shape))
            k += size
        return tuple(out)

    def is_singular(self, theta: np.ndarray, tol: float = 1e-4) -> bool:
        """A diagonal θ within ``tol`` of 0 (lme4's ``isSingular``)."""
        return bool((np.abs(np.asarray(theta)[self.theta_diagonal()]) < tol).any())

    def core_arguments(self) -> tuple[list[np.ndarray], list[int], list[np.ndarray]]:
        """Level codes, level counts and Fortran-ordered Z blocks, one per term."""
        return (
            [np.ascontiguousarray(t.codes, dtype=np.uint32) for t in self.terms],
            [t.n_levels for t in self.terms],
            [np.asfortranarray(t.Z, dtype=np.float64) for t in self.terms],
        )


def varcorr_rows(re: RandomTerms, theta: np.ndarray, scale: float = 1.0) -> list[tuple]:
    """Rows of R's ``as.data.frame(VarCorr(fit))`` for the terms: (group, var1, var2, vcov,
    sdcor) with the covariance ``scale``·ΛΛᵀ (σ² for a linear mixed model)."""
    import math

    rows = []
    for t in re.terms:
        lam = t.lambda_(theta)
        cov = scale * lam @ lam.T
        sd = [math.sqrt(max(cov[i, i], 0.0)) for i in range(t.d)]
        rows += [(t.name, t.columns[i], "", cov[i, i], sd[i]) for i in range(t.d)]
        for i in range(t.d):
            for j in range(i + 1, t.d):
                corr = cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else float("nan")
                rows.append((t.name, t.columns[i], t.columns[j], cov[i, j], corr))
    return rows


def ranef_frame(re: RandomTerms, b, cond_var):
    """polars DataFrame: group, level, term, mode, cond_sd for every term (b: (n_levels, d) and
    cond_var: (n_levels, d, d) per term)."""
    import polars as pl

    parts = []
    for t, bt, cv in zip(re.terms, b, cond_var):
        sd = np.sqrt(np.clip(np.einsum("kii->ki", cv), 0.0, None))
        parts.append(pl.DataFrame({
            "group": [t.group] * (t.n_levels * t.d),
            "level": [lv for _ in range(t.d) for lv in t.levels],
            "term": [c for c in t.columns for _ in range(t.n_levels)],
            "mode": bt.T.reshape(-1),
            "cond_sd": sd.T.reshape(-1),
        }))
    return pl.concat(parts)


def _unique_names(groups: list[str]) -> list[str]:
    """R's ``make.unique``: the second ``g`` is ``g.1``, the third ``g.2``."""
    seen: dict[str, int] = {}
    out = []
    for g in groups:
        k = seen.get(g, 0)
        out.append(g if k == 0 else f"{g}.{k}")
        seen[g] = k + 1
    return out


def random_terms(blocks, *, what: str = "lmer") -> RandomTerms:
    """The design's random-effects blocks (in lme4's order) as terms for the blocked core."""
    if not blocks:
        raise ModelSpecError(f"{what} needs at least one random-effects term, e.g. (1 | group)")
    for b in blocks:
        if len(b.levels) < 2:
            raise ModelSpecError(
                f"grouping factor {b.group} has only one level; a random effect needs at least two "
                "groups (lme4: 'grouping factors must have > 1 sampled level')"
            )
    names = _unique_names([b.group for b in blocks])
    terms, start = [], 0
    for b, name in zip(blocks, names):
        t = RandomTerm(b.group, name, tuple(b.levels), np.ascontiguousarray(b.codes, dtype=np.uint32), b.Z, tuple(b.names), start)
        terms.append(t)
        start += t.n_theta
    return RandomTerms(tuple(terms))
