"""Refits of one model to many responses: locally on the core's threads with the GIL released,
or in chunks on an executor, gathered into one long table (one row per replicate and term)."""

from __future__ import annotations

import numpy as np

from glmmx import checks
from glmmx.batch.adapters import adapter_of
from glmmx.batch.bootstrap import BootstrapResult
from glmmx.batch.cores import _run_chunk, _run_payload
from glmmx.exceptions import ModelSpecError


def simulate(fit, nsim: int = 1, seed: int | None = None, params: dict | None = None) -> np.ndarray:
    """(nobs, nsim) responses drawn from the fitted model (or from ``params``); column k is
    the response ``bootstrap(seed=seed)`` refits as replicate k."""
    adapter = adapter_of(fit)
    nsim = checks.integer("nsim", nsim)
    checks.memory(f"simulate(nsim={nsim:,}): an array of {adapter.n_rows():,} x {nsim:,} responses", 8.0 * adapter.n_rows() * nsim)
    return adapter.simulate(nsim, checks.seed(seed), params)


#: Bytes a replicate holds until its table is built: the core's estimates, standard errors,
#: parameters and message, then one table row per term (the term's name and message shared).
_REPLICATE_BYTES, _ROW_BYTES = 160, 64


def _check_replicates(adapter, n_rep: int, what: str) -> None:
    """MemoryError before any refit when the replicates' results would not fit in memory."""
    terms = len(adapter.estimate_names()) + len(adapter.parameter_names())
    checks.memory(f"{what}: the results of {n_rep:,} replicates ({n_rep * terms:,} table rows)",
                  float(n_rep) * (_REPLICATE_BYTES + 16 * terms + _ROW_BYTES * terms))


def _chunks(total: int, size: int):
    return [(a, min(size, total - a)) for a in range(0, total, size)]


def _gather(parts: list[dict]) -> dict:
    out = {k: np.concatenate([p[k] for p in parts]) for k in ("estimates", "std_errors", "parameters", "loglik")}
    out["converged"] = [c for p in parts for c in p["converged"]]
    out["message"] = [m for p in parts for m in p["message"]]
    return out


def _run_executor(executor, payload, *, responses, n_rep, seed, chunk_size, progress):
    """Submit chunks to `executor`, keep the futures in order, and wait for them all."""
    from glmmx.report.progress import progress_bar

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
    from glmmx.report.progress import run_with_progress

    threads = checks.threads(threads)
    n_rep = nsim if responses is None else responses.shape[1]
    _check_replicates(adapter, n_rep, "bootstrap" if responses is None else "refit_many")
    payload = adapter.payload()
    if executor is not None:
        raw = _run_executor(executor, payload, responses=responses, n_rep=n_rep, seed=seed, chunk_size=chunk_size, progress=progress)
    else:
        counter = _core.Progress()
        core = adapter.local_core(payload)
        raw = run_with_progress(
            lambda: _run_payload(payload, responses=responses, nsim=n_rep, seed=seed, first=0, threads=threads, progress=counter, core=core),
            counter, n_rep, progress,
        )
    _mark_separated(adapter, raw, responses, n_rep, seed)
    return _table(adapter, raw)


def _mark_separated(adapter, raw: dict, responses, n_rep: int, seed: int) -> None:
    """Replicates whose response is separated (``design.separation``) marked not converged,
    with the reason as their message: their estimates are where the optimiser stopped on a
    likelihood with no maximum. The simulated responses are drawn again, a block at a time."""
    raw["separated"] = [False] * n_rep
    if not adapter.separable:
        return
    block = max(1, 20_000_000 // max(1, adapter.n_rows()))
    raw["converged"], raw["message"] = list(raw["converged"]), list(raw["message"])
    for first, count in _chunks(n_rep, block):
        y = responses[:, first:first + count] if responses is not None else adapter.simulate(count, seed, None, first)
        for k, why in enumerate(adapter.separation(y), start=first):
            if why is not None:
                raw["separated"][k] = True
                raw["converged"][k] = False
                raw["message"][k] = why if not raw["message"][k] else f"{why}; {raw['message'][k]}"


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
            "separated": np.repeat(np.asarray(raw["separated"], dtype=bool), k),
            "message": np.repeat(np.array(raw["message"], dtype=object), k).tolist(),
        }
    ).with_columns(pl.col("std_error").fill_nan(None))


def refit_many(fit, responses, *, threads=None, progress=True, executor=None, chunk_size=None):
    """Refit ``fit`` to every column of ``responses`` (nobs × nsim, e.g. from ``fit.simulate``).

    Returns a polars DataFrame with one row per (replicate, term): sim, term, estimate,
    std_error, loglik, converged, separated, message. A replicate whose fit fails, or whose
    binomial response is separated (no maximum exists), has converged = false and its message;
    the others are intact.
    """
    adapter = adapter_of(fit)
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

    Examples
    --------
    >>> import glmmx as gx
    >>> cbpp = gx.datasets.load("cbpp")
    >>> fit = gx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", data=cbpp)
    >>> boot = fit.bootstrap(nsim=20, seed=1, progress=False)
    >>> boot.table.columns
    ['sim', 'term', 'estimate', 'std_error', 'loglik', 'converged', 'separated', 'message']
    >>> boot.table.equals(fit.bootstrap(nsim=20, seed=1, threads=1, progress=False).table)
    True
    """
    adapter = adapter_of(fit)
    nsim, seed = checks.integer("nsim", nsim), checks.seed(seed)
    table = _refit(adapter, responses=None, nsim=nsim, seed=seed, threads=threads, progress=progress, executor=executor, chunk_size=chunk_size)
    names = adapter.estimate_names() + adapter.parameter_names()
    n_separated = int(table.filter(table["term"] == names[0])["separated"].sum())
    if n_separated:
        import warnings

        from glmmx.exceptions import FitWarning

        warnings.warn(f"{n_separated} of {nsim} bootstrap replicates are separated (their likelihood has no maximum); "
                      "they are marked converged=False and left out of confint(), which counts them in n_separated",
                      FitWarning, stacklevel=3)
    return BootstrapResult(table=table, original=dict(zip(names, map(float, adapter.original()))), seed=seed)
