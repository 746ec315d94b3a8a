"""Fitted-model objects. Tables are polars DataFrames with lme4's vocabulary and R's names.

A result is built once from the Rust core's output (``from_core``) and never changes; every
table is computed on request from the stored estimates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glmmx.formula.reterms import ReStructure
from glmmx.results.re_form import ALL


SEPARATION_LIMIT = 15.0



def _separation_notes(X: np.ndarray, beta: np.ndarray, names, family: str):
    """Flag estimates that carry the fixed-effects linear predictor Xβ beyond ±15 on the link
    scale (fitted probabilities or rates numerically 0/1 or ∞): the sign of (quasi-)complete
    separation, where estimates run off to infinity. Rows with a moderate Xβ are ignored, so
    large coefficients that cancel (a slope and its interactions on log(Age), say) are not
    flagged while the fitted values stay finite."""
    parts = X * beta  # rows x coefficients: each term's share of X beta
    eta = parts.sum(axis=1)
    extreme = ~np.isfinite(eta) | (np.abs(eta) > SEPARATION_LIMIT)
    if not extreme.any():
        return
    reach = np.abs(parts[extreme]).max(axis=0)
    huge = [n for n, r in zip(names, reach) if not np.isfinite(r) or r > SEPARATION_LIMIT]
    if not huge:  # several moderate terms add up: name the largest
        huge = [names[int(np.nanargmax(reach))]]
    what = "(quasi-)complete separation" if family == "binomial" else "fitted rates at 0 or infinity"
    yield (
        f"estimates {', '.join(huge)} are huge (|X beta| > {SEPARATION_LIMIT:g} on the link scale): "
        f"probably {what}; these estimates and their standard errors are not meaningful"
    )


def _pnorm_upper2(z: np.ndarray) -> np.ndarray:
    """Two-sided normal p-value 2·P(Z > |z|)."""
    return np.array([math.erfc(abs(v) / math.sqrt(2.0)) if np.isfinite(v) else np.nan for v in z])


@dataclass(frozen=True, eq=False)
class GlmerResult:
    """A GLMM fitted by :func:`glmmx.glmer` (lme4's ``glmerMod``).

    Attributes are plain numbers; tables come from methods (``coef_table``, ``varcorr``,
    ``ranef``) as polars DataFrames.
    """

    _batch_kind = "glmer"  # the batch adapter (glmmx.batch.adapters) of this kind of fit

    formula: str
    family: str
    link: str
    nagq: int
    x_names: tuple[str, ...]
    x_assign: tuple[int, ...]
    term_labels: tuple[str, ...]
    re: ReStructure
    theta: np.ndarray
    beta: np.ndarray
    _vcov: np.ndarray
    vcov_source: str
    fisher_info: np.ndarray
    loglik: float
    converged: bool
    max_grad: float
    iterations: int
    evaluations: int
    message: str
    b: np.ndarray
    cond_var: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    y: np.ndarray
    prior_weights: np.ndarray
    row_freq: np.ndarray
    cluster_freq: np.ndarray
    offset: np.ndarray
    dev_resid: np.ndarray
    n_dropped: int
    dropped_columns: tuple[str, ...]
    spec: Any
    warnings: tuple[str, ...] = ()
    _core: Any = field(default=None, repr=False)
    _core_args: tuple = field(default=None, repr=False)
    _modes: Any = field(default=None, repr=False)
    _max_iter: int = 1000

    @classmethod
    def from_core(cls, raw, *, core, core_args, design, re, family, link, nagq, formula, y, m, offset, cluster_freq, max_iter) -> GlmerResult:
        """Wrap the Rust core's fit (``glmmx._core.GlmmFit``)."""
        beta = np.asarray(raw.beta)
        vcov = np.asarray(raw.vcov_beta)
        notes = list(_separation_notes(design.X, beta, design.x_names, family))
        if raw.vcov_source == "none":
            notes.append("standard errors are not available: neither the Hessian of the deviance nor the Fisher information of the fixed effects is positive definite")
        elif raw.vcov_source != "hessian" and nagq > 0:
            notes.append("the Hessian of the deviance is not positive definite; standard errors use the Fisher information at the conditional modes")
        return cls(
            formula=formula if isinstance(formula, str) else formula.text,
            family=family,
            link=link,
            nagq=nagq,
            x_names=tuple(design.x_names),
            x_assign=tuple(design.x_assign),
            term_labels=tuple(design.term_labels),
            re=re,
            theta=np.asarray(raw.theta),
            beta=beta,
            _vcov=vcov,
            vcov_source=raw.vcov_source,
            fisher_info=np.asarray(raw.fisher_info),
            loglik=-0.5 * raw.deviance,
            converged=bool(raw.converged),
            max_grad=float(raw.max_grad),
            iterations=int(raw.iterations),
            evaluations=int(raw.evaluations),
            message=raw.message,
            b=np.asarray(raw.b),
            cond_var=np.asarray(raw.cond_var),
            eta=np.asarray(raw.eta),
            mu=np.asarray(raw.mu),
            y=y,
            prior_weights=m,
            row_freq=cluster_freq[re.codes],
            cluster_freq=cluster_freq,
            offset=offset,
            dev_resid=np.asarray(raw.dev_resid),
            n_dropped=design.n_dropped,
            dropped_columns=tuple(design.dropped_columns),
            spec=design.spec,
            warnings=tuple(notes),
            _core=core,
            _core_args=core_args,
            _modes=np.ascontiguousarray(core.modes),
            _max_iter=max_iter,
        )

    # -- sizes and information criteria -------------------------------------------------------
    @property
    def nobs(self) -> int:
        """Number of observations (each row counted with its cluster's frequency)."""
        return int(round(float(self.row_freq.sum())))

    @property
    def ngroups(self) -> int:
        """Number of levels of the grouping factor (counted with frequencies)."""
        return int(round(float(self.cluster_freq.sum())))

    @property
    def npar(self) -> int:
        """Number of estimated parameters: fixed effects plus covariance parameters."""
        return len(self.beta) + len(self.theta)

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.npar

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + self.npar * math.log(self.nobs)

    @property
    def deviance(self) -> float:
        """R's ``deviance()`` of a glmer fit: the sum of squared deviance residuals at the
        conditional modes (the summary's 'deviance' column is −2·logLik instead)."""
        return float((self.row_freq * self.dev_resid).sum())

    @property
    def df_resid(self) -> int:
        return self.nobs - self.npar

    @property
    def ngroups_by_factor(self) -> dict[str, int]:
        return {self.re.group: self.ngroups}

    @property
    def is_singular(self) -> bool:
        """A variance component on the boundary (lme4's ``isSingular``, tol 1e-4)."""
        diag = self.theta[self.re.theta_rows == self.re.theta_cols]
        return bool((np.abs(diag) < 1e-4).any())

    # -- fixed effects ------------------------------------------------------------------------
    def fixef(self) -> dict[str, float]:
        """Fixed-effect estimates by term name."""
        return dict(zip(self.x_names, map(float, self.beta)))

    def vcov(self) -> np.ndarray:
        """Covariance matrix of the fixed-effect estimates (from the Hessian of the deviance
        in (θ, β), as lme4 does for nAGQ ≥ 1; from the Fisher information for nAGQ = 0)."""
        return self._vcov.copy()

    @property
    def std_errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self._vcov))

    def coef_table(self):
        """polars DataFrame: term, estimate, std_error, z_value, p_value (Wald tests)."""
        import polars as pl

        se = self.std_errors
        z = self.beta / se
        return pl.DataFrame(
            {"term": list(self.x_names), "estimate": self.beta, "std_error": se, "z_value": z, "p_value": _pnorm_upper2(z)}
        )

    # -- random effects -----------------------------------------------------------------------
    def varcorr(self):
        """polars DataFrame as R's ``as.data.frame(VarCorr(fit))``: group, var1, var2, vcov,
        sdcor (standard deviations for variances, correlations for covariances)."""
        import polars as pl

        cov = self.re.covariance(self.theta)
        rows = []
        for t in self.re.terms:
            o = t.offset
            sd = [math.sqrt(max(cov[o + i, o + i], 0.0)) for i in range(t.d)]
            rows += [(t.name, t.columns[i], "", cov[o + i, o + i], sd[i]) for i in range(t.d)]
            for i in range(t.d):
                for j in range(i + 1, t.d):
                    c = cov[o + i, o + j]
                    corr = c / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else float("nan")
                    rows.append((t.name, t.columns[i], t.columns[j], c, corr))
        names = ["group", "var1", "var2", "vcov", "sdcor"]
        return pl.DataFrame(rows, schema=names, orient="row")

    def ranef(self):
        """polars DataFrame: group, level, term, mode, cond_sd — the conditional modes of the
        random effects and their conditional standard deviations (lme4's ``condVar``)."""
        import polars as pl

        m, d = self.b.shape
        names = self.re.column_names
        sd = np.sqrt(np.clip(np.einsum("kii->ki", self.cond_var), 0.0, None))
        return pl.DataFrame(
            {
                "group": [self.re.group] * (m * d),
                "level": [lvl for _ in range(d) for lvl in self.re.levels],
                "term": [names[k] for k in range(d) for _ in range(m)],
                "mode": self.b.T.reshape(-1),
                "cond_sd": sd.T.reshape(-1),
            }
        )

    # -- fitted values, residuals, prediction ---------------------------------------------------
    def fitted(self) -> np.ndarray:
        """Fitted means μ at the conditional modes, one per row used in the fit."""
        return self.mu.copy()

    def residuals(self, type: str = "deviance") -> np.ndarray:
        """Residuals at the conditional modes: ``"deviance"`` (default), ``"pearson"``, or
        ``"response"`` (y − μ), with the prior weights as R uses them."""
        r = self.y - self.mu
        if type == "response":
            return r
        if type == "pearson":
            var = self.mu * (1.0 - self.mu) if self.family == "binomial" else self.mu
            with np.errstate(divide="ignore", invalid="ignore"):  # μ at 0 or 1 gives NaN, as in R
                return r * np.sqrt(self.prior_weights) / np.sqrt(var)
        if type == "deviance":
            return np.sign(r) * np.sqrt(np.clip(self.dev_resid, 0.0, None))
        from glmmx.exceptions import ModelSpecError

        raise ModelSpecError(f"type must be 'deviance', 'pearson' or 'response', not {type!r}")

    def predict(self, newdata=None, type: str = "response", re: bool = True, *, re_form=ALL,
                allow_new_levels: bool = False) -> np.ndarray:
        """Predictions on the link (``type="link"``) or response scale, with the conditional
        modes of each row's levels added.

        ``re_form`` chooses the random-effects terms added, as lme4's ``re.form``: a formula
        of the model's terms (``"~(1 | g)"``), or ``None``/``"NA"``/``"~0"`` for none (left
        out: all, or none with ``re=False``). A grouping level not seen in the fit raises
        ``ModelSpecError`` naming it; with ``allow_new_levels=True`` it gets the population
        value (random effect 0), as lme4's ``allow.new.levels = TRUE``. Rows of ``newdata``
        with missing values give NaN.
        """
        from glmmx.results.predict import predict_glmm

        return predict_glmm(self, newdata, type=type, re=re, re_form=re_form, allow_new_levels=allow_new_levels)

    def simulate(self, nsim: int = 1, seed: int | None = None, params: dict | None = None) -> np.ndarray:
        """Responses drawn from the fitted model with new random effects (lme4's
        ``simulate``): an (nobs, nsim) array on the scale of the fitted response (0/1, or the
        proportion of successes when there are trials; counts for poisson). Column k is
        the response ``bootstrap(seed=seed)`` refits as replicate k. ``params`` (lme4's
        ``newparams``) simulates at other values: {"theta": [...], "beta": [...] or
        {term: value}}, e.g. for a power analysis on a planned design."""
        from glmmx.batch.engine import simulate

        return simulate(self, nsim, seed, params)

    def refit_many(self, responses, *, threads: int | None = None, progress: bool = True, executor=None, chunk_size: int | None = None):
        """Refit the model to each column of ``responses`` (nobs × nsim, e.g. from
        ``simulate``), in parallel in Rust, each fit started from these estimates.

        Returns a polars DataFrame: sim, term, estimate, std_error, loglik, converged, separated, message
        (fixed effects with standard errors, then the random-effect standard deviations and
        correlations with lme4's names). ``executor`` may be a concurrent.futures.Executor or
        a Dask distributed.Client: chunks of replicates then run on its workers.
        """
        from glmmx.batch.engine import refit_many

        return refit_many(self, responses, threads=threads, progress=progress, executor=executor, chunk_size=chunk_size)

    def bootstrap(self, nsim: int = 1000, seed: int | None = None, *, threads: int | None = None, progress: bool = True, executor=None, chunk_size: int | None = None):
        """Parametric bootstrap (lme4's ``bootMer``): ``nsim`` responses simulated from the fit
        and refitted. Returns a BootstrapResult with the replicate table and
        ``confint(level=0.95, method="percentile")``."""
        from glmmx.batch.engine import bootstrap

        return bootstrap(self, nsim, seed, threads=threads, progress=progress, executor=executor, chunk_size=chunk_size)

    def anova(self):
        """lme4's sequential ANOVA table for one model: term, npar, sum_sq, mean_sq, f_value
        (sums of squares of Rᵦβ̂ per term, Rᵦ the Cholesky factor of the fixed-effects
        Fisher information at the conditional modes)."""
        import polars as pl

        chol = np.linalg.cholesky(self.fisher_info)
        effects = (chol.T @ self.beta) ** 2
        rows = []
        for k, label in enumerate(self.term_labels, start=1):
            idx = [i for i, a in enumerate(self.x_assign) if a == k]
            if idx:
                ss = float(effects[idx].sum())
                rows.append((label, len(idx), ss, ss / len(idx), ss / len(idx)))
        return pl.DataFrame(rows, schema=["term", "npar", "sum_sq", "mean_sq", "f_value"], orient="row")

    def plot_ranef(self, group: str | None = None, ax=None, level: float = 0.95):
        """Caterpillar plot of the conditional modes with ±z·cond_sd intervals (matplotlib)."""
        from glmmx.report.plot import plot_ranef

        return plot_ranef(self, group=group, ax=ax, level=level)

    # -- printing ----------------------------------------------------------------------------
    def summary(self) -> str:
        """The fit laid out like lme4's ``summary(glmerMod)``."""
        from glmmx.report.glmer_summary import glmer_summary

        return glmer_summary(self)

    def __repr__(self) -> str:
        from glmmx.report.glmer_summary import glmer_print

        return glmer_print(self)
