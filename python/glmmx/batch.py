"""Many fits of one model: simulation studies, parametric bootstrap, many data sets.

A fitted model's design is prepared once; the Rust core refits it to each new response on
every core with the GIL released, each fit started from the original estimates, replicate k's
simulated response drawn from its own random stream. Results therefore do not depend on the
number of threads or on how replicates are split. With ``executor=`` (any
``concurrent.futures.Executor``, or a Dask ``distributed.Client``) the replicates are cut into
chunks, each chunk runs the same Rust batch on a worker, and the results come back in order:
the table equals the local one.
"""

from __future__ import annotations


import numpy as np

from glmmx import checks
from glmmx.exceptions import ModelSpecError


# ----------------------------------------------------------------------------------------------
# The model-specific part: how to rebuild the core, run it, and name what it returns
# ----------------------------------------------------------------------------------------------


def _aligned(a, dtype=float, order="C"):
    """Arrays arrive as a transport made them (e.g. Dask's unaligned buffers): restore the
    aligned, contiguous layout the core reads."""
    return None if a is None else np.require(a, dtype=dtype, requirements=[order, "A"])


class _GlmerBatch:
    """glmer fits: the core is a GlmmModel rebuilt from the design arrays."""

    def __init__(self, fit):
        self.fit = fit

    def payload(self) -> dict:
        f = self.fit
        return {"kind": "glmer", "args": f._core_args, "theta": np.asarray(f.theta, dtype=float),
                "beta": np.asarray(f.beta, dtype=float), "modes": f._modes, "n_agq": f.nagq, "max_iter": f._max_iter}

    def simulate(self, nsim: int, seed: int, params: dict | None = None) -> np.ndarray:
        theta, beta = self.parameters(params)
        core = self.fit._core
        return core.replicates(theta=list(theta), beta=list(beta), n_agq=self.fit.nagq).simulate(nsim=nsim, seed=seed, first=0)

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

    def simulate(self, nsim: int, seed: int, params: dict | None = None) -> np.ndarray:
        theta, beta = self.parameters(params)
        p = self.payload() | {"theta": list(map(float, theta)), "beta": list(map(float, beta))}
        return _replicates(p, self.local_core(p)).simulate(nsim=nsim, seed=seed, first=0)

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

    @staticmethod
    def mixing_args(payload):
        p = payload
        return {"alpha": p["alpha"], "beta": p["beta"], "points": _aligned(p["points"]), "masses": p["masses"], "chol": _aligned(p["chol"])}

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

    def original(self) -> np.ndarray:
        d = len(self.fit.z_names)
        rows, cols = np.tril_indices(d)
        order = np.lexsort((rows, cols))
        cov = self.fit._re_vcov
        return np.concatenate([self.fit.alpha, self.fit.beta, cov[rows[order], cols[order]]])


def _adapter(fit):
    from glmmx.glmer_crossed import GlmerCrossedResult
    from glmmx.lmer_result import LmerResult
    from glmmx.npmlt_result import NpmltResult
    from glmmx.results import GlmerResult

    if isinstance(fit, GlmerCrossedResult):
        return _GlmerCrossedBatch(fit)
    if isinstance(fit, GlmerResult):
        return _GlmerBatch(fit)
    if isinstance(fit, LmerResult):
        return _LmerBatch(fit)
    if isinstance(fit, NpmltResult):
        return _NpmltBatch(fit)
    raise ModelSpecError(f"{type(fit).__name__} has no batch path (refit_many/bootstrap)")


def _run_payload(payload, *, responses, nsim, seed, first, threads, progress, core=None):
    """Run one batch of the core described by `payload` (here or on an executor's worker)."""
    from glmmx import _core

    p = payload
    if responses is not None and p["kind"] == "lmer":
        responses = responses - np.asarray(p["offset"])[:, None]
    elif responses is not None and p["kind"] == "npmlt":
        responses = responses[np.asarray(p["order"])]
    if responses is not None:
        responses = np.require(responses, dtype=float, requirements="CA")
    batch = _core.Batch(responses=responses, nsim=nsim, seed=seed, first=first, threads=threads, progress=progress)
    if p["kind"] == "glmer":
        core = core or _glmer_core(p)
        replicates = core.replicates(theta=list(map(float, p["theta"])), beta=list(map(float, p["beta"])), n_agq=p["n_agq"],
                                     modes=_aligned(p["modes"]))
        return replicates.refit_many(batch=batch, max_iter=p["max_iter"])
    replicates = _replicates(p, core)
    if p["kind"] == "lmer":
        return replicates.refit_many(batch=batch, reml=p["reml"], max_iter=p["max_iter"])
    if p["kind"] == "glmer_crossed":
        return replicates.refit_many(batch=batch, max_iter=p["max_iter"])
    return replicates.refit_many(batch=batch, nagq=p["nagq"], max_iter=p["max_iter"], se=p["se"])


def _replicates(payload, core=None):
    """The replicates of an lmer, crossed glmer or npmlt fit (the core's data and the estimates
    in `payload`), from the fit's own core object when given, else one built from the payload."""
    from glmmx import _core

    p = payload
    if p["kind"] == "npmlt":
        core = core or _core.NpmltData(_aligned(p["y"], np.uint32), p["q"], _aligned(p["X"], order="F"), p["npo"],
                                       _aligned(p["Z"], order="F"), p["starts"], link=p["link"])
        return core.replicates(**_NpmltBatch.mixing_args(p))
    terms = ([_aligned(c, np.uint32) for c in p["codes"]], p["n_levels"], [_aligned(z, order="F") for z in p["Z"]])
    if p["kind"] == "lmer":
        core = core or _core.LmmModel(_aligned(p["y"]), _aligned(p["weights"]), _aligned(p["X"], order="F"), *terms)
        return core.replicates(theta=p["theta"], beta=p["beta"], sigma=p["sigma"])
    core = core or _core.SparseGlmm(_aligned(p["y"]), _aligned(p["m"]), _aligned(p["offset"]), _aligned(p["X"], order="F"), *terms,
                                    p["family"], p["link"])
    return core.replicates(theta=p["theta"], beta=p["beta"], n_agq=p["n_agq"])


def _glmer_core(payload):
    from glmmx import _core

    y, m, offset, X, Z, codes, n_levels, freq, rows, cols, family, link = payload["args"]
    core = _core.GlmmModel(
        _aligned(y), _aligned(m), _aligned(offset), _aligned(X, order="F"), _aligned(Z, order="F"),
        _aligned(codes, np.uint32), n_levels, _aligned(freq), _aligned(rows, np.uint32), _aligned(cols, np.uint32),
        family, link,
    )
    return core


def _run_chunk(payload, responses, seed, first, count, threads):
    """One chunk on an executor's worker: rebuild the core and refit `count` replicates."""
    return _run_payload(payload, responses=_aligned(responses), nsim=count, seed=seed, first=first, threads=threads, progress=None)


# ----------------------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------------------


def simulate(fit, nsim: int = 1, seed: int | None = None, params: dict | None = None) -> np.ndarray:
    """(nobs, nsim) responses drawn from the fitted model (or from ``params``); column k is
    the response ``bootstrap(seed=seed)`` refits as replicate k."""
    return _adapter(fit).simulate(checks.integer("nsim", nsim), checks.seed(seed), params)


def _chunks(total: int, size: int):
    return [(a, min(size, total - a)) for a in range(0, total, size)]


def _gather(parts: list[dict]) -> dict:
    out = {k: np.concatenate([p[k] for p in parts]) for k in ("estimates", "std_errors", "parameters", "loglik")}
    out["converged"] = [c for p in parts for c in p["converged"]]
    out["message"] = [m for p in parts for m in p["message"]]
    return out


def _run_executor(executor, payload, *, responses, n_rep, seed, chunk_size, progress):
    """Submit chunks to `executor`, keep the futures in order, and wait for them all."""
    from glmmx._progress import progress_bar

    size = chunk_size or max(1, -(-n_rep // 32))
    # a Dask client holds the payload once, as one object (scattering the dict itself would
    # scatter each value separately) under a fresh key per call (re-replicating a key already
    # held can stall busy workers); a plain executor pickles it with each chunk
    shared = executor.scatter([payload], hash=False)[0] if hasattr(executor, "scatter") else payload
    futures = []
    for first, count in _chunks(n_rep, size):
        block = None if responses is None else np.require(responses[:, first:first + count], dtype=float, requirements="CA")
        futures.append((count, executor.submit(_run_chunk, shared, block, seed, first, count, 1)))
    bar = progress_bar(n_rep, "refits") if progress else None
    parts = []
    for count, fut in futures:
        parts.append(fut.result())
        if bar:
            bar.update_to(sum(len(p["loglik"]) for p in parts))
    if bar:
        bar.close()
    return _gather(parts)


def _refit(adapter, *, responses, nsim, seed, threads, progress, executor, chunk_size):
    from glmmx import _core
    from glmmx._progress import run_with_progress

    threads = checks.threads(threads)
    payload = adapter.payload()
    n_rep = nsim if responses is None else responses.shape[1]
    if executor is not None:
        raw = _run_executor(executor, payload, responses=responses, n_rep=n_rep, seed=seed, chunk_size=chunk_size, progress=progress)
    else:
        counter = _core.Progress()
        core = adapter.local_core(payload)
        raw = run_with_progress(
            lambda: _run_payload(payload, responses=responses, nsim=n_rep, seed=seed, first=0, threads=threads, progress=counter, core=core),
            counter, n_rep, progress,
        )
    return _table(adapter, raw)


def _table(adapter, raw: dict):
    """Long table: one row per (replicate, term)."""
    import polars as pl

    est, se = raw["estimates"], raw["std_errors"]
    params = adapter.parameter_values(raw["parameters"])
    n_rep = est.shape[0]
    terms = adapter.estimate_names() + adapter.parameter_names()
    values = np.hstack([est, params])
    errors = np.hstack([se, np.full(params.shape, np.nan)])
    k = len(terms)
    return pl.DataFrame(
        {
            "sim": np.repeat(np.arange(n_rep), k),
            "term": np.tile(np.array(terms, dtype=object), n_rep).tolist(),
            "estimate": values.reshape(-1),
            "std_error": errors.reshape(-1),
            "loglik": np.repeat(raw["loglik"], k),
            "converged": np.repeat(np.asarray(raw["converged"], dtype=bool), k),
            "message": np.repeat(np.array(raw["message"], dtype=object), k).tolist(),
        }
    ).with_columns(pl.col("std_error").fill_nan(None))


def refit_many(fit, responses, *, threads=None, progress=True, executor=None, chunk_size=None):
    """Refit ``fit`` to every column of ``responses`` (nobs × nsim, e.g. from ``fit.simulate``).

    Returns a polars DataFrame with one row per (replicate, term): sim, term, estimate,
    std_error, loglik, converged, message. A replicate whose fit fails has converged = false
    and its message; the others are intact.
    """
    adapter = _adapter(fit)
    y = np.asarray(responses, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != adapter.n_rows():
        raise ModelSpecError(f"responses must be an array with {adapter.n_rows()} rows (one per observation used in the fit) and one column per replicate; got shape {np.shape(responses)}")
    return _refit(adapter, responses=np.require(y, dtype=float, requirements="CA"), nsim=y.shape[1], seed=0, threads=threads, progress=progress, executor=executor, chunk_size=chunk_size)


def bootstrap(fit, nsim: int = 1000, seed: int | None = None, *, threads=None, progress=True, executor=None, chunk_size=None):
    """Parametric bootstrap: ``nsim`` responses simulated from the fit, each refitted.

    Replicate k is the k-th column of ``fit.simulate(nsim, seed)``: the same table comes back
    for any number of threads, and with any ``executor``.
    """
    adapter = _adapter(fit)
    nsim, seed = checks.integer("nsim", nsim), checks.seed(seed)
    table = _refit(adapter, responses=None, nsim=nsim, seed=seed, threads=threads, progress=progress, executor=executor, chunk_size=chunk_size)
    names = adapter.estimate_names() + adapter.parameter_names()
    return BootstrapResult(table=table, original=dict(zip(names, map(float, adapter.original()))), seed=seed)


class BootstrapResult:
    """Parametric-bootstrap replicates (``table``) and the original estimates."""

    def __init__(self, table, original: dict[str, float], seed: int):
        self.table, self.original, self.seed = table, original, seed

    @property
    def n_converged(self) -> int:
        return int(self.table.filter(self.table["term"] == self.table["term"][0])["converged"].sum())

    def confint(self, level: float = 0.95, method: str = "percentile"):
        """Intervals from the converged replicates: ``"percentile"`` (quantiles of the
        replicates), ``"basic"`` (2·estimate minus them) or ``"normal"`` (estimate ± z·SD of
        the replicates). A polars DataFrame: term, estimate, lower, upper, n."""
        import polars as pl
        from scipy.stats import norm

        if not 0 < level < 1:
            raise ModelSpecError(f"level must be between 0 and 1, not {level!r}")
        if method not in ("percentile", "basic", "normal"):
            raise ModelSpecError(f"method must be 'percentile', 'basic' or 'normal', not {method!r}")
        alpha = (1 - level) / 2
        rows = []
        for term, est in self.original.items():
            v = self.table.filter((pl.col("term") == term) & pl.col("converged"))["estimate"].drop_nans().drop_nulls().to_numpy()
            if len(v) == 0:
                rows.append((term, est, np.nan, np.nan, 0))
                continue
            if method == "normal":
                half = norm.ppf(1 - alpha) * v.std(ddof=1)
                lo, hi = est - half, est + half
            else:
                q_lo, q_hi = np.quantile(v, [alpha, 1 - alpha])
                lo, hi = (q_lo, q_hi) if method == "percentile" else (2 * est - q_hi, 2 * est - q_lo)
            rows.append((term, est, float(lo), float(hi), len(v)))
        return pl.DataFrame(rows, schema=["term", "estimate", "lower", "upper", "n"], orient="row")

    def __repr__(self) -> str:
        n = self.table["sim"].n_unique()
        return f"<BootstrapResult: {n} replicates ({self.n_converged} converged), seed {self.seed}>"


def fit_many(formula: str, datasets, model: str = "glmer", *, by: str | None = None, threads=None, progress=True, **options):
    """Fit the same model to many data sets, in parallel.

    ``datasets`` is a list of DataFrames, or one DataFrame with a replicate column ``by``.
    Each fit runs in Rust without the GIL on one of ``threads`` worker threads. Returns the
    long table of ``refit_many`` with ``sim`` the data set's position (or its ``by`` value).

    Examples
    --------
    >>> import glmmx as gx
    >>> cbpp = gx.datasets.load("cbpp")
    >>> halves = [cbpp.filter(cbpp["herd"] <= 8), cbpp.filter(cbpp["herd"] > 8)]
    >>> res = gx.fit_many("cbind(incidence, size - incidence) ~ period + (1 | herd)", halves, progress=False)
    >>> res["sim"].unique().sort().to_list(), res["term"].unique(maintain_order=True).to_list()
    ([0, 1], ['(Intercept)', 'period2', 'period3', 'period4'])
    """
    import concurrent.futures as cf

    import polars as pl

    import glmmx as gx

    if model != "glmer":
        raise ModelSpecError(f"fit_many supports model='glmer' (lmer and npmlt come with their batch paths); got {model!r}")
    if by is not None:
        frame = pl.from_pandas(datasets) if type(datasets).__module__.startswith("pandas") else datasets
        keys = frame[by].unique(maintain_order=True).to_list()
        datasets = [frame.filter(pl.col(by) == k) for k in keys]
    else:
        keys = list(range(len(datasets)))
    n_workers = checks.threads(threads) or __import__("os").cpu_count() or 1

    def one(data):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return gx.glmer(formula, data=data, threads=1, **options)
            except Exception as exc:  # a failed data set is a row, not a lost batch
                return exc

    from glmmx._progress import progress_bar

    bar = progress_bar(len(datasets), "fits") if progress else None
    with cf.ThreadPoolExecutor(max_workers=n_workers) as pool:
        fits = []
        for i, f in enumerate(pool.map(one, datasets)):
            fits.append(f)
            if bar:
                bar.update_to(i + 1)
    if bar:
        bar.close()
    frames = []
    for key, f in zip(keys, fits):
        if isinstance(f, Exception):
            frames.append(pl.DataFrame({"sim": [key], "term": [None], "estimate": [None], "std_error": [None], "loglik": [None], "converged": [False], "message": [str(f)]}, schema_overrides={"term": pl.String, "estimate": pl.Float64, "std_error": pl.Float64, "loglik": pl.Float64}))
            continue
        ct = f.coef_table()
        frames.append(pl.DataFrame({"sim": [key] * ct.height, "term": ct["term"], "estimate": ct["estimate"], "std_error": ct["std_error"], "loglik": [f.loglik] * ct.height, "converged": [f.converged] * ct.height, "message": [f.message] * ct.height}))
    return pl.concat(frames, how="vertical_relaxed")
