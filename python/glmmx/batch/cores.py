"""The cores of a batch rebuilt from a payload (plain arrays and numbers, picklable, as an
executor ships it to a worker) and one batch run on them. Knows the payload kinds, not the
result classes."""

from __future__ import annotations

import numpy as np


def _aligned(a, dtype=float, order="C"):
    """Arrays arrive as a transport made them (e.g. Dask's unaligned buffers): restore the
    aligned, contiguous layout the core reads."""
    return None if a is None else np.require(a, dtype=dtype, requirements=[order, "A"])


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
        return core.replicates(**_mixing_args(p))
    terms = ([_aligned(c, np.uint32) for c in p["codes"]], p["n_levels"], [_aligned(z, order="F") for z in p["Z"]])
    if p["kind"] == "lmer":
        core = core or _core.LmmModel(_aligned(p["y"]), _aligned(p["weights"]), _aligned(p["X"], order="F"), *terms)
        return core.replicates(theta=p["theta"], beta=p["beta"], sigma=p["sigma"])
    core = core or _core.SparseGlmm(_aligned(p["y"]), _aligned(p["m"]), _aligned(p["offset"]), _aligned(p["X"], order="F"), *terms,
                                    p["family"], p["link"])
    return core.replicates(theta=p["theta"], beta=p["beta"], n_agq=p["n_agq"])


def _mixing_args(p):
    """The npmlt replicates' mixing distribution and estimates from a payload."""
    return {"alpha": p["alpha"], "beta": p["beta"], "points": _aligned(p["points"]), "masses": p["masses"], "chol": _aligned(p["chol"])}


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
