"""Prediction and simulation from a fitted linear mixed model."""

from __future__ import annotations

import numpy as np

from glmmx.exceptions import ModelSpecError

UNSEEN = np.uint32(0xFFFFFFFF)


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
    from glmmx.design import model_matrix

    nd = model_matrix(fit.spec, newdata, random=re)
    out = nd.X @ fit.beta
    if nd.offset is not None:
        out = out + nd.offset
    if re and nd.random:
        out = out + random_part(fit.re.terms, fit.b, nd.random)
    return out
