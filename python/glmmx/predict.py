"""Prediction and simulation from a fitted GLMM."""

from __future__ import annotations

import numpy as np

from glmmx.exceptions import ModelSpecError

UNSEEN = np.uint32(0xFFFFFFFF)


def _linkinv(link: str, eta: np.ndarray) -> np.ndarray:
    if link == "logit":
        return 0.5 * (1.0 + np.tanh(0.5 * eta))
    if link == "probit":
        from scipy.special import ndtr

        return ndtr(eta)
    if link == "cloglog":
        return -np.expm1(-np.exp(eta))
    return np.exp(eta)


def predict_glmm(fit, newdata, *, type: str, re: bool) -> np.ndarray:
    """η or μ for the rows of the fit (``newdata=None``) or of ``newdata``."""
    if type not in ("response", "link"):
        raise ModelSpecError(f"type must be 'response' or 'link', not {type!r}")
    if newdata is None:
        eta = fit.eta.copy() if re else _population_eta(fit)
    else:
        eta = _new_eta(fit, newdata, re)
    return eta if type == "link" else _linkinv(fit.link, eta)


def _population_eta(fit) -> np.ndarray:
    """Xβ + offset for the rows used in the fit (the conditional modes removed)."""
    b_rows = np.einsum("nk,nk->n", fit.re.Z, fit.b[fit.re.codes])
    return fit.eta - b_rows


def _new_eta(fit, newdata, re: bool) -> np.ndarray:
    from glmmx.design import model_matrix

    nd = model_matrix(fit.spec, newdata, random=re)
    eta = nd.X @ fit.beta
    if nd.offset is not None:
        eta = eta + nd.offset
    if re and nd.random:
        codes = nd.random[0][0]
        Z = np.column_stack([z for _, z in nd.random])
        seen = codes != UNSEEN
        contrib = np.zeros(len(eta))
        contrib[seen] = np.einsum("nk,nk->n", Z[seen], fit.b[codes[seen]])
        eta = eta + contrib
    return eta
