"""What the batch engine needs of each kind of fit: the payload its cores are rebuilt from,
simulation, and the names and values of the estimates it returns. An adapter reads the fit's
attributes (duck-typed): the batch layer does not import the result classes; a result names its
adapter by its ``_batch_kind``."""

from __future__ import annotations

import numpy as np

from glmmx.batch.cores import _replicates
from glmmx.design.separation import separation
from glmmx.exceptions import ModelSpecError


class _GlmerBatch:
    """glmer fits: the core is a GlmmModel rebuilt from the design arrays."""

    def __init__(self, fit):
        self.fit = fit

    def payload(self) -> dict:
        f = self.fit
        return {"kind": "glmer", "args": f._core_args, "theta": np.asarray(f.theta, dtype=float),
                "beta": np.asarray(f.beta, dtype=float), "modes": f._modes, "n_agq": f.nagq, "max_iter": f._max_iter}

    def simulate(self, nsim: int, seed: int, params: dict | None = None, first: int = 0) -> np.ndarray:
        theta, beta = self.parameters(params)
        core = self.fit._core
        return core.replicates(theta=list(theta), beta=list(beta), n_agq=self.fit.nagq).simulate(nsim=nsim, seed=seed, first=first)

    def groups(self) -> list[tuple[str, np.ndarray]]:
        return [(self.fit.re.group, self.fit.re.codes)]

    @property
    def separable(self) -> bool:
        """Whether a response can be separated (binomial fits)."""
        return self.fit.family == "binomial"

    def separation(self, responses: np.ndarray) -> list[str | None]:
        """What separates each column of ``responses`` (``design.separation``)."""
        m, X = self.fit._core_args[1], self.fit._core_args[3]
        return separation(responses, m, X, self.fit.x_names, self.groups())

    def parameters(self, params: dict | None) -> tuple[np.ndarray, np.ndarray]:
        """θ and β from ``params`` (lme4's ``newparams``: keys "theta" and "beta", β as an
        array or a dict by term name), the fit's own where not given."""
        f = self.fit
        params = dict(params or {})
        unknown = set(params) - {"theta", "beta"}
        if unknown:
            raise ModelSpecError(f"params takes 'theta' and 'beta'; got {', '.join(sorted(unknown))}")
        theta = np.asarray(params.get("theta", f.theta), dtype=float)
        beta = params.get("beta", f.beta)
        if isinstance(beta, dict):
            missing = [n for n in f.x_names if n not in beta]
            if missing or set(beta) - set(f.x_names):
                raise ModelSpecError(f"params['beta'] needs exactly the terms {', '.join(f.x_names)}")
            beta = [beta[n] for n in f.x_names]
        beta = np.asarray(beta, dtype=float)
        if theta.shape != np.shape(f.theta) or beta.shape != np.shape(f.beta):
            raise ModelSpecError(f"params need {len(f.theta)} theta and {len(f.beta)} beta values")
        for name, v in (("theta", theta), ("beta", beta)):
            if not np.isfinite(v).all():
                raise ModelSpecError(f"params['{name}'] must be finite; got {v.tolist()}")
        return theta, beta

    def n_rows(self) -> int:
        return len(self.fit.y)

    def local_core(self, payload):
        return self.fit._core

    def estimate_names(self) -> list[str]:
        return list(self.fit.x_names)

    def parameter_names(self) -> list[str]:
        return _theta_names(self.fit.re)

    def parameter_values(self, theta: np.ndarray) -> np.ndarray:
        return _sd_cor_rows(self.fit.re, theta)

    def original(self) -> np.ndarray:
        return np.concatenate([self.fit.beta, self.parameter_values(np.asarray(self.fit.theta)[None, :])[0]])


def _term_thetas(re):
    """(term, its θ positions as (row, column) pairs in lme4's order, its Λ from θ) per term,
    for one grouping factor's stacked structure and for several terms alike."""
    for term in re.terms:
        pairs = [(r, c) for c in range(term.d) for r in range(c, term.d)]
        if hasattr(term, "lambda_"):  # several grouping factors: a term carries its own Λ
            yield term, pairs, term.lambda_
        else:  # one grouping factor: the term is a diagonal block of the stacked Λ
            o = term.offset
            yield term, pairs, (lambda theta, o=o, d=term.d: re.lambda_(theta)[o:o + d, o:o + d])


def _theta_names(re) -> list[str]:
    """lme4's names (confint(..., oldNames = FALSE)), in θ order: sd_<column>|<group> on the
    diagonal, cor_<row>.<column>|<group> below it."""
    return [f"sd_{t.columns[c]}|{t.name}" if r == c else f"cor_{t.columns[r]}.{t.columns[c]}|{t.name}"
            for t, pairs, _ in _term_thetas(re) for r, c in pairs]


def _sd_cor_rows(re, theta: np.ndarray, scale=None) -> np.ndarray:
    """θ of each replicate (rows) as standard deviations and correlations of the random effects,
    in θ order; ``scale`` (per row: σ for a linear mixed model) multiplies the standard
    deviations."""
    out = np.full(theta.shape, np.nan)
    for k, row in enumerate(theta):
        if not np.all(np.isfinite(row)):
            continue
        values = []
        for _, pairs, lam in _term_thetas(re):
            L = lam(row)
            cov = L @ L.T
            sd = np.sqrt(np.clip(np.diag(cov), 0, None))
            for r, c in pairs:
                values.append(sd[r] if r == c else (cov[r, c] / (sd[r] * sd[c]) if sd[r] > 0 and sd[c] > 0 else np.nan))
        out[k] = values
        if scale is not None:
            diag = [r == c for _, pairs, _ in _term_thetas(re) for r, c in pairs]
            out[k, diag] *= scale[k]
    return out


class _LmerBatch:
    """lmer fits: the fit's LmmModel gives the replicates (each refit rebuilds the model from
    the shared design); responses are on the data's scale (the offset is added and taken off
    here)."""

    def __init__(self, fit):
        self.fit = fit

    def payload(self) -> dict:
        f = self.fit
        codes, n_levels, Z = f.re.core_arguments()
        y_core = np.asarray(f.y, dtype=float) - np.asarray(f.offset, dtype=float)
        return {"kind": "lmer", "y": y_core, "weights": np.asarray(f.weights, dtype=float), "X": f.X, "codes": codes,
                "n_levels": n_levels, "Z": Z, "reml": f.reml, "theta": list(map(float, f.theta)),
                "beta": list(map(float, f.beta)), "sigma": float(f.sigma), "max_iter": 1000,
                "offset": np.asarray(f.offset, dtype=float)}

    def n_rows(self) -> int:
        return len(self.fit.y)

    def simulate(self, nsim: int, seed: int, params: dict | None = None) -> np.ndarray:
        if params:
            raise ModelSpecError("lmer simulations use the fitted parameters")
        p = self.payload()
        sims = _replicates(p, self.local_core(p)).simulate(nsim=nsim, seed=seed, first=0)
        return sims + p["offset"][:, None]

    def local_core(self, payload):
        return self.fit._core

    def estimate_names(self) -> list[str]:
        return list(self.fit.x_names)

    def parameter_names(self) -> list[str]:
        return _theta_names(self.fit.re) + ["sigma"]

    def parameter_values(self, params: np.ndarray) -> np.ndarray:
        theta, sigma = params[:, :-1], params[:, -1]
        return np.column_stack([_sd_cor_rows(self.fit.re, theta, scale=sigma), sigma])

    #: separation concerns binomial GLMMs only
    separable = False

    def original(self) -> np.ndarray:
        f = self.fit
        return np.concatenate([f.beta, self.parameter_values(np.append(f.theta, f.sigma)[None, :])[0]])


class _GlmerCrossedBatch(_GlmerBatch):
    """glmer fits with several grouping factors: the fit's SparseGlmm gives the replicates."""

    def payload(self) -> dict:
        f = self.fit
        y, m, offset, X, codes, n_levels, Z, family, link = f._core_args
        return {"kind": "glmer_crossed", "y": y, "m": m, "offset": offset, "X": X, "codes": codes, "n_levels": n_levels,
                "Z": Z, "family": family, "link": link, "n_agq": f.nagq, "theta": list(map(float, f.theta)),
                "beta": list(map(float, f.beta)), "max_iter": f._max_iter}

    def simulate(self, nsim: int, seed: int, params: dict | None = None, first: int = 0) -> np.ndarray:
        theta, beta = self.parameters(params)
        p = self.payload() | {"theta": list(map(float, theta)), "beta": list(map(float, beta))}
        return _replicates(p, self.local_core(p)).simulate(nsim=nsim, seed=seed, first=first)

    def groups(self) -> list[tuple[str, np.ndarray]]:
        return [(t.group, t.codes) for t in self.fit.re.terms]

    def local_core(self, payload):
        return self.fit._core


class _NpmltBatch:
    """npmlt fits: the core rebuilds the ordinal data from the prepared (cluster-ordered)
    arrays; responses are categories 1..Q, given and returned in the fit's row order."""

    def __init__(self, fit):
        self.fit = fit
        self.prep = fit._prep

    def payload(self) -> dict:
        f, prep = self.fit, self.prep
        d = prep.Z.shape[1]
        if f.random_dist == "npml":
            mixing = {"points": np.asarray(f.mass_points, dtype=float).reshape(-1, d), "masses": list(map(float, f.masses)), "chol": None}
        else:
            mixing = {"points": None, "masses": None, "chol": np.linalg.cholesky(f._re_vcov) if d > 1 else np.sqrt(f._re_vcov).reshape(1, 1)}
        return {"kind": "npmlt", "y": prep.y, "q": prep.q, "X": prep.X, "npo": list(prep.npo), "Z": prep.Z,
                "starts": list(prep.starts), "link": f.link, "alpha": list(map(float, f.alpha)),
                "beta": list(map(float, f.beta)), "nagq": f.nagq, "max_iter": f._max_iter, "se": f.se_kind,
                "order": prep.order, **mixing}

    def simulate(self, nsim: int, seed: int, params: dict | None = None) -> np.ndarray:
        if params:
            raise ModelSpecError("npmlt simulations use the fitted parameters; params= is for glmer")
        payload = self.payload()
        sims = _replicates(payload).simulate(nsim=nsim, seed=seed, first=0)
        out = np.empty_like(sims)
        out[self.prep.order] = sims
        return out

    def n_rows(self) -> int:
        return len(self.prep.y)

    def local_core(self, payload):
        return None

    def estimate_names(self) -> list[str]:
        return list(self.fit.coef_names)

    def parameter_names(self) -> list[str]:
        z = self.fit.z_names
        return [f"var_{z[c]}" if r == c else f"cov_{z[r]}.{z[c]}" for c in range(len(z)) for r in range(c, len(z))]

    def parameter_values(self, params: np.ndarray) -> np.ndarray:
        """Random-effects (co)variances of each replicate: label-free, unlike the points."""
        d = len(self.fit.z_names)
        rows, cols = np.tril_indices(d)
        order = np.lexsort((rows, cols))
        out = np.full((params.shape[0], len(rows)), np.nan)
        for k, v in enumerate(params):
            if not np.all(np.isfinite(v)):
                continue
            if self.fit.random_dist == "npml":
                pts, w = v[:-self.fit.k].reshape(self.fit.k, d), v[-self.fit.k:]
                cov = (pts * w[:, None]).T @ pts
            else:
                L = v.reshape(d, d).T
                cov = L @ L.T
            out[k] = cov[rows[order], cols[order]]
        return out

    #: separation concerns binomial GLMMs only
    separable = False

    def original(self) -> np.ndarray:
        d = len(self.fit.z_names)
        rows, cols = np.tril_indices(d)
        order = np.lexsort((rows, cols))
        cov = self.fit._re_vcov
        return np.concatenate([self.fit.alpha, self.fit.beta, cov[rows[order], cols[order]]])


ADAPTERS = {"glmer": _GlmerBatch, "glmer_crossed": _GlmerCrossedBatch, "lmer": _LmerBatch, "npmlt": _NpmltBatch}


def adapter_of(fit):
    """The batch adapter of ``fit``, by its class's ``_batch_kind``."""
    kind = getattr(type(fit), "_batch_kind", None)
    if kind not in ADAPTERS:
        raise ModelSpecError(f"{type(fit).__name__} has no batch path (refit_many/bootstrap)")
    return ADAPTERS[kind](fit)
