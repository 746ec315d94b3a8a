"""Aggregated data: tables where one row-group stands for several identical clusters."""

from __future__ import annotations

from glmmx.exceptions import ModelSpecError


def uncount(data, weights: str, *, id: str | list[str], new_id: str = "id_expanded"):
    """Expand an aggregated table: each cluster (rows sharing ``id``) is repeated as many
    times as its count in ``weights``, and every copy gets its own cluster identifier.

    ``glmer(..., group_weights=...)`` fits the aggregated table directly, with the same
    estimates and log-likelihood and a fraction of the work; ``uncount`` is for users who want
    the long form anyway. The new identifier (column ``new_id``) is ``"<id>.<copy>"``, unique
    per copy: numbering rows instead (a per-row counter as the child id) would merge rows of
    unrelated clusters into one cluster and fit a different model.

    Parameters
    ----------
    data : polars.DataFrame (or pandas.DataFrame)
        The aggregated table, one row per (cluster pattern, occasion).
    weights : str
        Column with the number of clusters each pattern stands for; constant within a cluster.
    id : str or list of str
        Column(s) identifying a cluster pattern in the aggregated table.
    new_id : str
        Name of the identifier column added to the result.

    Examples
    --------
    >>> import polars as pl
    >>> agg = pl.DataFrame({"pattern": [1, 1, 2, 2], "wave": [1, 2, 1, 2], "y": [0, 1, 1, 1], "n": [2, 2, 1, 1]})
    >>> uncount(agg, "n", id="pattern").select("id_expanded", "wave", "y").to_dicts()[:4]
    [{'id_expanded': '1.1', 'wave': 1, 'y': 0}, {'id_expanded': '1.1', 'wave': 2, 'y': 1}, {'id_expanded': '1.2', 'wave': 1, 'y': 0}, {'id_expanded': '1.2', 'wave': 2, 'y': 1}]
    """
    import polars as pl

    from glmmx.design.pandas_input import from_pandas, is_pandas_frame

    df = from_pandas(data) if is_pandas_frame(data) else data
    ids = [id] if isinstance(id, str) else list(id)
    for col in [weights, *ids]:
        if col not in df.columns:
            raise ModelSpecError(f"column {col!r} is not in the data; columns are {', '.join(df.columns)}")
    counts = df.group_by(ids, maintain_order=True).agg(pl.col(weights).n_unique().alias("_k"), pl.col(weights).first().alias("_n"))
    if (counts["_k"] > 1).any():
        raise ModelSpecError(f"{weights} must be constant within each cluster ({', '.join(ids)})")
    if counts["_n"].is_null().any() or (counts["_n"] < 0).any() or (counts["_n"] != counts["_n"].round(0)).any():
        raise ModelSpecError(f"{weights} must hold non-negative integer counts")
    key = pl.concat_str([pl.col(c).cast(pl.String) for c in ids], separator=":")
    copy = pl.int_ranges(1, pl.col(weights).cast(pl.Int64) + 1)
    return (
        df.with_columns(_copy=copy)
        .explode("_copy")
        .drop_nulls("_copy")
        .with_columns(pl.concat_str([key, pl.col("_copy").cast(pl.String)], separator=".").alias(new_id))
        .sort([*ids, "_copy"], maintain_order=True)
        .drop("_copy")
    )
