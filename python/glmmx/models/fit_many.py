"""``fit_many``: the same model fitted to many data sets in parallel, one long table back."""

from __future__ import annotations

from glmmx import checks
from glmmx.exceptions import ModelSpecError


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

    from glmmx.models.glmer import glmer

    if model != "glmer":
        raise ModelSpecError(f"fit_many supports model='glmer' (lmer and npmlt come with their batch paths); got {model!r}")
    if by is not None:
        from glmmx.design.pandas_input import from_pandas, is_pandas_frame

        frame = from_pandas(datasets) if is_pandas_frame(datasets) else datasets
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
                return glmer(formula, data=data, threads=1, **options)
            except Exception as exc:  # a failed data set is a row, not a lost batch
                return exc

    from glmmx.report.progress import progress_bar

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
