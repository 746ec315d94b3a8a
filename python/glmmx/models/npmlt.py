"""Ordinal and nominal mixed models with a nonparametric (mass-point) or normal random-effects
distribution: R's ``mixcat::npmlt`` (Papageorgiou & Hinde 2012), fitted by maximum likelihood
on the exact log-likelihood (Aitkin 1999's NPML).

Pipeline: validate → ``build_design`` (formula, ``random``, ``npo`` on the same rows) →
response categories → clusters by ``id`` value → ``_core.NpmltData(...).fit`` / ``.fit_normal`` →
:class:`glmmx.npmlt_result.NpmltResult`.
"""

from __future__ import annotations

import warnings

import numpy as np

from glmmx import checks
from glmmx.exceptions import ConvergenceWarning, FitWarning, ModelSpecError

_LINKS = ("clogit", "blogit")
_DISTS = ("npml", "normal")


def _columns_of(data) -> list[str]:
    import polars as pl

    if isinstance(data, pl.LazyFrame):
        return list(data.collect_schema().names())
    return [str(c) for c in data.columns]


def _id_series(data, id):
    """The id column as a polars Series, before any row is dropped."""
    import polars as pl

    if isinstance(data, pl.LazyFrame):
        return data.select(id).collect().to_series()
    if isinstance(data, pl.DataFrame):
        return data[id]
    from glmmx.design.pandas_input import from_pandas

    return from_pandas(data[[id]])[id]


def _check_id(data, id) -> None:
    if id is None:
        raise ModelSpecError("id= is missing: name the column that identifies the clusters (e.g. id=\"id\")")
    if not isinstance(id, str):
        raise ModelSpecError(f"id must be a column name, not {type(id).__name__}")
    if id not in _columns_of(data):
        raise ModelSpecError(f"id column {id!r} is not a column of data (columns: {', '.join(_columns_of(data))})")
    s = _id_series(data, id)
    n_missing = s.null_count() + (int(s.is_nan().sum()) if s.dtype.is_float() else 0)
    if n_missing:
        raise ModelSpecError(
            f"id column {id!r} has {n_missing} missing value(s): their rows cannot be assigned to a cluster; "
            "drop them or give them an id"
        )


def _check_rhs(argument: str, text: str, columns: list[str]):
    """Parse a one-sided formula argument and check its variables are columns of data."""
    from glmmx.formula.algebra import parse_rhs

    if not isinstance(text, str):
        raise ModelSpecError(f"{argument} must be a one-sided formula string such as '~1 + trt', not {text!r}")
    try:
        terms = parse_rhs(text.strip() if "~" in text else "~" + text)
    except ModelSpecError as e:
        raise ModelSpecError(f"{argument}={text!r}: {e}") from None
    for v in terms.variables():
        missing = sorted(set(v.variables()) - set(columns))
        if missing:
            raise ModelSpecError(
                f"{argument}={text!r}: term {v.label!r} uses {', '.join(map(repr, missing))}, which is not a column of data"
            )
    return terms


def response_categories(series):
    """0-based category codes and labels of an ordinal response (R's factor order).

    Integers (or integral floats) must be consecutive: a gap is an empty category and an
    error. An Enum keeps its category order and must use every category; strings and
    categoricals are ordered as R sorts them; booleans are FALSE < TRUE.
    """
    import polars as pl

    from glmmx.design.build import factor_levels

    name, dtype = series.name, series.dtype
    if dtype == pl.Boolean:
        labels = ("FALSE", "TRUE")
        codes = series.cast(pl.UInt32).to_numpy()
    elif isinstance(dtype, pl.Enum):
        labels = tuple(dtype.categories)
        used = set(series.cast(pl.String).unique())
        empty = [c for c in labels if c not in used]
        if empty and len(used) >= 2:
            raise ModelSpecError(f"response {name!r}: category {empty[0]!r} has no observations (categories: {', '.join(labels)}); drop it from the Enum or merge categories")
        codes = series.to_physical().cast(pl.UInt32).to_numpy()
    elif dtype.is_numeric():
        v = series.cast(pl.Float64).to_numpy()
        if not np.all(v == np.round(v)):
            raise ModelSpecError(f"response {name!r} must hold whole numbers (category codes) or be categorical; found {v[v != np.round(v)][0]!r}")
        present = np.unique(v).astype(np.int64)
        if len(present) >= 2:
            full = np.arange(present[0], present[-1] + 1)
            empty = np.setdiff1d(full, present)
            if len(empty):
                raise ModelSpecError(
                    f"response {name!r}: category {empty[0]} has no observations (observed {', '.join(map(str, present))}); "
                    "categories must be consecutive: recode the response"
                )
        labels = tuple(str(int(x)) for x in present)
        codes = (v - present[0]).astype(np.uint32)
    else:
        labels = factor_levels(series)
        codes = series.cast(pl.String).replace_strict(labels, range(len(labels)), return_dtype=pl.UInt32).to_numpy()
    if len(labels) < 2 or len(np.unique(codes)) < 2:
        only = labels[int(codes[0])] if len(codes) else "none"
        raise ModelSpecError(f"response {name!r} has a single category ({only}): an ordinal model needs at least two")
    return np.ascontiguousarray(codes, dtype=np.uint32), labels


def _clusters(id_series):
    """Rows grouped by id value (clusters in sorted id order, rows in data order within one):
    the permutation, cluster starts and the sorted distinct id values."""
    import polars as pl

    codes = id_series.rank(method="dense").cast(pl.Int64).to_numpy() - 1
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    ids = id_series.gather(order[starts[:-1]])
    return order, starts, ids


class _Prepared:
    """Everything the core needs, in cluster order, plus what the result reports."""

    def __init__(self, formula, data, random, npo, id, link):
        columns = _columns_of(data)
        _check_id(data, id)
        rterms = _check_rhs("random", random, columns)
        nterms = _check_rhs("npo", npo, columns) if npo is not None else None
        if not rterms.intercept:
            raise ModelSpecError(f"random={random!r} has no intercept: the random effect always includes one (mixcat silently adds it); write '~1 + ...'")
        from glmmx.design.build import build_design

        extra = [rterms] + ([nterms] if nterms is not None else [])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FitWarning)
            d = build_design(formula, data, id=id, extra=extra)
        self.design_warnings = tuple(str(w.message) for w in caught)
        if d.random:
            raise ModelSpecError("write the random effects with random= and id=, not as (...|...) terms in the formula")
        if d.response is None:
            raise ModelSpecError(f"formula {formula!r} has no response")
        if "(Intercept)" not in d.x_names:
            raise ModelSpecError("the formula must keep the intercept: the cutpoints are the intercepts of the q logits")
        keep = [j for j, n in enumerate(d.x_names) if n != "(Intercept)"]
        self.x_names = tuple(d.x_names[j] for j in keep)
        zmm = d.extra[0]
        self.z_names = ("(Intercept)",) + tuple(n for n in zmm.names if n != "(Intercept)")
        npo_names = tuple(n for n in d.extra[1].names if n != "(Intercept)") if nterms is not None else ()
        unknown = [n for n in npo_names if n not in self.x_names]
        if unknown:
            raise ModelSpecError(
                f"npo={npo!r}: {', '.join(map(repr, unknown))} is not a column of the fixed design of {formula!r} "
                f"(columns: {', '.join(self.x_names) or 'none'}); npo terms must be in the formula"
            )
        self.npo = [n in npo_names for n in self.x_names]
        y, self.categories = response_categories(d.response)
        order, starts, self.ids = _clusters(d.id)
        self.order = order
        self.y = np.ascontiguousarray(y[order])
        X = d.X[:, keep] if keep else np.zeros((d.n, 0))
        self.X = np.asfortranarray(X[order])
        zcols = [j for j, n in enumerate(zmm.names) if n != "(Intercept)"]
        Z = np.column_stack([np.ones(d.n)] + [zmm.X[:, j] for j in zcols])
        self.Z = np.asfortranarray(Z[order])
        self.starts = [int(s) for s in starts]
        self.design = d
        self.q = len(self.categories) - 1
        self.id_name = id
        self.response_name = d.response.name
        self.data = data
        self.formula = formula
        self.random_text = random
        self.npo_text = npo
        self.response_expr = formula.split("~", 1)[0].strip()


def npmlt(
    formula: str,
    data,
    *,
    random: str = "~1",
    id: str | None = None,
    k: int = 2,
    npo: str | None = None,
    link: str = "clogit",
    random_dist: str = "npml",
    nagq: int = 10,
    eb: bool = True,
    se: str = "opg",
    start: dict | None = None,
    max_iter: int = 500,
    threads: int | None = None,
):
    """Fit an ordinal or nominal mixed model with a mass-point (NPML) or normal random effect.

    The model (Papageorgiou & Hinde 2012; mixcat's ``npmlt``): for the q = Q − 1 logits of
    cluster i, row j, with the cluster's random effect b drawn from a discrete distribution
    with K support points b_l and masses π_l (Aitkin 1999's nonparametric maximum likelihood),

        clogit:  logit P(y ≤ c | b) = α_c + xᵀβ (+ x_npoᵀβ_c) + zᵀb,
        blogit:  log(p_c / p_Q)     = α_c + xᵀβ (+ x_npoᵀβ_c) + zᵀb,

    with Σ_l π_l b_l = 0, so the α_c are the cutpoints of a cluster at the mean. Note the plus
    sign: a positive coefficient moves probability towards the low categories (``ordinal::clm``
    reports the same cutpoints and slopes of opposite sign).

    Estimation maximises the exact log-likelihood, computed per cluster in log space: a
    quasi-Newton ascent with a line search (the log-likelihood never decreases; masses by
    softmax stay in the simplex), then Newton steps to a truly converged optimum. Points that
    run off to infinity along a flat ridge are detected and reported, not passed off as
    converged estimates.

    Parameters
    ----------
    formula : str
        Response and fixed part, e.g. ``"y ~ trt*sqrt(wk)"``. The response is whole numbers
        with consecutive values (e.g. 1..Q), or an ordered (Enum) / string / boolean column.
    data : polars.DataFrame, polars.LazyFrame or pandas.DataFrame
    random : str
        Random-effects design, one-sided: ``"~1"`` (random intercept, default) or
        ``"~1 + trt"``; the intercept is always part of it.
    id : str
        Column identifying the clusters. Clusters are found by value: row order is irrelevant.
    k : int
        Number of support points (``k=1`` is the fixed-effects cumulative/baseline logit
        model). With ``random_dist="normal"`` it is ignored.
    npo : str, optional
        One-sided formula of the columns with one coefficient per logit (non-proportional
        odds), e.g. ``"~trt + sqrt(wk)"``; they must be columns of ``formula``'s design.
    link : {"clogit", "blogit"}
        Cumulative logit (P(y ≤ c), mixcat's sign convention) or baseline-category logit
        (last category the baseline).
    random_dist : {"npml", "normal"}
        Mass-point distribution (default) or a normal random effect integrated by adaptive
        Gauss–Hermite quadrature with ``nagq`` nodes per dimension (up to 2 dimensions).
    nagq : int
        Quadrature nodes per dimension for ``random_dist="normal"`` (default 10, at least 3;
        the cost grows as nagq^d).
    eb : bool
        Keep the empirical Bayes estimates (``ranef``) and conditional predictions.
    se : {"opg", "hessian"}
        Standard errors. **Default "opg"**: the inverse of the outer product of the per-cluster
        scores, as mixcat computes them (comparable with its output). "hessian": the inverse
        of the observed information (central differences of the analytic score), usually
        preferable for inference. For ``random_dist="normal"`` "opg" and "hessian" are
        available likewise. Delta-method SEs are given for the eliminated last point and mass
        and for the random-effect variances.
    start : dict, optional
        ``{"alpha": ..., "beta": ..., "mass_points": (k, d), "masses": (k,)}``.
    max_iter : int
        Iteration limit (quasi-Newton plus Newton steps).
    threads : int, optional
        Threads for the cluster-parallel work (default: all cores); results do not depend on it.

    Returns
    -------
    NpmltResult

    Examples
    --------
    >>> import glmmx as gx
    >>> study = gx.datasets.ordinal()  # severity 1-4, four visits, two-point random intercept
    >>> fit = gx.npmlt("y ~ trt*visit", data=study, id="id", k=2)
    >>> round(fit.m2loglik, 3), fit.converged
    (1871.045, True)
    >>> fit.masses.round(3).tolist(), fit.mass_points.round(3).ravel().tolist()
    ([0.395, 0.605], [-1.828, 1.196])
    """
    link = checks.choice("link", link, _LINKS)
    random_dist = checks.choice("random_dist", random_dist, _DISTS)
    se = checks.choice("se", se, ("opg", "hessian"))
    k = checks.integer("k", k)
    nagq = checks.integer("nagq", nagq)
    max_iter = checks.integer("max_iter", max_iter)
    threads = checks.threads(threads)
    prep = _Prepared(formula, data, random, npo, id, link)
    fit = _fit_prepared(prep, k=k, link=link, random_dist=random_dist, nagq=nagq, se=se, start=start,
                        max_iter=max_iter, threads=threads, eb=eb)
    degenerate = not np.all(np.isfinite(fit.se_beta))  # singular information: a flat direction
    if start is None and random_dist == "npml" and k >= 2 and (not fit.converged or degenerate):
        fit = _best_of_restarts(prep, fit, k=k, link=link, se=se, max_iter=max_iter, threads=threads, eb=eb)
    _warn(fit)
    return fit


RESTARTS = 12


def _best_of_restarts(prep, first, *, k, link, se, max_iter, threads, eb, seed: int = 0):
    """When the default search ends on a ridge (a point running off to infinity), does not
    converge, or stops where the information is singular, the likelihood may still have a finite maximum elsewhere: try ``RESTARTS`` more
    starting distributions (seeded: the result is reproducible), K points drawn at the scale
    of the finite part of the first solution, and keep the highest likelihood (a converged fit
    only where it is at least as high: a local maximum below a ridge's supremum is not the
    better answer). The summary says how the reported fit was found."""
    import dataclasses

    rng = np.random.default_rng(seed)
    pts, w = np.asarray(first.mass_points), np.asarray(first.masses)
    finite = [l for l in range(k) if l not in set(first.ridge_points)] or list(range(k))
    centred = pts[finite] - np.average(pts[finite], axis=0, weights=w[finite])
    scale = np.sqrt(np.clip(np.average(centred**2, axis=0, weights=w[finite]), 0.25, None))
    best = first
    for _ in range(RESTARTS):
        points = rng.normal(0.0, 1.5, (k, pts.shape[1])) * scale
        masses = rng.dirichlet(np.full(k, 2.0))
        points -= masses @ points
        start = {"alpha": first.alpha, "beta": first.beta, "mass_points": points, "masses": masses}
        try:
            fit = _fit_prepared(prep, k=k, link=link, random_dist="npml", nagq=first.nagq, se=se, start=start,
                                max_iter=max_iter, threads=threads, eb=eb)
        except (ModelSpecError, ArithmeticError):
            continue
        if fit.m2loglik < best.m2loglik - 1e-6 or (fit.converged and not best.converged and fit.m2loglik <= best.m2loglik + 1e-6):
            best = fit
    if best is first:
        return first
    note = (f"the default start ended on a ridge, did not converge or had a singular information matrix (-2 log L {first.m2loglik:.4f}); "
            f"the best of {RESTARTS} seeded restarts is reported (-2 log L {best.m2loglik:.4f})")
    return dataclasses.replace(best, warnings=tuple(best.warnings) + (note,))


def _start_tuple(start, prep, k):
    if start is None:
        return None
    if not isinstance(start, dict) or set(start) - {"alpha", "beta", "mass_points", "masses"} or len(start) != 4:
        raise ModelSpecError("start must be a dict with keys 'alpha', 'beta', 'mass_points' and 'masses'")
    pts = np.asarray(start["mass_points"], dtype=float).reshape(k, -1)
    return (list(map(float, start["alpha"])), list(map(float, start["beta"])),
            [float(v) for v in pts.ravel()], list(map(float, start["masses"])))


def _fit_prepared(prep, *, k, link, random_dist, nagq, se, start, max_iter, threads, eb):
    from glmmx import _core
    from glmmx.results.npmlt import NpmltResult

    n_clusters = len(prep.starts) - 1
    if random_dist == "npml" and k > n_clusters:
        raise ModelSpecError(f"k = {k} support points need at least {k} clusters; id {prep.id_name!r} has {n_clusters}")
    core = _core.NpmltData(prep.y, prep.q, prep.X, prep.npo, prep.Z, prep.starts, link=link)
    if random_dist == "normal":
        if nagq < 3:
            raise ModelSpecError(
                f"random_dist='normal' needs nagq >= 3 (got {nagq}): the Laplace approximation (nagq=1) and 2-node "
                "rules are not implemented for npmlt; use nagq=10 (default)"
            )
        if prep.Z.shape[1] > 2:
            raise ModelSpecError(f"random_dist='normal' supports random effects of up to 2 dimensions; random has {prep.Z.shape[1]}")
        checks.quadrature(nagq, prep.Z.shape[1], len(prep.y))
        raw = core.fit_normal(nagq=nagq, max_iter=max_iter, se=se, threads=threads)
        k = 0
    else:
        raw = core.fit(k=k, max_iter=max_iter, se=se, start=_start_tuple(start, prep, k), threads=threads)
    return NpmltResult.from_core(raw, prep, k=k, link=link, random_dist=random_dist, nagq=nagq, se=se, eb=eb, max_iter=max_iter)


def _warn(fit) -> None:
    for w in fit.warnings:
        warnings.warn(w, FitWarning, stacklevel=3)
    if not fit.converged:
        warnings.warn(f"npmlt did not converge: {fit.message}", ConvergenceWarning, stacklevel=3)


def select_k(formula: str, data, *, k=range(1, 7), tol: float = 1e-3, **kwargs):
    """Fit an increasing number of support points and stop once the likelihood stops improving.

    Each k > 1 is started from the (k − 1)-point solution with a point added (each existing
    point split in two, and a new point beyond each end of the support), keeping the best
    fit, so −2 log L cannot increase with k. The sequence stops at the first k that improves
    −2 log L by less than ``tol``: the NPML estimate of the number of support points is the
    previous k (Lindsay 1983; Aitkin 1999).

    Parameters
    ----------
    formula, data, **kwargs
        As for :func:`npmlt` (``random_dist`` must be "npml").
    k : iterable of int
        The numbers of points to try, increasing (default 1..6).
    tol : float
        Smallest decrease of −2 log L that counts as an improvement.

    Returns
    -------
    polars.DataFrame
        Columns k, m2loglik, aic, bic, converged, iterations and note (warnings of the fit).

    Examples
    --------
    >>> import glmmx as gx
    >>> table = gx.select_k("y ~ trt*visit", gx.datasets.ordinal(), id="id", k=range(1, 5))
    >>> table["k"].to_list(), [round(v, 2) for v in table["m2loglik"]]
    ([1, 2, 3, 4], [2041.16, 1871.04, 1871.0, 1871.0])
    """
    import polars as pl

    if kwargs.get("random_dist", "npml") != "npml":
        raise ModelSpecError("select_k chooses the number of mass points: random_dist must be 'npml'")
    ks = [checks.integer("k", v) for v in k]
    if not ks or any(b <= a for a, b in zip(ks, ks[1:])):
        raise ModelSpecError(f"k must be a non-empty increasing sequence, not {list(k)!r}")
    allowed = {"random", "id", "npo", "link", "se", "max_iter", "threads"}
    bad = set(kwargs) - allowed - {"random_dist"}
    if bad:
        raise ModelSpecError(f"select_k does not take {', '.join(sorted(bad))}")
    opts = {key: kwargs[key] for key in ("link", "se", "max_iter", "threads") if key in kwargs}
    opts.setdefault("link", "clogit")
    opts.setdefault("se", "opg")
    opts.setdefault("max_iter", 500)
    opts.setdefault("threads", None)
    prep = _Prepared(formula, data, kwargs.get("random", "~1"), kwargs.get("npo"), kwargs.get("id"), opts["link"])
    rows, prev = [], None
    for kk in ks:
        if kk > len(prep.starts) - 1:
            break
        fit = _best_fit(prep, kk, prev, opts)
        rows.append({"k": kk, "m2loglik": fit.m2loglik, "aic": fit.aic, "bic": fit.bic, "converged": fit.converged,
                     "iterations": fit.iterations, "note": "; ".join(fit.warnings)})
        if prev is not None and not (fit.m2loglik < prev.m2loglik - tol):
            break
        prev = fit
    return pl.DataFrame(rows)


def _best_fit(prep, k, prev, opts):
    """The best of the fits of k points started from `prev` with a point added (or mixcat's
    default start when there is no previous fit or it has a single point)."""
    common = dict(k=k, link=opts["link"], random_dist="npml", nagq=1, se=opts["se"], max_iter=opts["max_iter"],
                  threads=opts["threads"], eb=True)
    candidates = [None]
    if prev is not None and prev.k >= 2 and np.all(np.isfinite(prev.mass_points)):
        candidates += list(_added_point_starts(prev))
    best = None
    for start in candidates:
        try:
            fit = _fit_prepared(prep, start=start, **common)
        except Exception:  # noqa: BLE001 - a failed candidate start is just not the best
            continue
        if best is None or (np.isfinite(fit.m2loglik) and fit.m2loglik < best.m2loglik - 1e-9):
            best = fit
    if best is None:
        best = _fit_prepared(prep, start=None, **common)
    return best


def _added_point_starts(prev):
    """(k−1)-point solution plus one point: each point split in two, or a point beyond each end."""
    pts, w = np.asarray(prev.mass_points), np.asarray(prev.masses)
    sd = np.sqrt(np.maximum(np.diag(prev.re_vcov()), 1e-4))
    base = {"alpha": prev.alpha.tolist(), "beta": prev.beta.tolist()}
    for l in range(len(w)):
        for delta in (-0.5, 0.5):
            new_pts = np.vstack([pts, pts[l] + delta * sd])
            new_w = np.append(w, w[l] / 2)
            new_w[l] /= 2
            new_pts = new_pts - new_w @ new_pts
            yield base | {"mass_points": new_pts, "masses": new_w}
    for end in (pts[np.argmin(pts[:, 0])] - sd, pts[np.argmax(pts[:, 0])] + sd):
        new_w = np.append(w * 0.95, 0.05)
        new_pts = np.vstack([pts, end])
        yield base | {"mass_points": new_pts - new_w @ new_pts, "masses": new_w}
