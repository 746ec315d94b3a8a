"""Satterthwaite's degrees of freedom for t- and F-tests of fixed effects in a linear mixed
model (Kuznetsova, Brockhoff & Christensen 2017, J. Stat. Softw. 82(13), §3; Fai & Cornelius
1996 for multi-degree-of-freedom contrasts), and the type I / type III hypotheses.

For a contrast l with V = vcov(β̂)(φ), φ = (θ, σ): ν = 2(lᵀVl)² / (gᵀAg), gᵢ = lᵀ(∂V/∂φᵢ)l,
A = 2H⁻¹ the asymptotic covariance of φ̂ (H: Hessian of the deviance in φ, from the core).
For an F-test of L (q rows), LVLᵀ = PDPᵀ gives q independent contrasts PᵀL with dfs νₘ;
E = Σ νₘ/(νₘ − 2) over νₘ > 2, and ν = 2E/(E − q).
"""

from __future__ import annotations

import math

import numpy as np

from glmmx.exceptions import ModelSpecError


def _cov_varpar(h: np.ndarray) -> np.ndarray:
    """A = 2H⁻¹ (a pseudo-inverse when H is singular, e.g. a variance on the boundary)."""
    try:
        if np.linalg.eigvalsh(h)[0] > 0:
            return 2.0 * np.linalg.inv(h)
    except np.linalg.LinAlgError:
        pass
    return 2.0 * np.linalg.pinv(h)


def contrast_df(l: np.ndarray, V: np.ndarray, jac: np.ndarray, h: np.ndarray) -> float:
    """Satterthwaite's degrees of freedom of the contrast lᵀβ̂."""
    var = float(l @ V @ l)
    g = np.einsum("i,kij,j->k", l, jac, l)
    denom = float(g @ _cov_varpar(h) @ g)
    return 2.0 * var * var / denom if denom > 0 else math.inf


def f_test(L: np.ndarray, beta: np.ndarray, V: np.ndarray, jac: np.ndarray, h: np.ndarray) -> tuple[float, int, float]:
    """(F, numerator df, Satterthwaite denominator df) for H₀: Lβ = 0."""
    LVL = L @ V @ L.T
    vals, vecs = np.linalg.eigh(LVL)
    keep = vals > 1e-10 * max(vals.max(), 0.0)
    q = int(keep.sum())
    if q == 0:
        return math.nan, 0, math.nan
    PL = vecs[:, keep].T @ L
    D = vals[keep]
    F = float(((PL @ beta) ** 2 / D).sum() / q)
    nu = np.array([contrast_df(row, V, jac, h) for row in PL])
    if q == 1:
        return F, 1, float(nu[0])
    big = nu > 2
    E = float((nu[big] / (nu[big] - 2)).sum())
    return F, q, 2.0 * E / (E - q) if E > q else math.nan


def type1_contrasts(fit) -> dict[str, np.ndarray]:
    """Sequential (type I) hypotheses: the rows of the Cholesky factor R of XᵀX (XᵀX = RᵀR)
    belonging to each term."""
    R = np.linalg.cholesky(fit.X.T @ fit.X).T
    return _by_term(fit, R)


def type3_contrasts(fit) -> dict[str, np.ndarray]:
    """SAS's type III hypotheses: each term's coefficients γ_F = 0 in the same model coded
    with sum-to-zero contrasts, expressed in the fit's (treatment) coefficients through
    γ = (X_sum⁺ X) β (both codings span the same columns)."""
    from glmmx.design.build import model_matrix

    if fit._data is None:
        raise ModelSpecError("type III contrasts need the data the model was fitted to")
    Xs = model_matrix(fit.spec, fit._data, random=False, contrasts="sum").X[np.asarray(fit._row_index)]
    T, *_ = np.linalg.lstsq(Xs, fit.X, rcond=None)
    if not np.allclose(Xs @ T, fit.X, atol=1e-8 * max(1.0, float(np.abs(fit.X).max()))):
        raise ModelSpecError("type III hypotheses need every combination of factor levels of an interaction to be present")
    return _by_term(fit, T)


def _by_term(fit, rows: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for k, label in enumerate(fit.term_labels, start=1):
        idx = [i for i, a in enumerate(fit.x_assign) if a == k]
        if idx:
            L = rows[idx]
            out[label] = L[np.abs(L).sum(axis=1) > 1e-10]
    return out


def anova_table(fit, type: int = 3, ddf: str = "satterthwaite"):
    """lmerTest's ANOVA table: term, sum_sq, mean_sq, num_df, den_df, f_value, p_value."""
    import polars as pl
    from scipy.stats import f as f_dist

    if ddf.lower() != "satterthwaite":
        raise ModelSpecError(f"ddf must be 'satterthwaite', not {ddf!r}")
    if type in (3, "3", "III"):
        contrasts = type3_contrasts(fit)
    elif type in (1, "1", "I"):
        contrasts = type1_contrasts(fit)
    else:
        raise ModelSpecError(f"type must be 1 or 3, not {type!r}")
    h, jac = fit._varpar()
    sigma2 = fit.sigma**2
    rows = []
    for label, L in contrasts.items():
        F, q, den = f_test(L, fit.beta, fit._vcov, jac, h)
        p = float(f_dist.sf(F, q, den)) if q > 0 and math.isfinite(den) else math.nan
        rows.append((label, F * sigma2 * q, F * sigma2, q, den, F, p))
    schema = {"term": pl.String, "sum_sq": pl.Float64, "mean_sq": pl.Float64, "num_df": pl.Int64,
              "den_df": pl.Float64, "f_value": pl.Float64, "p_value": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row")
