"""Separation of a binomial response by its design, for one response or a block of replicates.

A binomial GLMM's likelihood has no maximum at finite values when

- a 0/1 column of X (a factor level, a binary covariate) has only successes or only failures
  on the rows where it is 1, or where it is 0 (quasi-complete separation: its coefficient, or
  the intercept against it, runs to ±∞); or
- every cluster of a grouping factor is all successes or all failures, and some cluster holds
  more than one trial (the factor's variance runs to ∞: a cluster of one trial gains nothing
  from it, its probability being a function of η/√(σ² + π²/3)).

The optimiser then stops where the likelihood's flattening outruns its tolerance, which says
nothing about the data; such a fit is reported as not converged. Proportions ``y`` with trials
``m`` (one column per replicate when ``y`` is a matrix).
"""

from __future__ import annotations

import numpy as np

_TINY = 1e-9


def _all_or_none(successes: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Per entry: no successes or nothing but successes (of at least some trials)."""
    return (successes <= _TINY * trials) | (successes >= (1 - _TINY) * trials)


def separating_columns(X: np.ndarray, names) -> list[tuple[str, np.ndarray]]:
    """(description, row mask) for each side of each 0/1 column of X that is not constant."""
    out = []
    for j, name in enumerate(names):
        col = X[:, j]
        if not np.isin(col, (0.0, 1.0)).all() or col.min() == col.max():
            continue
        out += [(f"{name} = 1", col == 1), (f"{name} = 0", col == 0)]
    return out


def separation(y: np.ndarray, m: np.ndarray, X: np.ndarray, x_names, groups) -> list[str | None]:
    """For each column of ``y`` (or for ``y`` itself), what separates it, or None.

    ``groups``: (name, level codes) per grouping factor."""
    Y = y[:, None] if y.ndim == 1 else y
    S = Y * m[:, None]
    found: list[str | None] = [None] * Y.shape[1]

    def mark(hit: np.ndarray, why: str) -> None:
        for k in np.flatnonzero(hit):
            found[k] = found[k] or why

    for what, rows in separating_columns(X, x_names):
        trials = m[rows].sum()
        if trials > 0:
            mark(_all_or_none(S[rows].sum(axis=0), trials), f"separated: the rows with {what} are all successes or all failures")
    for name, codes in groups:
        t = np.bincount(codes, weights=m)
        if t.max(initial=0) <= 1:
            continue
        seen = t > 0
        per_level = np.zeros((len(t), S.shape[1]))
        np.add.at(per_level, codes, S)
        every = _all_or_none(per_level[seen], t[seen][:, None]).all(axis=0)
        mark(every, f"separated: every cluster of {name} is all successes or all failures (its variance is unbounded)")
    return found
