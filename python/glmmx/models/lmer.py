"""Linear mixed models: ``lmer`` (R's ``lme4::lmer`` with lmerTest's inference) and the
likelihood-ratio ``anova`` of nested fits."""

from __future__ import annotations

import warnings

import numpy as np

from glmmx import checks
from glmmx.exceptions import ConvergenceWarning, FitWarning, ModelSpecError


def _numeric_response(design) -> np.ndarray:
    import polars as pl

    if design.response is None:
        raise ModelSpecError("lmer needs a numeric response on the left of ~; cbind() is for binomial glmer fits")
    r = design.response
    if not (r.dtype.is_numeric() or r.dtype == pl.Boolean):
        raise ModelSpecError(f"response {r.name} must be numeric for lmer (it is {r.dtype})")
    return r.cast(pl.Float64).to_numpy()


def _check_identifiable(re, n: int) -> None:
    """lme4's ``check.nobs.vs.nlev`` and ``check.nobs.vs.nRE`` (both errors for lmer): with as
    many levels as observations a random intercept is confounded with the residual."""
    problems = [t.group for t in re.terms if t.n_levels >= n]
    if problems:
        raise ModelSpecError(
            f"number of levels of each grouping factor must be < number of observations (problems: "
            f"{', '.join(dict.fromkeys(problems))}): with as many levels as observations the random effects "
            "and the residual variance are unidentifiable"
        )
    for t in re.terms:
        q = t.n_levels * t.d
        if n <= q:
            lhs = " + ".join(t.columns)
            raise ModelSpecError(
                f"number of observations (={n}) <= number of random effects (={q}) for term ({lhs} | {t.group}); "
                "the random-effects parameters and the residual variance are probably unidentifiable"
            )


def _theta0(start, n_theta: int):
    if start is None:
        return None
    theta = start.get("theta") if isinstance(start, dict) else start
    theta = list(map(float, np.atleast_1d(theta)))
    if len(theta) != n_theta:
        raise ModelSpecError(f"start needs {n_theta} theta values; got {len(theta)}")
    return theta


def _centre(r: np.ndarray, w: np.ndarray, x_names) -> float:
    """The weighted mean of the response when its spread is below a millionth of it and the
    model has an intercept, else 0: the core then fits the response less its mean (the fit is
    equivariant: only the intercept moves), so that residuals are not differences of nearly
    equal numbers. Responses of ordinary spread are passed as they are."""
    if "(Intercept)" not in x_names:
        return 0.0
    mean = float(np.sum(w * r) / np.sum(w))
    spread = float(np.sqrt(np.sum(w * (r - mean) ** 2) / np.sum(w)))
    return mean if spread < 1e-6 * abs(mean) else 0.0


def lmer(
    formula: str,
    data,
    *,
    reml: bool = True,
    weights=None,
    contrasts: dict | None = None,
    start=None,
    max_iter: int = 1000,
    threads: int | None = None,
):
    """Fit a linear mixed model (R's ``lme4::lmer``; inference as lmerTest's).

    Parameters
    ----------
    formula : str
        lme4 formula with any number of random-effects terms: crossed ``(1 | s) + (1 | d)``,
        nested ``(1 | a/b)`` (= ``(1 | b:a) + (1 | a)``), vector ``(1 + x | g)``, uncorrelated
        ``(1 + x || g)``; an ``offset(...)`` is subtracted from the response.
    data : polars.DataFrame, polars.LazyFrame or pandas.DataFrame
    reml : bool
        REML (default) or maximum likelihood.
    weights : str or array-like, optional
        Prior weights (positive): the residual variance of row i is σ²/wᵢ, as lme4.
    contrasts : dict, optional
        How factors are coded, by column name (R's ``contrasts=``): ``"treatment"`` (the
        default for unordered factors), ``"sum"``, ``"helmert"``, ``"poly"`` (the default for
        ordered factors: a pandas ordered Categorical or ``ordered(x)``), R's ``"contr.sum"``
        spellings, or a matrix with one row per level. The type III table does not depend on
        the coding.
    start : dict or array-like, optional
        Starting θ (``{"theta": [...]}``), lme4's relative-Cholesky parameters.
    max_iter : int
        Iteration limit of the optimiser.
    threads : int, optional
        Threads for the dense factorisations (default: all cores).

    Returns
    -------
    LmerResult

    Examples
    --------
    >>> import glmmx as gx
    >>> sleep = gx.datasets.load("sleepstudy")
    >>> fit = gx.lmer("Reaction ~ Days + (Days | Subject)", data=sleep)
    >>> round(fit.reml_criterion, 3)
    1743.628
    >>> [round(v, 2) for v in fit.coef_table()["df"]]
    [17.0, 17.0]
    """
    from glmmx import _core
    from glmmx.design.build import build_design
    from glmmx.results.lmer import LmerResult
    from glmmx.formula.reterms import random_terms

    if not isinstance(reml, bool):
        raise ModelSpecError(f"reml must be True or False, not {reml!r}")
    threads = checks.threads(threads)
    max_iter = checks.integer("max_iter", max_iter)
    design = build_design(formula, data, weights=weights, contrasts=contrasts)
    y = _numeric_response(design)
    if not np.isfinite(y).all():
        raise ModelSpecError(f"response {design.response.name} has infinite values")
    offset = np.zeros(design.n) if design.offset is None else np.asarray(design.offset, dtype=float)
    if np.ptp(y - offset) == 0:
        raise ModelSpecError(f"response {design.response.name} is constant: there is no variation to model")
    w = np.ones(design.n) if design.weights is None else np.asarray(design.weights, dtype=float)
    if (w <= 0).any():
        raise ModelSpecError(
            f"weights must be positive for lmer (a row with weight {w[w <= 0][0]:g} would have infinite residual "
            "variance); drop those rows instead"
        )
    re = random_terms(design.random, what="lmer")
    _check_identifiable(re, design.n)
    if design.X.shape[1] >= design.n:
        raise ModelSpecError(f"{design.X.shape[1]} fixed effects need more than {design.n} observations")
    theta0 = _theta0(start, re.n_theta)
    codes, n_levels, Z = re.core_arguments()
    centre = _centre(y - offset, w, design.x_names)
    core = _core.LmmModel(y - offset - centre, w, design.X, codes, n_levels, Z)
    raw = core.fit(reml=reml, max_iter=max_iter, theta0=theta0, threads=threads)
    fit = LmerResult.from_core(raw, core=core, design=design, re=re, reml=reml, formula=formula, y=y, weights=w,
                               offset=offset, data=data, centre=centre)
    for note in fit.warnings:
        warnings.warn(note, FitWarning, stacklevel=2)
    if not fit.converged:
        warnings.warn(f"lmer did not converge: {fit.message}", ConvergenceWarning, stacklevel=2)
    return fit


def anova(*fits, names=None):
    """Likelihood-ratio tests of nested mixed models (R's ``anova(fit_small, fit_big)``).

    REML fits are refitted by maximum likelihood first, as lme4 does (REML criteria of models
    with different fixed effects are not comparable). Models are ordered by their number of
    parameters; each row after the first tests against the row before it.

    Returns
    -------
    polars.DataFrame
        model, npar, aic, bic, loglik, deviance, chisq, df, p_value.

    Examples
    --------
    >>> import glmmx as gx
    >>> sleep = gx.datasets.load("sleepstudy")
    >>> small = gx.lmer("Reaction ~ 1 + (1 | Subject)", data=sleep)
    >>> big = gx.lmer("Reaction ~ Days + (Days | Subject)", data=sleep)
    >>> table = gx.anova(small, big)
    >>> round(table["chisq"][1], 2), table["df"][1]
    (158.6, 3)
    """
    import math

    import polars as pl
    from scipy.stats import chi2

    if len(fits) < 2:
        raise ModelSpecError("anova needs at least two fitted models to compare")
    names = list(names) if names is not None else [f.formula for f in fits]
    if len(names) != len(fits):
        raise ModelSpecError("names needs one entry per model")
    nobs = {f.nobs for f in fits}
    if len(nobs) > 1:
        raise ModelSpecError(f"models were not all fitted to the same number of observations ({sorted(nobs)})")
    ml = [f.ml_fit() if getattr(f, "reml", False) else f for f in fits]
    order = sorted(range(len(fits)), key=lambda k: ml[k].npar)
    rows, prev = [], None
    for k in order:
        f = ml[k]
        row = {"model": names[k], "npar": f.npar, "aic": f.aic, "bic": f.bic, "loglik": f.loglik, "deviance": -2.0 * f.loglik,
               "chisq": None, "df": None, "p_value": None}
        if prev is not None:
            stat = max(2.0 * (f.loglik - prev.loglik), 0.0)
            df = f.npar - prev.npar
            row.update(chisq=stat, df=df, p_value=float(chi2.sf(stat, df)) if df > 0 else math.nan)
        rows.append(row)
        prev = f
    schema = {"model": pl.String, "npar": pl.Int64, "aic": pl.Float64, "bic": pl.Float64, "loglik": pl.Float64,
              "deviance": pl.Float64, "chisq": pl.Float64, "df": pl.Int64, "p_value": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row")
