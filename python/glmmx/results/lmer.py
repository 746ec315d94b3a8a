"""The fitted linear mixed model (lme4's ``lmerMod`` with lmerTest's inference)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glmmx.exceptions import ModelSpecError
from glmmx.formula.reterms import RandomTerms
from glmmx.results.re_form import ALL



@dataclass(frozen=True, eq=False)
class LmerResult:
    """A linear mixed model fitted by :func:`glmmx.lmer`.

    Numbers are attributes (``reml_criterion``, ``loglik``, ``aic``, ``bic``, ``sigma``,
    ``nobs``, ``ngroups``, ``converged``, ``max_grad``); tables come from methods as polars
    DataFrames (``coef_table``, ``anova``, ``varcorr``, ``ranef``).
    """

    _batch_kind = "lmer"  # the batch adapter (glmmx.batch.adapters) of this kind of fit

    formula: str
    reml: bool
    x_names: tuple[str, ...]
    x_assign: tuple[int, ...]
    term_labels: tuple[str, ...]
    re: RandomTerms
    theta: np.ndarray
    beta: np.ndarray
    sigma: float
    _vcov: np.ndarray
    objective: float
    converged: bool
    max_grad: float
    iterations: int
    evaluations: int
    message: str
    b: tuple[np.ndarray, ...]
    _fitted: np.ndarray
    X: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    offset: np.ndarray
    n_dropped: int
    dropped_columns: tuple[str, ...]
    spec: Any
    warnings: tuple[str, ...] = ()
    _core: Any = field(default=None, repr=False)
    _data: Any = field(default=None, repr=False)
    _row_index: Any = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)
    #: what the core's response was lowered by (models.lmer._centre); 0 for ordinary responses
    _centre: float = field(default=0.0, repr=False)

    @classmethod
    def from_core(cls, raw, *, core, design, re, reml, formula, y, weights, offset, data, centre: float = 0.0) -> LmerResult:
        """Wrap the Rust core's fit (``glmmx._core.LmmFit``)."""
        return cls(
            formula=formula if isinstance(formula, str) else formula.text,
            x_names=tuple(design.x_names),
            x_assign=tuple(design.x_assign),
            term_labels=tuple(design.term_labels),
            re=re,
            X=design.X,
            y=y,
            weights=weights,
            offset=offset,
            n_dropped=design.n_dropped,
            dropped_columns=tuple(design.dropped_columns),
            spec=design.spec,
            _core=core,
            _data=data,
            _row_index=design.row_index,
            _centre=centre,
            **_estimates(raw, re, reml, offset, centre, design.x_names),
        )

    # -- sizes and criteria -------------------------------------------------------------------
    @property
    def nobs(self) -> int:
        return len(self.y)

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of levels of each grouping factor (lme4's ``ngrps``)."""
        return self.re.n_levels_by_group()

    @property
    def npar(self) -> int:
        """Fixed effects, covariance parameters and the residual standard deviation."""
        return len(self.beta) + len(self.theta) + 1

    @property
    def reml_criterion(self) -> float | None:
        """The REML criterion at convergence (−2 × REML log-likelihood); None for ML fits."""
        return self.objective if self.reml else None

    @property
    def loglik(self) -> float:
        """The REML log-likelihood of a REML fit, the log-likelihood of an ML fit (as lme4)."""
        return -0.5 * self.objective

    @property
    def deviance(self) -> float:
        """−2 × ``loglik`` (the REML criterion for a REML fit)."""
        return self.objective

    @property
    def aic(self) -> float:
        return self.objective + 2.0 * self.npar

    @property
    def bic(self) -> float:
        return self.objective + self.npar * math.log(self.nobs)

    @property
    def df_resid(self) -> int:
        return self.nobs - self.npar

    @property
    def is_singular(self) -> bool:
        """A variance component on the boundary (lme4's ``isSingular``, tolerance 1e-4)."""
        return self.re.is_singular(self.theta)

    # -- fixed effects ------------------------------------------------------------------------
    def fixef(self) -> dict[str, float]:
        """Fixed-effect estimates by term name."""
        return dict(zip(self.x_names, map(float, self.beta)))

    def vcov(self) -> np.ndarray:
        """σ̂²(XᵀV⁻¹X)⁻¹, the covariance matrix of the fixed-effect estimates."""
        return self._vcov.copy()

    @property
    def std_errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self._vcov))

    def _varpar(self):
        """(Hessian of the deviance in (θ, σ), ∂vcov/∂(θ, σ)): computed once, on request."""
        if "varpar" not in self._cache:
            h, jac = self._core.varpar_derivatives(list(map(float, self.theta)), reml=self.reml)
            self._cache["varpar"] = (np.asarray(h), np.asarray(jac))
        return self._cache["varpar"]

    def coef_table(self, ddf: str = "satterthwaite"):
        """polars DataFrame: term, estimate, std_error, df, t_value, p_value — t-tests with
        Satterthwaite's degrees of freedom as lmerTest's ``summary``; ``ddf="none"`` gives
        term, estimate, std_error, t_value (lme4's table)."""
        import polars as pl

        from glmmx.inference.satterthwaite import contrast_df

        se = self.std_errors
        t = self.beta / se
        table = {"term": list(self.x_names), "estimate": self.beta, "std_error": se}
        if ddf == "none":
            return pl.DataFrame(table | {"t_value": t})
        if ddf.lower() != "satterthwaite":
            raise ModelSpecError(f"ddf must be 'satterthwaite' or 'none', not {ddf!r}")
        from scipy.stats import t as t_dist

        h, jac = self._varpar()
        p = len(self.beta)
        df = np.array([contrast_df(np.eye(p)[k], self._vcov, jac, h) for k in range(p)])
        pval = 2.0 * t_dist.sf(np.abs(t), df)
        return pl.DataFrame(table | {"df": df, "t_value": t, "p_value": pval})

    def anova(self, type: int = 3, ddf: str = "satterthwaite"):
        """F-tests of each fixed-effect term with Satterthwaite's denominator degrees of freedom
        (lmerTest's ``anova``): type 3 (default; SAS's type III hypotheses, the terms'
        coefficients under sum-to-zero coding) or type 1 (sequential).

        Returns a polars DataFrame: term, sum_sq, mean_sq, num_df, den_df, f_value, p_value.
        """
        from glmmx.inference.satterthwaite import anova_table

        return anova_table(self, type=type, ddf=ddf)

    # -- random effects -----------------------------------------------------------------------
    def varcorr(self):
        """polars DataFrame as R's ``as.data.frame(VarCorr(fit))``: group, var1, var2, vcov,
        sdcor, with the residual as the last row."""
        import polars as pl

        from glmmx.formula.reterms import varcorr_rows

        rows = varcorr_rows(self.re, self.theta, self.sigma**2) + [("Residual", "", "", self.sigma**2, self.sigma)]
        return pl.DataFrame(rows, schema=["group", "var1", "var2", "vcov", "sdcor"], orient="row")

    @property
    def cond_var(self) -> tuple[np.ndarray, ...]:
        """Var(b | y, β̂) per term: an (n_levels, d, d) array each (computed on first use)."""
        if "cond_var" not in self._cache:
            flat = self._core.cond_var(list(map(float, self.theta)), reml=self.reml)
            self._cache["cond_var"] = self.re.split_levels(flat, square=True)
        return self._cache["cond_var"]

    def ranef(self):
        """polars DataFrame: group, level, term, mode, cond_sd — conditional modes of the random
        effects and their conditional standard deviations (lme4's ``condVar``, given β̂)."""
        from glmmx.formula.reterms import ranef_frame

        return ranef_frame(self.re, self.b, self.cond_var)

    # -- fitted values, residuals, prediction -------------------------------------------------
    def fitted(self) -> np.ndarray:
        """Xβ̂ + Zb̂ (+ offset) for the rows used in the fit."""
        return self._fitted.copy()

    def residuals(self, type: str = "response", scaled: bool = False) -> np.ndarray:
        """y − fitted (``"response"``) or √w·(y − fitted) (``"pearson"``); ``scaled`` divides by
        σ̂ (the summary's scaled residuals)."""
        r = self.y - self._fitted
        if type == "pearson":
            r = r * np.sqrt(self.weights)
        elif type != "response":
            raise ModelSpecError(f"type must be 'response' or 'pearson', not {type!r}")
        return r / self.sigma if scaled else r

    def predict(self, newdata=None, re: bool = True, *, re_form=ALL, allow_new_levels: bool = False) -> np.ndarray:
        """Xβ̂ (+ offset) plus the conditional modes of each row's levels.

        ``re_form`` and ``allow_new_levels`` are lme4's ``re.form`` and ``allow.new.levels``
        (``glmmx.results.re_form``); rows of ``newdata`` with missing values give NaN.
        """
        from glmmx.results.predict import predict_lmm

        return predict_lmm(self, newdata, re=re, re_form=re_form, allow_new_levels=allow_new_levels)

    def simulate(self, nsim: int = 1, seed: int | None = None) -> np.ndarray:
        """Responses drawn from the fitted model with new random effects and residuals
        (lme4's ``simulate``): an (nobs, nsim) array; column k is what
        ``bootstrap(seed=seed)`` refits as replicate k."""
        from glmmx.batch.engine import simulate

        return simulate(self, nsim, seed)

    def refit_many(self, responses, *, threads: int | None = None, progress: bool = True, executor=None, chunk_size: int | None = None):
        """Refit the model to each column of ``responses`` (nobs × nsim), in parallel in Rust,
        each fit started from these estimates. A polars DataFrame: sim, term, estimate,
        std_error, loglik, converged, separated, message (fixed effects with standard errors, then the
        random-effect standard deviations and correlations and sigma)."""
        from glmmx.batch.engine import refit_many

        return refit_many(self, responses, threads=threads, progress=progress, executor=executor, chunk_size=chunk_size)

    def bootstrap(self, nsim: int = 1000, seed: int | None = None, *, threads: int | None = None, progress: bool = True, executor=None, chunk_size: int | None = None):
        """Parametric bootstrap (lme4's ``bootMer``): a BootstrapResult with ``confint``."""
        from glmmx.batch.engine import bootstrap

        return bootstrap(self, nsim, seed, threads=threads, progress=progress, executor=executor, chunk_size=chunk_size)

    def ml_fit(self) -> LmerResult:
        """This model refitted by maximum likelihood (itself when it is an ML fit)."""
        if not self.reml:
            return self
        if "ml" not in self._cache:
            raw = self._core.fit(reml=False, max_iter=1000, theta0=list(map(float, self.theta)), threads=None)
            self._cache["ml"] = dataclasses.replace(self, _cache={}, **_estimates(raw, self.re, False, self.offset, self._centre, self.x_names))
        return self._cache["ml"]

    def plot_ranef(self, group: str | None = None, ax=None, level: float = 0.95):
        """Caterpillar plot of the conditional modes with ±z·cond_sd intervals (matplotlib)."""
        from glmmx.report.plot import plot_ranef

        return plot_ranef(self, group=group, ax=ax, level=level)

    # -- printing ----------------------------------------------------------------------------
    def summary(self) -> str:
        """The fit laid out like lmerTest's ``summary(lmerModLmerTest)``."""
        from glmmx.report.lmer_summary import lmer_summary

        return lmer_summary(self)

    def __repr__(self) -> str:
        from glmmx.report.lmer_summary import lmer_print

        return lmer_print(self)


def _estimates(raw, re, reml: bool, offset: np.ndarray, centre: float, x_names) -> dict:
    """The fields of an LmerResult that come from one fit of the core, which was given the
    response less ``centre`` (see ``models.lmer._centre``): it goes back into the intercept."""
    theta = np.asarray(raw.theta)
    beta = np.asarray(raw.beta)
    if centre:
        beta = beta.copy()
        beta[list(x_names).index("(Intercept)")] += centre
    return {
        "reml": reml,
        "theta": theta,
        "beta": beta,
        "sigma": float(raw.sigma),
        "_vcov": np.asarray(raw.vcov_beta),
        "objective": float(raw.objective),
        "converged": bool(raw.converged),
        "max_grad": float(raw.max_grad),
        "iterations": int(raw.iterations),
        "evaluations": int(raw.evaluations),
        "message": raw.message,
        "b": re.split_levels(raw.b),
        "_fitted": np.asarray(raw.fitted) + offset + centre,
        "warnings": ("boundary (singular) fit: see help('isSingular')",) if re.is_singular(theta) else (),
    }
