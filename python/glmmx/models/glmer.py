"""``glmer``: validate → design → Rust core → result. One grouping factor goes to the per-cluster
core (GlmmModel: Laplace, adaptive quadrature also for vector random effects, nAGQ = 0); several
(crossed or nested) go to the blocked sparse core (SparseGlmm: Laplace, nAGQ = 0)."""

from __future__ import annotations

import dataclasses
import numbers
import warnings

import numpy as np

from glmmx import checks
from glmmx.exceptions import ConvergenceWarning, FitWarning, ModelSpecError

_LINKS = {"binomial": ("logit", "probit", "cloglog"), "poisson": ("log",)}


def _family_link(family, link) -> tuple[str, str]:
    fam = str(family).lower() if isinstance(family, str) else family
    if fam not in _LINKS:
        raise ModelSpecError(f"family must be 'binomial' or 'poisson', not {family!r}")
    link = _LINKS[fam][0] if link is None else link
    if link not in _LINKS[fam]:
        raise ModelSpecError(f"link {link!r} is not available for the {fam} family; use one of {', '.join(_LINKS[fam])}")
    return fam, link


def _nagq(nagq) -> int:
    if isinstance(nagq, bool) or not isinstance(nagq, numbers.Integral) or not 0 <= nagq <= checks.MAX_NAGQ:
        raise ModelSpecError(f"nagq must be an integer from 0 to {checks.MAX_NAGQ} (0, 1 = Laplace, or the number of "
                             f"quadrature nodes per dimension), not {nagq!r}")
    return int(nagq)


def _cluster_freq(group_weights: np.ndarray | None, codes: np.ndarray, n_levels: int, group: str) -> np.ndarray:
    """One frequency per cluster from per-row group weights (constant within a cluster)."""
    if group_weights is None:
        return np.ones(n_levels)
    freq = np.full(n_levels, np.nan)
    freq[codes] = group_weights
    lo = np.full(n_levels, np.inf)
    np.minimum.at(lo, codes, group_weights)
    if not np.allclose(lo, freq):
        raise ModelSpecError(f"group_weights must be constant within each level of {group}")
    return freq


def _start(start, n_theta: int, names) -> tuple[list | None, list | None]:
    if start is None:
        return None, None
    if not isinstance(start, dict) or set(start) - {"theta", "fixef"}:
        raise ModelSpecError("start must be a dict with keys 'theta' and/or 'fixef'")
    theta = start.get("theta")
    fixef = start.get("fixef")
    if fixef is not None and isinstance(fixef, dict):
        fixef = [fixef[n] for n in names]
    if theta is not None and len(theta) != n_theta:
        raise ModelSpecError(f"start['theta'] needs {n_theta} values")
    if fixef is not None and len(fixef) != len(names):
        raise ModelSpecError(f"start['fixef'] needs {len(names)} values ({', '.join(names)})")
    return (None if theta is None else list(map(float, theta))), (None if fixef is None else list(map(float, fixef)))


def glmer(
    formula: str,
    data,
    family: str = "binomial",
    *,
    link: str | None = None,
    nagq: int = 1,
    weights=None,
    group_weights=None,
    contrasts: dict | None = None,
    start: dict | None = None,
    max_iter: int = 1000,
    threads: int | None = None,
):
    """Fit a generalized linear mixed model (R's ``lme4::glmer``).

    Any number of random-effects terms: crossed ``(1 | a) + (1 | b)`` or nested ``(1 | a/b)``
    grouping factors are fitted by penalised IRLS on a sparse blocked factorisation (Laplace or
    nagq=0); adaptive quadrature (nagq > 1) needs a single grouping factor.

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"HR_incr ~ Time * Drug + (1 | Patient)"``; the response may be
        0/1, boolean, a two-level factor, ``cbind(successes, failures)``, or counts (poisson).
    data : polars.DataFrame, polars.LazyFrame or pandas.DataFrame
    family : {"binomial", "poisson"}
    link : str, optional
        binomial: "logit" (default), "probit", "cloglog"; poisson: "log".
    nagq : int
        0: fixed effects estimated inside the penalised IRLS (lme4's nAGQ = 0); 1: Laplace
        approximation (default); k > 1: adaptive Gauss–Hermite quadrature with k nodes per
        random effect. Vector random effects use the product rule, kᵈ nodes per cluster: the
        cost grows as kᵈ (10 nodes: 10, 100, 1000 evaluations per row for d = 1, 2, 3).
    weights : str or array-like, optional
        Prior weights per row (binomial: number of trials of a proportion response).
    group_weights : str or array-like, optional
        Frequency of each cluster (constant within a cluster): the number of identical
        clusters a row-group of an aggregated table stands for.
    contrasts : dict, optional
        How factors are coded, by column name (R's ``contrasts=``): ``"treatment"`` (the
        default for unordered factors), ``"sum"``, ``"helmert"``, ``"poly"`` (the default for
        ordered factors: a pandas ordered Categorical or ``ordered(x)``), R's ``"contr.sum"``
        spellings, or a matrix with one row per level. Column names follow R
        (``Sex1`` for sum, ``temperature.L``, ``.Q``, ``.C``, ``^4`` for poly).
    start : dict, optional
        ``{"theta": [...], "fixef": [...]}`` starting values.
    max_iter : int
        Iteration limit of the quasi-Newton optimiser.
    threads : int, optional
        Threads for the cluster-parallel work (default: all cores). Results do not depend on it.

    Returns
    -------
    GlmerResult

    Examples
    --------
    >>> import glmmx as gx
    >>> cbpp = gx.datasets.load("cbpp")
    >>> fit = gx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", data=cbpp, family="binomial")
    >>> round(fit.loglik, 4), fit.converged
    (-92.0263, True)
    >>> fit.coef_table()["term"].to_list()
    ['(Intercept)', 'period2', 'period3', 'period4']
    >>> round(gx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", data=cbpp, nagq=25).varcorr()["sdcor"][0], 4)
    0.6475
    """
    from glmmx import _core
    from glmmx.design.build import build_design
    from glmmx.design.response import glmm_response
    from glmmx.results.glmer import GlmerResult
    from glmmx.formula.reterms import single_factor

    family, link = _family_link(family, link)
    nagq = _nagq(nagq)
    threads = checks.threads(threads)
    max_iter = checks.integer("max_iter", max_iter)
    design = build_design(formula, data, weights=weights, group_weights=group_weights, contrasts=contrasts)
    groups = list(dict.fromkeys(b.group for b in design.random))
    if nagq > 1 and len(groups) > 1:
        raise ModelSpecError(
            f"nagq > 1 (adaptive Gauss-Hermite quadrature) needs a single grouping factor; the formula has "
            f"{len(groups)}: {', '.join(groups)}. Use nagq=1 (Laplace) or nagq=0."
        )
    if len(groups) > 1:
        y, m = glmm_response(design, family)
        offset = np.zeros(design.n) if design.offset is None else np.asarray(design.offset, dtype=float)
        fit = fit_crossed(design, formula=formula, family=family, link=link, nagq=nagq, y=y, m=m, offset=offset,
                          start=start, max_iter=max_iter, threads=threads)
        fit = _separated(fit, family=family, y=y, m=m, X=design.X, x_names=design.x_names,
                        groups=[(t.group, t.codes) for t in fit.re.terms])
        _warn(fit)
        return fit
    re = single_factor(design.random, what="glmer")
    checks.quadrature(nagq, re.Z.shape[1], design.n)
    y, m = glmm_response(design, family)
    offset = np.zeros(design.n) if design.offset is None else np.asarray(design.offset, dtype=float)
    freq = _cluster_freq(design.group_weights, re.codes, re.n_levels, re.group)
    theta0, beta0 = _start(start, re.n_theta, design.x_names)
    core_args = (y, m, offset, design.X, re.Z, re.codes, re.n_levels, freq, re.theta_rows, re.theta_cols, family, link)
    core = _core.GlmmModel(*core_args)
    raw = core.fit(n_agq=nagq, max_iter=max_iter, theta0=theta0, beta0=beta0, threads=threads)
    fit = GlmerResult.from_core(raw, core=core, core_args=core_args, design=design, re=re, family=family, link=link,
                                nagq=nagq, formula=formula, y=y, m=m, offset=offset, cluster_freq=freq, max_iter=max_iter)
    fit = _separated(fit, family=family, y=y, m=m, X=design.X, x_names=design.x_names, groups=[(re.group, re.codes)])
    _warn(fit)
    return fit


def _separated(fit, *, family, y, m, X, x_names, groups):
    """The fit marked not converged when its binomial response is separated by a 0/1 column of
    X or by a grouping factor (``design.separation``): the likelihood has no maximum there, and
    a small gradient says only that it flattens, at a place that moves with nagq."""
    if family != "binomial" or not fit.converged:
        return fit
    from glmmx.design.separation import separation

    why = separation(y, m, X, x_names, groups)[0]
    if why is None:
        return fit
    message = f"{why}, so the likelihood has no maximum; the reported estimates are where the optimiser stopped"
    return dataclasses.replace(fit, converged=False, message=message)


def _warn(fit) -> None:
    for w in fit.warnings:
        warnings.warn(w, FitWarning, stacklevel=3)
    if not fit.converged:
        warnings.warn(f"glmer did not converge: {fit.message}", ConvergenceWarning, stacklevel=3)


def fit_crossed(design, *, formula, family, link, nagq, y, m, offset, start, max_iter, threads):
    """Fit a GLMM whose random-effects terms use more than one grouping factor."""
    from glmmx import _core
    from glmmx.formula.reterms import random_terms
    from glmmx.results.glmer_crossed import GlmerCrossedResult

    if design.group_weights is not None:
        raise ModelSpecError("group_weights needs a single grouping factor (each row-group stands for identical clusters of it)")
    re = random_terms(design.random, what="glmer")
    theta0, beta0 = _start(start, re.n_theta, design.x_names)
    codes, n_levels, Z = re.core_arguments()
    core = _core.SparseGlmm(y, m, offset, design.X, codes, n_levels, Z, family, link)
    raw = core.fit(n_agq=nagq, max_iter=max_iter, theta0=theta0, beta0=beta0, threads=threads)
    fit = GlmerCrossedResult.from_sparse(raw, core=core, design=design, re=re, family=family, link=link, nagq=nagq,
                                         formula=formula, y=y, m=m, offset=offset)
    # what the batch path (refit_many, bootstrap) rebuilds the model from
    return dataclasses.replace(fit, _core_args=(y, m, offset, design.X, codes, n_levels, Z, family, link), _max_iter=max_iter)
