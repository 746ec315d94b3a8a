"""pandas input without pyarrow: a pandas DataFrame read column by column into polars.

``polars.from_pandas`` needs pyarrow, which glmmx does not depend on. Here each column goes
through numpy: numeric and boolean columns as they are (NaN, as R's ``NA``, becomes null);
pandas' nullable types (``Int64``, ``boolean``, ``Float64``, ``string``) and object columns as
Python values with ``None`` for missing; categoricals as ``pl.Enum`` of their categories (in
the categories' order, which is the factor's level order); datetimes as polars datetimes. The
index is not read (as ``polars.from_pandas``). A column that holds values of several kinds is
refused by name.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from glmmx.exceptions import ModelSpecError


def is_pandas_frame(data) -> bool:
    return type(data).__module__.startswith("pandas") and type(data).__name__ == "DataFrame"


def ordered_categoricals(data) -> set[str]:
    """The columns of a pandas DataFrame that are ordered categoricals (R's ordered factors)."""
    if not is_pandas_frame(data):
        return set()
    return {str(name) for name, col in data.items() if str(col.dtype) == "category" and col.cat.ordered}


def from_pandas(data) -> pl.DataFrame:
    """The pandas DataFrame ``data`` as a polars DataFrame (column names as strings)."""
    names = [str(name) for name in data.columns]
    if len(set(names)) != len(names):
        raise ModelSpecError(f"the pandas DataFrame has duplicated column names: {names}")
    return pl.DataFrame([_column(name, data.iloc[:, j]) for j, name in enumerate(names)])


def _column(name: str, col) -> pl.Series:
    dtype = col.dtype
    kind = getattr(dtype, "kind", "O")
    if str(dtype) == "category":
        levels = [str(c) for c in dtype.categories]
        codes = col.cat.codes.to_numpy()
        labels = np.array(levels + [None], dtype=object)[np.where(codes < 0, len(levels), codes)]
        return pl.Series(name, labels, dtype=pl.String).cast(pl.Enum(levels))
    if isinstance(dtype, np.dtype) and kind in "biuf":
        values = col.to_numpy()
        series = pl.Series(name, values)
        return series.fill_nan(None) if kind == "f" else series
    if isinstance(dtype, np.dtype) and kind in "mM":
        return pl.Series(name, col.to_numpy())
    return _objects(name, col)


def _objects(name: str, col) -> pl.Series:
    """An object or pandas extension column: its values with None for every missing one."""
    values = col.astype(object).where(col.notna(), None).to_numpy(dtype=object)
    present = [v for v in values if v is not None]
    kinds = sorted({_kind(v) for v in present})
    if len(kinds) > 1:
        raise ModelSpecError(
            f"column {name!r} of the pandas DataFrame cannot be read ({' and '.join(kinds)} values mixed in "
            f"one object column); convert it to one type, e.g. df[{name!r}].astype(str)")
    if kinds == ["number"]:
        floats = any(isinstance(v, (float, np.floating)) for v in present)
        return pl.Series(name, [None if v is None else (float(v) if floats else int(v)) for v in values],
                         dtype=pl.Float64 if floats else pl.Int64).fill_nan(None)
    if kinds == ["bool"]:
        return pl.Series(name, [None if v is None else bool(v) for v in values], dtype=pl.Boolean)
    if kinds == ["str"] or not kinds:
        return pl.Series(name, values, dtype=pl.String)
    return pl.Series(name, list(values))  # dates and other single-kind values: polars infers


def _kind(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "number"
    if isinstance(value, str):
        return "str"
    return type(value).__name__
