"""The result of a glmer with several grouping factors (crossed or nested terms), Laplace or
nAGQ = 0, fitted on the blocked sparse core (``glmmx.models.glmer``); it extends
:class:`glmmx.results.glmer.GlmerResult`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glmmx.results.glmer import GlmerResult, _separation_notes
from glmmx.results.re_form import ALL


@dataclass(frozen=True, eq=False)
class GlmerCrossedResult(GlmerResult):
    """A GLMM with several grouping factors fitted by :func:`glmmx.glmer`. Same attributes and
    methods as :class:`GlmerResult`; ``ngroups`` is a dict (levels per grouping factor)."""

    _batch_kind = "glmer_crossed"  # the batch adapter (glmmx.batch.adapters) of this kind of fit

    @classmethod
    def from_sparse(cls, raw, *, core, design, re, family, link, nagq, formula, y, m, offset) -> GlmerCrossedResult:
        beta = np.asarray(raw.beta)
        vcov = np.asarray(raw.vcov_beta)
        notes = list(_separation_notes(design.X, beta, design.x_names, family))
        if raw.vcov_source != "hessian" and nagq > 0:
            notes.append("the Hessian of the deviance is not positive definite; standard errors use the Fisher information at the conditional modes")
        b, cv = re.split_levels(raw.b), re.split_levels(raw.cond_var, square=True)
        try:
            info = np.linalg.inv(vcov)
        except np.linalg.LinAlgError:
            info = np.full_like(vcov, np.nan)
        return cls(
            formula=formula if isinstance(formula, str) else formula.text,
            family=family, link=link, nagq=nagq,
            x_names=tuple(design.x_names), x_assign=tuple(design.x_assign), term_labels=tuple(design.term_labels),
            re=re, theta=np.asarray(raw.theta), beta=beta, _vcov=vcov, vcov_source=raw.vcov_source, fisher_info=info,
            loglik=-0.5 * raw.deviance, converged=bool(raw.converged), max_grad=float(raw.max_grad),
            iterations=int(raw.iterations), evaluations=int(raw.evaluations), message=raw.message,
            b=b, cond_var=cv, eta=np.asarray(raw.eta), mu=np.asarray(raw.mu), y=y, prior_weights=m,
            row_freq=np.ones(len(y)), cluster_freq=np.ones(1), offset=offset, dev_resid=np.asarray(raw.dev_resid),
            n_dropped=design.n_dropped, dropped_columns=tuple(design.dropped_columns), spec=design.spec,
            warnings=tuple(notes), _core=core,
        )

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of levels of each grouping factor (lme4's ``ngrps``)."""
        return self.re.n_levels_by_group()

    @property
    def ngroups_by_factor(self) -> dict[str, int]:
        return self.ngroups

    @property
    def is_singular(self) -> bool:
        return self.re.is_singular(self.theta)

    def varcorr(self):
        """polars DataFrame as R's ``as.data.frame(VarCorr(fit))``: group, var1, var2, vcov, sdcor."""
        import polars as pl

        from glmmx.formula.reterms import varcorr_rows

        return pl.DataFrame(varcorr_rows(self.re, self.theta), schema=["group", "var1", "var2", "vcov", "sdcor"], orient="row")

    def ranef(self):
        """polars DataFrame: group, level, term, mode, cond_sd (conditional modes and their
        conditional standard deviations)."""
        from glmmx.formula.reterms import ranef_frame

        return ranef_frame(self.re, self.b, self.cond_var)

    def _random_part(self) -> np.ndarray:
        from glmmx.results.predict import random_part

        return random_part(self.re.terms, self.b, [(t.codes, t.Z) for t in self.re.terms])

    def predict(self, newdata=None, type: str = "response", re: bool = True, *, re_form=ALL,
                allow_new_levels: bool = False) -> np.ndarray:
        """Predictions on the link or response scale, with the conditional modes of each row's
        levels added (see ``GlmerResult.predict`` for ``re_form`` and ``allow_new_levels``)."""
        from glmmx.results.predict import predict_crossed

        return predict_crossed(self, newdata, type=type, re=re, re_form=re_form, allow_new_levels=allow_new_levels)

    def summary(self) -> str:
        from glmmx.report.glmer_summary import glmer_summary

        return glmer_summary(self)

    def __repr__(self) -> str:
        from glmmx.report.glmer_summary import glmer_print

        return glmer_print(self)
