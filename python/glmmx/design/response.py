"""The response of a GLMM as the family reads it: y and the prior weights m.

Binomial (as R's ``binomial()$initialize``): 0/1 numbers, booleans, a two-level factor (second
level = success), ``cbind(successes, failures)`` (y = s/(s+f), m = s+f), or a proportion with
``weights=`` the numbers of trials. Poisson: non-negative integer counts. The log-likelihood
then includes the binomial coefficients (or −log y!) exactly as lme4's ``logLik``.
"""

from __future__ import annotations

import warnings

import numpy as np

from glmmx.exceptions import FitWarning, ModelSpecError


def glmm_response(design, family: str) -> tuple[np.ndarray, np.ndarray]:
    """(y, m) for ``family`` from a design; m already includes the prior ``weights``."""
    w = np.ones(design.n) if design.weights is None else design.weights
    if design.response is None and design.response_cbind is None:
        raise ModelSpecError(f"glmer needs a response on the left of ~ (a {family} response); the formula has none")
    if family == "binomial":
        return _binomial(design, w)
    return _poisson(design, w)


def _label(design) -> str:
    return design.response.name if design.response is not None else "cbind(...)"


def _binomial(design, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if design.response_cbind is not None:
        s, f = design.response_cbind
        for name, v in (("successes", s), ("failures", f)):
            if (v < 0).any() or not np.isfinite(v).all():
                raise ModelSpecError(f"cbind() {name} must be finite and non-negative")
        trials = s + f
        _warn_non_integer("cbind() counts", np.concatenate([s, f]))
        y = np.divide(s, trials, out=np.zeros_like(s), where=trials > 0)
        return y, w * trials
    y = _binary_values(design.response)
    if (y < 0).any() or (y > 1).any():
        raise ModelSpecError(
            f"response {_label(design)} has values outside [0, 1]; a binomial response must be 0/1, "
            "TRUE/FALSE, a two-level factor, cbind(successes, failures), or a proportion with "
            "weights= the number of trials"
        )
    non_binary = (y != 0) & (y != 1)
    if non_binary.any() and design.weights is None:
        raise ModelSpecError(
            f"response {_label(design)} is not binary (e.g. {y[non_binary][0]:g}); give proportions "
            "with weights= the number of trials, or use cbind(successes, failures)"
        )
    if non_binary.any():
        _warn_non_integer("numbers of successes (proportion x weights)", y * w)
    return y, w


def _warn_non_integer(what: str, counts: np.ndarray) -> None:
    """Warn, as R's glm does ("non-integer counts"), when binomial or Poisson counts are not
    whole numbers: the likelihood is then not a binomial or Poisson one."""
    off = np.abs(counts - np.round(counts)) > 1e-7 * np.maximum(1.0, np.abs(counts))
    if off.any():
        i = int(np.flatnonzero(off)[0])
        warnings.warn(f"non-integer {what} (e.g. {counts[i]:g}), as R warns: the fit treats them as counts",
                      FitWarning, stacklevel=5)


def _binary_values(series) -> np.ndarray:
    import polars as pl

    dtype = series.dtype
    if dtype == pl.Boolean:
        return series.cast(pl.Float64).to_numpy()
    if dtype.is_numeric():
        return series.cast(pl.Float64).to_numpy()
    from glmmx.design.build import factor_levels

    levels = factor_levels(series)
    if len(levels) != 2:
        raise ModelSpecError(
            f"response {series.name} has {len(levels)} levels ({', '.join(map(str, levels[:5]))}); a "
            "binomial factor response needs exactly two (the second is 'success')"
        )
    return (series.cast(pl.String) == levels[1]).cast(pl.Float64).to_numpy()


def _poisson(design, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import polars as pl

    if design.response_cbind is not None:
        raise ModelSpecError("cbind() responses are for the binomial family; a poisson response is a count")
    if not design.response.dtype.is_numeric():
        raise ModelSpecError(f"poisson response {design.response.name} must be numeric counts")
    y = design.response.cast(pl.Float64).to_numpy()
    bad = (y < 0) | (y != np.round(y))
    if bad.any():
        kind = "negative" if (y < 0).any() else "non-integer"
        raise ModelSpecError(f"poisson response {design.response.name} has {kind} values (e.g. {y[bad][0]:g}); counts must be non-negative integers")
    return y, w
