"""Exact (Clopper–Pearson 1934) confidence intervals for a binomial proportion, e.g. a power
estimated as the share of x rejections among n simulated studies.

With a = 1 − level, the interval for p after x successes in n trials is

    lower = B⁻¹(a/2; x, n − x + 1)      (0 when x = 0),
    upper = B⁻¹(1 − a/2; x + 1, n − x)  (1 when x = n),

B⁻¹(q; α, β) the q-quantile of the Beta(α, β) distribution. Each bound is the p at which the
one-sided binomial test of the observed x has p-value a/2, so the coverage is at least
``level`` for every p (Clopper & Pearson 1934, Biometrika 26, 404–413).
"""

from __future__ import annotations

import numpy as np

from glmmx.exceptions import ModelSpecError


def _check(x: np.ndarray, n: np.ndarray, level: float) -> None:
    if not 0 < level < 1:
        raise ModelSpecError(f"level must be between 0 and 1, not {level!r}")
    if np.any(n < 1) or np.any(n != np.round(n)):
        raise ModelSpecError(f"n must be whole numbers of at least 1, got {n.tolist()!r}")
    if np.any(x < 0) or np.any(x > n) or np.any(x != np.round(x)):
        raise ModelSpecError(f"x must be whole numbers between 0 and n, got x = {x.tolist()!r} with n = {n.tolist()!r}")


def clopper_pearson(x, n, level: float = 0.95):
    """Exact ``level`` confidence interval (lower, upper) for a binomial proportion after ``x``
    successes in ``n`` trials; ``x`` and ``n`` may be arrays (broadcast together), and the
    bounds are then arrays of their shape.

    Examples
    --------
    >>> from glmmx.inference.binomial import clopper_pearson
    >>> [round(float(b), 7) for b in clopper_pearson(5, 10)]
    [0.187086, 0.812914]
    >>> [round(float(b), 7) for b in clopper_pearson(0, 10)]
    [0.0, 0.3084971]
    """
    from scipy.stats import beta

    x, n = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(n, dtype=float))
    _check(x, n, level)
    a = 1.0 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(x > 0, beta.ppf(a / 2, x, n - x + 1), 0.0)
        upper = np.where(x < n, beta.ppf(1 - a / 2, x + 1, n - x), 1.0)
    if lower.ndim == 0:
        return float(lower), float(upper)
    return lower, upper
