"""Predictions from a fitted model: η and μ of a one-factor GLMM (``predict_glmm``), and the
random part Σ Z_t b_t of any number of terms, for linear mixed models (``predict_lmm``) and crossed
GLMMs. Rows of new data whose level was not seen in the fit get 0 for that term."""

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
    from glmmx.design.build import model_matrix

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

def random_part(terms, b, codes_z) -> np.ndarray:
    """Σ over terms of Z_t b_t[codes] (rows whose level is unseen get 0)."""
    total = None
    for (codes, Z), bt in zip(codes_z, b):
        seen = codes != UNSEEN
        part = np.zeros(len(codes))
        part[seen] = np.einsum("nk,nk->n", np.asarray(Z)[seen], bt[codes[seen]])
        total = part if total is None else total + part
    return total


def predict_lmm(fit, newdata, *, re: bool) -> np.ndarray:
    """Xβ (+ offset) plus the conditional modes of each row's levels when ``re``."""
    if newdata is None:
        if re:
            return fit.fitted()
        return fit.X @ fit.beta + fit.offset
    from glmmx.design.build import model_matrix

    nd = model_matrix(fit.spec, newdata, random=re)
    out = nd.X @ fit.beta
    if nd.offset is not None:
        out = out + nd.offset
    if re and nd.random:
        out = out + random_part(fit.re.terms, fit.b, nd.random)
    return out
