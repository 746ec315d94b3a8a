"""The result of :func:`glmmx.npmlt`: estimates, standard errors, the fitted random-effects
distribution, empirical Bayes quantities and predictions. Tables are polars DataFrames and
names follow mixcat ("(Intercept) 1", "trt 2", "trt:sqrt(wk)")."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from glmmx.exceptions import ModelSpecError


def _pvalue(z: np.ndarray) -> np.ndarray:
    return np.array([math.erfc(abs(v) / math.sqrt(2.0)) if np.isfinite(v) else np.nan for v in z])


def coefficient_names(x_names, npo, q) -> list[str]:
    """mixcat's names: "(Intercept) c", PO columns as named, NPO columns "name c"."""
    names = [f"(Intercept) {c}" for c in range(1, q + 1)]
    for name, flag in zip(x_names, npo):
        names += [f"{name} {c}" for c in range(1, q + 1)] if flag else [name]
    return names


def _coincident_points(points: np.ndarray, masses: np.ndarray, tol: float = 1e-3):
    """Pairs of support points at the same place: the distribution needs fewer points."""
    scale = max(1.0, float(np.abs(points).max(initial=0.0)))
    for a in range(len(masses)):
        for b in range(a + 1, len(masses)):
            if np.all(np.isfinite(points[[a, b]])) and np.max(np.abs(points[a] - points[b])) < tol * scale:
                yield (f"mass points {a + 1} and {b + 1} coincide (masses {masses[a]:.4f} and {masses[b]:.4f}): "
                       f"the distribution needs fewer points (k = {len(masses) - 1} fits as well)")


@dataclass(frozen=True, eq=False)
class NpmltResult:
    """An ordinal/nominal mixed model fitted by :func:`glmmx.npmlt`.

    Attributes
    ----------
    m2loglik, loglik, aic, bic : float
        −2 log L (full precision), log L, and the information criteria with
        n_par = q + n_p + (K − 1)(d + 1) parameters (normal: q + n_p + d(d + 1)/2) and the
        number of rows for BIC.
    mass_points, se_mass_points : numpy (k, d)
        Support points (mean zero) and their standard errors (None for a normal random effect).
    masses, se_masses : numpy (k,)
    se_re_var : numpy (d,)
        Standard errors of the random-effect variances (delta method).
    converged, iterations, message, warnings
        Convergence report; ``warnings`` names points at infinity (ridges) and empty points.
    n_dropped : int
        Rows dropped for missing values.
    """

    _batch_kind = "npmlt"  # the batch adapter (glmmx.batch.adapters) of this kind of fit

    formula: str
    random: str
    npo: str | None
    link: str
    random_dist: str
    k: int
    nagq: int
    se_kind: str
    eb: bool
    categories: tuple[str, ...]
    response_name: str
    id_name: str
    ids: Any
    x_names: tuple[str, ...]
    z_names: tuple[str, ...]
    npo_flags: tuple[bool, ...]
    coef_names: tuple[str, ...]
    alpha: np.ndarray
    beta: np.ndarray
    se_alpha: np.ndarray
    se_beta: np.ndarray
    mass_points: np.ndarray | None
    masses: np.ndarray | None
    se_mass_points: np.ndarray | None
    se_masses: np.ndarray | None
    se_re_var: np.ndarray
    vcov: np.ndarray
    _re_vcov: np.ndarray
    loglik: float
    converged: bool
    max_grad: float
    iterations: int
    evaluations: int
    message: str
    warnings: tuple[str, ...]
    ridge_points: tuple[int, ...]
    posterior_matrix: np.ndarray | None
    eb_means: np.ndarray
    n_obs: int
    n_clusters: int
    n_dropped: int
    _prep: Any
    _max_iter: int = 500

    @classmethod
    def from_core(cls, raw, prep, *, k, link, random_dist, nagq, se, eb, max_iter=500):
        q = prep.q
        names = coefficient_names(prep.x_names, prep.npo, q)
        if random_dist == "npml":
            pts = np.asarray(raw.mass_points)
            w = np.asarray(raw.masses)
            re_vcov = (pts * w[:, None]).T @ pts
            post = np.asarray(raw.posterior)
            eb_means = post @ pts
            extra = dict(mass_points=pts, masses=w, se_mass_points=np.asarray(raw.se_mass_points),
                         se_masses=np.asarray(raw.se_masses), posterior_matrix=post)
        else:
            L = np.asarray(raw.re_chol).T  # core gives the column-major factor
            re_vcov = L @ L.T
            eb_means = np.asarray(raw.posterior)
            extra = dict(mass_points=None, masses=None, se_mass_points=None, se_masses=None, posterior_matrix=None)
        notes = tuple(prep.design_warnings) + tuple(raw.warnings)
        if random_dist == "npml":
            notes += tuple(_coincident_points(pts, w))
        return cls(
            formula=prep.formula, random=prep.random_text, npo=prep.npo_text, link=link, random_dist=random_dist,
            k=k, nagq=nagq, se_kind=se, eb=eb, categories=tuple(prep.categories), response_name=prep.response_name,
            id_name=prep.id_name, ids=prep.ids, x_names=prep.x_names, z_names=prep.z_names,
            npo_flags=tuple(prep.npo), coef_names=tuple(names), alpha=np.asarray(raw.alpha),
            beta=np.asarray(raw.beta), se_alpha=np.asarray(raw.se_alpha), se_beta=np.asarray(raw.se_beta),
            se_re_var=np.asarray(raw.se_re_var), vcov=np.asarray(raw.vcov), _re_vcov=re_vcov,
            loglik=float(raw.loglik), converged=bool(raw.converged), max_grad=float(raw.max_grad),
            iterations=int(raw.iterations), evaluations=int(raw.evaluations), message=raw.message,
            warnings=notes, ridge_points=tuple(raw.ridge_points), eb_means=eb_means,
            n_obs=len(prep.y), n_clusters=len(prep.starts) - 1, n_dropped=prep.design.n_dropped, _prep=prep, _max_iter=max_iter, **extra,
        )

    # ------------------------------------------------------------------ likelihood summaries
    @property
    def m2loglik(self) -> float:
        """−2 log L, the exact categorical log-likelihood (comparable with clm/clmm)."""
        return -2.0 * self.loglik

    @property
    def n_par(self) -> int:
        d = len(self.z_names)
        fixed = len(self.alpha) + len(self.beta)
        if self.random_dist == "normal":
            return fixed + d * (d + 1) // 2
        return fixed + (self.k - 1) * (d + 1)

    @property
    def aic(self) -> float:
        return self.m2loglik + 2.0 * self.n_par

    @property
    def bic(self) -> float:
        return self.m2loglik + math.log(self.n_obs) * self.n_par

    @property
    def coefficients(self) -> np.ndarray:
        return np.concatenate([self.alpha, self.beta])

    # ------------------------------------------------------------------ tables
    def coef_table(self):
        """Estimates with standard errors, z values and two-sided normal p-values."""
        import polars as pl

        est = self.coefficients
        se = np.concatenate([self.se_alpha, self.se_beta])
        with np.errstate(divide="ignore", invalid="ignore"):
            z = est / se
        return pl.DataFrame({"term": list(self.coef_names), "estimate": est, "std_error": se, "z_value": z,
                             "p_value": _pvalue(z)})

    def re_vcov(self) -> np.ndarray:
        """Covariance of the random effects, Σ_l π_l b_l b_lᵀ (normal: Σ)."""
        return self._re_vcov.copy()

    def re_corr(self) -> np.ndarray:
        """Correlations of the random effects (with K = 2 and d = 2 always ±1: rank Σ ≤ K − 1)."""
        v = self._re_vcov
        s = np.sqrt(np.diag(v))
        with np.errstate(divide="ignore", invalid="ignore"):
            return v / np.outer(s, s)

    def posterior(self):
        """Posterior probabilities of the support points for each cluster (the empirical Bayes
        weights), long format: id, mass_point (1-based), probability."""
        import polars as pl

        if self.posterior_matrix is None:
            raise ModelSpecError("posterior() is defined for the mass-point distribution (random_dist='npml')")
        m, k = self.posterior_matrix.shape
        ids = self.ids.gather(np.repeat(np.arange(m), k))
        return pl.DataFrame({self.id_name: ids, "mass_point": np.tile(np.arange(1, k + 1), m),
                             "probability": self.posterior_matrix.ravel()})

    def ranef(self):
        """Empirical Bayes estimates (posterior means) of the random effects, one row per cluster."""
        import polars as pl

        if not self.eb:
            raise ModelSpecError("the fit was made with eb=False: no empirical Bayes estimates")
        cols = {self.id_name: self.ids}
        for j, name in enumerate(self.z_names):
            cols[name] = self.eb_means[:, j]
        return pl.DataFrame(cols)

    # ------------------------------------------------------------------ predictions
    def _eta_fixed(self, X: np.ndarray) -> np.ndarray:
        q = len(self.alpha)
        eta = np.tile(self.alpha, (X.shape[0], 1))
        pos = 0
        for u, flag in enumerate(self.npo_flags):
            if flag:
                eta += X[:, [u]] * self.beta[pos:pos + q][None, :]
                pos += q
            else:
                eta += X[:, [u]] * self.beta[pos]
                pos += 1
        return eta

    def _probs(self, eta: np.ndarray) -> np.ndarray:
        """Category probabilities (n × Q) from linear predictors (n × q)."""
        if self.link == "clogit":
            with np.errstate(over="ignore"):
                gam = 1.0 / (1.0 + np.exp(-eta))
            cum = np.hstack([np.zeros((eta.shape[0], 1)), gam, np.ones((eta.shape[0], 1))])
            return np.diff(cum, axis=1)
        m = np.maximum(eta.max(axis=1, keepdims=True), 0.0)
        e = np.hstack([np.exp(eta - m), np.exp(-m)])
        return e / e.sum(axis=1, keepdims=True)

    def _new_design(self, newdata):
        """X (without intercept), Z and cluster index (−1 if unseen) of new data."""
        import polars as pl

        from glmmx.design.build import build_design, model_matrix

        prep = self._prep
        if newdata is None:
            inv = np.empty(len(prep.order), dtype=np.int64)
            inv[prep.order] = np.arange(len(prep.order))
            cluster = np.searchsorted(np.asarray(prep.starts[1:]), inv, side="right")
            return prep.X[inv], prep.Z[inv], cluster
        nd = model_matrix(prep.design.spec, newdata, random=False)
        keep = [j for j, n in enumerate(prep.design.spec.x_names) if n != "(Intercept)"]
        X = nd.X[:, keep]
        if len(self.z_names) > 1:
            zdesign = build_design(f"{prep.response_expr} ~ {prep.random_text.split('~', 1)[1]}", prep.data)
            zX = model_matrix(zdesign.spec, newdata, random=False)
            cols = [j for j, n in enumerate(zdesign.spec.x_names) if n != "(Intercept)"]
            Z = np.column_stack([np.ones(X.shape[0])] + [zX.X[:, j] for j in cols])
        else:
            Z = np.ones((X.shape[0], 1))
        cluster = np.full(X.shape[0], -1, dtype=np.int64)
        if self.id_name in (newdata.columns if hasattr(newdata, "columns") else []):
            lookup = {v: i for i, v in enumerate(self.ids.to_list())}
            new_ids = pl.Series(newdata[self.id_name]).to_list() if not isinstance(newdata, pl.DataFrame) else newdata[self.id_name].to_list()
            cluster = np.array([lookup.get(v, -1) for v in new_ids], dtype=np.int64)
        return X, Z, cluster

    def predict(self, newdata=None, type: str = "prob", re: str = "marginal"):
        """Predicted category probabilities, cumulative probabilities or classes.

        Parameters
        ----------
        newdata : DataFrame, optional
            Default: the rows used in the fit, in data order (dropped rows excluded).
        type : {"prob", "cumprob", "class"}
        re : {"marginal", "conditional"}
            "marginal": Σ_l π_l p(b_l), averaged over the fitted random-effects distribution
            (normal: over its quadrature); "conditional": p at the cluster's empirical Bayes
            estimate (mixcat's ``prob``), needing the id column; unseen clusters get the
            random effect 0.

        Returns
        -------
        polars.DataFrame (one column per category, or per cutpoint for "cumprob") or, for
        "class", a Series of category labels.
        """
        import polars as pl

        if type not in ("prob", "cumprob", "class"):
            raise ModelSpecError(f"type must be 'prob', 'cumprob' or 'class', not {type!r}")
        if re not in ("marginal", "conditional"):
            raise ModelSpecError(f"re must be 'marginal' or 'conditional', not {re!r}")
        X, Z, cluster = self._new_design(newdata)
        eta0 = self._eta_fixed(X)
        if re == "conditional":
            if not self.eb:
                raise ModelSpecError("re='conditional' needs the empirical Bayes estimates: fit with eb=True")
            b = np.where(cluster[:, None] >= 0, self.eb_means[np.maximum(cluster, 0)], 0.0)
            p = self._probs(eta0 + np.sum(Z * b, axis=1, keepdims=True))
        else:
            pts, w = self._support()
            p = sum(wl * self._probs(eta0 + (Z @ bl)[:, None]) for bl, wl in zip(pts, w))
        if type == "class":
            return pl.Series("class", [self.categories[i] for i in np.argmax(p, axis=1)])
        if type == "cumprob":
            cp = np.cumsum(p, axis=1)[:, :-1]
            return pl.DataFrame({f"P(y <= {c})": cp[:, j] for j, c in enumerate(self.categories[:-1])})
        return pl.DataFrame({c: p[:, j] for j, c in enumerate(self.categories)})

    def _support(self):
        """Points and weights of the random-effects distribution (normal: a product GH rule)."""
        if self.random_dist == "npml":
            return self.mass_points, self.masses
        from itertools import product

        x, w = np.polynomial.hermite_e.hermegauss(max(self.nagq, 10))
        w = w / w.sum()
        d = len(self.z_names)
        L = np.linalg.cholesky(self._re_vcov + 1e-300 * np.eye(d)) if d > 1 else np.sqrt(self._re_vcov)
        nodes = np.array(list(product(x, repeat=d)))
        weights = np.array([np.prod(c) for c in product(w, repeat=d)])
        return nodes @ np.atleast_2d(L).T, weights

    # ------------------------------------------------------------------ printing
    def simulate(self, nsim: int = 1, seed: int | None = None) -> np.ndarray:
        """Responses (categories 1..Q as numbers, the fit's row order) drawn from the fitted
        model: each cluster draws a support point with probability equal to its mass (or a
        normal random effect), then each row a category. An (n_obs, nsim) array; column k is
        what ``bootstrap(seed=seed)`` refits as replicate k."""
        from glmmx.batch.engine import simulate

        return simulate(self, nsim, seed)

    def refit_many(self, responses, *, threads: int | None = None, progress: bool = True, executor=None, chunk_size: int | None = None):
        """Refit to each column of ``responses`` (categories 1..Q), in parallel in Rust, each
        mass-point fit started from these estimates. A polars DataFrame: sim, term, estimate,
        std_error, loglik, converged, separated, message (coefficients with standard errors, then the
        random-effects variances and covariances, which do not depend on how points are
        labelled)."""
        from glmmx.batch.engine import refit_many

        return refit_many(self, responses, threads=threads, progress=progress, executor=executor, chunk_size=chunk_size)

    def bootstrap(self, nsim: int = 1000, seed: int | None = None, *, threads: int | None = None, progress: bool = True, executor=None, chunk_size: int | None = None):
        """Parametric bootstrap: ``nsim`` responses simulated from the fit and refitted;
        a BootstrapResult with ``confint(level, method)``."""
        from glmmx.batch.engine import bootstrap

        return bootstrap(self, nsim, seed, threads=threads, progress=progress, executor=executor, chunk_size=chunk_size)

    def summary(self) -> str:
        """A mixcat-like summary (spec §6.2) with the full-precision −2 log L."""
        from glmmx.report.npmlt_summary import summary_text

        return summary_text(self)

    def __repr__(self) -> str:
        return self.summary()

    def plot_mass_points(self, path=None, ax=None):
        """The fitted mass-point distribution, each point labelled with its mass: bubbles of
        area proportional to mass (d >= 2) or stems of height mass (d = 1); saved to ``path``
        when given; returns the axes. Needs matplotlib (``pip install glmmx[plot]``)."""
        from glmmx.report.mass_plot import plot_mass_points

        return plot_mass_points(self, path=path, ax=ax)
