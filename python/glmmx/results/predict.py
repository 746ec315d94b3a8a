"""Predictions from a fitted model: η and μ of a one-factor GLMM (``predict_glmm``), and the
random part Σ Z_t b_t of any number of terms, for linear mixed models (``predict_lmm``) and crossed
GLMMs (``predict_crossed``). Which terms are added is lme4's ``re.form`` (``results.re_form``); a
level of new data not seen in the fit is refused unless ``allow_new_levels``, and then gets 0."""

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


def _check_type(type: str) -> None:
    if type not in ("response", "link"):
        raise ModelSpecError(f"type must be 'response' or 'link', not {type!r}")


def _new_design(fit, newdata, include, allow_new_levels):
    """New data coded as the fit's, with its new grouping levels checked."""
    from glmmx.design.build import model_matrix
    from glmmx.results.re_form import check_new_levels

    nd = model_matrix(fit.spec, newdata, random=any(include))
    check_new_levels(fit.spec, nd.new_levels, include, allow_new_levels)
    fixed = nd.X @ fit.beta
    return nd, fixed if nd.offset is None else fixed + nd.offset


def _stacked_columns(fit, include) -> np.ndarray:
    """The columns of a one-factor GLMM's stacked Z (and of b) that belong to added terms."""
    mask = np.zeros(fit.re.d, dtype=bool)
    for term, used in zip(fit.re.terms, include):
        mask[term.offset : term.offset + term.d] = used
    return mask


def predict_glmm(fit, newdata, *, type: str, re, re_form, allow_new_levels: bool) -> np.ndarray:
    """η or μ of a one-factor GLMM for the rows of the fit (``newdata=None``) or of ``newdata``."""
    from glmmx.results.re_form import included

    _check_type(type)
    include = included(fit.spec, re, re_form)
    cols = _stacked_columns(fit, include)
    if newdata is None:
        b_rows = np.einsum("nk,nk->n", fit.re.Z, fit.b[fit.re.codes])
        kept = np.einsum("nk,nk->n", fit.re.Z[:, cols], fit.b[fit.re.codes][:, cols])
        eta = fit.eta - b_rows + kept
    else:
        nd, eta = _new_design(fit, newdata, include, allow_new_levels)
        if any(include):
            codes = nd.random[0][0]
            Z = np.column_stack([z for _, z in nd.random])[:, cols]
            seen = codes != UNSEEN
            contrib = np.zeros(len(eta))
            contrib[seen] = np.einsum("nk,nk->n", Z[seen], fit.b[codes[seen]][:, cols])
            eta = eta + contrib
    return eta if type == "link" else _linkinv(fit.link, eta)

def random_part(terms, b, codes_z) -> np.ndarray:
    """Σ over terms of Z_t b_t[codes] (rows whose level is unseen get 0)."""
    total = None
    for (codes, Z), bt in zip(codes_z, b):
        seen = codes != UNSEEN
        part = np.zeros(len(codes))
        part[seen] = np.einsum("nk,nk->n", np.asarray(Z)[seen], bt[codes[seen]])
        total = part if total is None else total + part
    return total


def _chosen(items, include):
    return [x for x, used in zip(items, include) if used]


def random_terms_part(fit, newdata, include, allow_new_levels, fitted_fixed=None):
    """Xβ (+ offset) plus Σ Z_t b_t over the added terms, for a model with any number of
    terms, on the rows of the fit (whose Xβ + offset is ``fitted_fixed``) or of ``newdata``."""
    if newdata is None:
        fixed = fitted_fixed
        codes_z = [(t.codes, t.Z) for t in fit.re.terms]
    else:
        nd, fixed = _new_design(fit, newdata, include, allow_new_levels)
        codes_z = nd.random or []
    if not any(include):
        return fixed
    chosen = _chosen(fit.re.terms, include)
    return fixed + random_part(chosen, _chosen(fit.b, include), _chosen(codes_z, include))


def predict_lmm(fit, newdata, *, re, re_form, allow_new_levels: bool) -> np.ndarray:
    """Xβ (+ offset) plus the conditional modes of each row's levels in the added terms."""
    from glmmx.results.re_form import included

    include = included(fit.spec, re, re_form)
    if newdata is None and all(include):
        return fit.fitted()
    return random_terms_part(fit, newdata, include, allow_new_levels, fit.X @ fit.beta + fit.offset)


def predict_crossed(fit, newdata, *, type: str, re, re_form, allow_new_levels: bool) -> np.ndarray:
    """η or μ of a GLMM with several random-effects terms."""
    from glmmx.results.re_form import included

    _check_type(type)
    include = included(fit.spec, re, re_form)
    fitted_fixed = None
    if newdata is None:
        fitted_fixed = fit.eta - random_part(fit.re.terms, fit.b, [(t.codes, t.Z) for t in fit.re.terms])
    eta = random_terms_part(fit, newdata, include, allow_new_levels, fitted_fixed)
    return eta if type == "link" else _linkinv(fit.link, eta)
