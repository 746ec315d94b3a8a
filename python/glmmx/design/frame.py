"""The model frame: every variable a model uses, evaluated on the data, rows with missing values dropped.

As R's ``model.frame``: only the columns the model uses are read (collected, for a LazyFrame),
NaN counts as missing, ``scale()`` is computed on all rows, and a row with a missing value in any
variable or argument (``weights=``, ...) is dropped or, with ``na_action="fail"``, an error.

Variables are polars Series keyed by their R label. A bare column is used as it is; simple
arithmetic, comparisons and logic of columns (``I(HR > baseHR)``, ``size - incidence``) are
computed with polars' Series operators, which are the kernels its expressions use; everything
else is evaluated in one ``select`` (each ``select`` costs tens of microseconds).
"""

from __future__ import annotations

import difflib
import operator
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from glmmx.design.pandas_input import from_pandas, is_pandas_frame
from glmmx.formula.parse import Expr
from glmmx.exceptions import FitWarning, ModelSpecError

__all__ = ["ModelFrame", "as_frame", "columns_used", "evaluate", "model_frame", "read_columns"]


@dataclass(frozen=True)
class ModelFrame:
    """Evaluated variables by label (and ``"(weights)"``-style arguments)."""

    values: dict[str, pl.Series]  # rows kept
    every_row: dict[str, pl.Series]  # before dropping rows (R evaluates factor() on all rows)
    n_rows: int
    row_index: np.ndarray
    scaling: Mapping[str, tuple[float, float]]


# ----------------------------------------------------------------------------------------------
# Reading the data
# ----------------------------------------------------------------------------------------------


def as_frame(data: Any) -> pl.DataFrame | pl.LazyFrame:
    if isinstance(data, (pl.DataFrame, pl.LazyFrame)):
        return data
    if is_pandas_frame(data):
        return from_pandas(data)
    raise ModelSpecError(
        f"data must be a polars DataFrame or LazyFrame or a pandas DataFrame, not {type(data).__name__}"
    )


def _check_columns(needed: Iterable[str], available: list[str]) -> None:
    for name in needed:
        if name not in available:
            close = difflib.get_close_matches(name, available, n=3, cutoff=0.6)
            close += [c for c in available if c.lower() == name.lower() and c not in close]
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            shown = ", ".join(available[:30]) + (", ..." if len(available) > 30 else "")
            raise ModelSpecError(f"column {name!r} not found in data{hint} (columns: {shown})")


def columns_used(variables: Iterable[Expr], args: Mapping[str, Any]) -> list[str]:
    used = [c for v in variables for c in sorted(v.variables())]
    return list(dict.fromkeys(used + [v for v in args.values() if isinstance(v, str)]))


def read_columns(frame: pl.DataFrame | pl.LazyFrame, used: list[str]) -> tuple[dict[str, pl.Series], int]:
    """The columns used, with NaN read as missing, and the number of rows."""
    if isinstance(frame, pl.LazyFrame):
        _check_columns(used, frame.collect_schema().names())
        if not used:
            return {}, frame.select(pl.len()).collect().item()
        frame = frame.select(used).collect()
    else:
        available = frame.columns
        if not set(used).issubset(available):
            _check_columns(used, available)
    return {c: _nan_as_null(frame.get_column(c)) for c in used}, frame.height


def _nan_as_null(s: pl.Series) -> pl.Series:
    if not s.dtype.is_float():
        return s
    if not s.null_count() and not np.isnan(s.to_numpy()).any():
        return s
    return s.fill_nan(None)


# ----------------------------------------------------------------------------------------------
# Evaluating variables
# ----------------------------------------------------------------------------------------------

_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_COMPARE = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}
_COMPARE |= {"==": operator.eq, "!=": operator.ne}
_LOGIC = {"&": operator.and_, "&&": operator.and_, "|": operator.or_, "||": operator.or_}
from glmmx.formula.parse import PASS_THROUGH as _PASS_THROUGH  # noqa: E402


def _series_value(e: Expr, raw: Mapping[str, pl.Series]) -> pl.Series | float | str | bool | None:
    """``e`` computed with Series operators as ``Expr.to_polars`` would compute it, a constant's
    value, or None if the expression is outside this simple subset."""
    kind = e.kind
    if kind == "name":
        return raw[str(e.value)]
    if kind == "const":
        return e.value  # type: ignore[return-value]
    if kind == "paren" or e.is_call(*_PASS_THROUGH):
        return _series_value(e.args[0], raw)
    if kind == "unary":
        x = _series_value(e.args[0], raw)
        if not isinstance(x, pl.Series):
            return None
        if e.op == "!":
            return ~x if x.dtype == pl.Boolean else None
        return -x.cast(pl.Float64) if e.op == "-" else x.cast(pl.Float64)
    if kind != "binary" or not (e.op in _ARITHMETIC or e.op in _COMPARE or e.op in _LOGIC):
        return None
    a, b = (_series_value(x, raw) for x in e.args)
    if not (isinstance(a, pl.Series) or isinstance(b, pl.Series)) or a is None or b is None:
        return None
    if e.op in _ARITHMETIC:
        fa, fb = _as_float(a), _as_float(b)
        return None if fa is None or fb is None else _ARITHMETIC[e.op](fa, fb)
    if e.op in _COMPARE:
        return _COMPARE[e.op](a, b) if _comparable(a, b) else None
    both = isinstance(a, pl.Series) and isinstance(b, pl.Series)
    return _LOGIC[e.op](a, b) if both and a.dtype == b.dtype == pl.Boolean else None


def _as_float(x: pl.Series | float | str | bool) -> pl.Series | float | None:
    if isinstance(x, pl.Series):
        return x.cast(pl.Float64)
    return float(x) if isinstance(x, (int, float)) else None


def _kind(x: pl.Series | float | str | bool) -> str:
    if isinstance(x, pl.Series):
        dtype = x.dtype
        return "number" if dtype.is_numeric() else "text" if dtype == pl.String else "other"
    if isinstance(x, bool):
        return "other"
    return "number" if isinstance(x, (int, float)) else "text" if isinstance(x, str) else "other"


def _comparable(a: pl.Series | float | str | bool, b: pl.Series | float | str | bool) -> bool:
    kind = _kind(a)
    return kind != "other" and kind == _kind(b)


def _select(raw: Mapping[str, pl.Series], exprs: Mapping[str, pl.Expr]) -> dict[str, pl.Series]:
    """``exprs`` evaluated in one ``select`` on the columns ``raw``."""
    frame = pl.DataFrame(list(raw.values()))
    try:
        out = frame.select(e.alias(k) for k, e in exprs.items())
    except pl.exceptions.PolarsError:
        for k, e in exprs.items():
            try:
                frame.select(e)
            except pl.exceptions.PolarsError as err:
                raise ModelSpecError(f"cannot evaluate {k}: {err}") from None
        raise
    return {k: out.get_column(k) for k in exprs}


def evaluate(
    raw: Mapping[str, pl.Series], variables: Mapping[str, Expr], scaling: Mapping[str, tuple[float, float]], n: int
) -> dict[str, pl.Series]:
    """Each variable as a Series of ``n`` rows named by its label."""
    out: dict[str, pl.Series] = {}
    rest: dict[str, pl.Expr] = {}
    for label, e in variables.items():
        try:
            value = _series_value(e, raw)
        except Exception:  # noqa: BLE001 - the select below reports the error
            value = None
        if isinstance(value, pl.Series):
            out[label] = value if value.name == label else value.alias(label)
        else:
            rest[label] = e.to_polars(scaling)
    if rest:
        for label, s in _select(raw, rest).items():
            out[label] = s if len(s) == n else pl.repeat(s[0], n, dtype=s.dtype, eager=True).alias(label)
    return {label: out[label] for label in variables}


def _scaling(variables: Iterable[Expr], raw: Mapping[str, pl.Series]) -> dict[str, tuple[float, float]]:
    """Centre and scale of every ``scale(x)``, from all non-missing x (as R's model.frame)."""
    out: dict[str, tuple[float, float]] = {}
    calls = {s.label: s for v in variables for s in v.subexpressions() if s.is_call("scale")}
    for label, call in calls.items():
        x = _select(raw, {label: call.args[0].to_polars(out).cast(pl.Float64)})[label]
        x = x.drop_nulls().drop_nans().to_numpy()
        if len(x) == 0:
            raise ModelSpecError(f"{label}: no non-missing values to centre and scale")
        centre = float(x.mean())
        out[label] = (centre, float(np.sqrt(np.sum((x - centre) ** 2) / max(1, len(x) - 1))))
    return out


def _argument(name: str, value: Any, raw: Mapping[str, pl.Series], n: int) -> pl.Series:
    """A ``weights=``-style argument, a column name or an array aligned with the data's rows."""
    if isinstance(value, str):
        return raw[value].alias(f"({name})")
    values = value if isinstance(value, pl.Series) else pl.Series(np.asarray(value))
    if len(values) != n:
        raise ModelSpecError(f"{name} has length {len(values)} but data has {n} rows")
    return values.alias(f"({name})")


# ----------------------------------------------------------------------------------------------
# Missing and infinite values
# ----------------------------------------------------------------------------------------------


def _missing(columns: Mapping[str, pl.Series]) -> tuple[np.ndarray | None, list[str]]:
    """Rows with a null (or NaN) anywhere, None if there are none, and the columns that have one."""
    drop, where = None, []
    for label, s in columns.items():
        if s.dtype.is_float():
            x = s.to_numpy()  # nulls read as NaN
            rows = np.isnan(x) if s.null_count() or not np.isfinite(x).all() else None
        else:
            rows = s.is_null().to_numpy() if s.null_count() else None
        if rows is not None and rows.any():
            where.append(label)
            drop = rows if drop is None else drop | rows
    return drop, where


def _warn_nan_produced(variables: Mapping[str, Expr], raw: Mapping[str, pl.Series], every_row: Mapping[str, pl.Series]) -> None:
    """Warn (as R's "NaNs produced") where a transform gives NaN on rows whose inputs are all
    present: those rows are dropped as missing, which the user should hear of."""
    for label, expr in variables.items():
        if expr.kind == "name" or label not in every_row:
            continue
        produced, _ = _missing({label: every_row[label]})
        if produced is None:
            continue
        inputs, _ = _missing({c: raw[c] for c in expr.variables() if c in raw})
        if inputs is not None:
            produced = produced & ~inputs
        if produced.any():
            rows = np.flatnonzero(produced)
            warnings.warn(
                f"{label} produced NaN in {rows.size} of {produced.size} rows whose inputs are present (first at row "
                f"{rows[0]}, 0-based); as with R's 'NaNs produced', those rows are dropped as missing",
                FitWarning, stacklevel=4)


def _check_finite(values: Mapping[str, pl.Series], rows: np.ndarray) -> None:
    for c, s in values.items():
        if c == "(id)" or not s.dtype.is_float():
            continue
        x = s.to_numpy()
        if not np.isfinite(x).all():
            i = int(np.flatnonzero(np.isinf(x))[0])
            raise ModelSpecError(
                f"{c} is infinite (value {x[i]}) at row {rows[i]} of the data "
                "(0-based); transform or drop such rows"
            )


def model_frame(
    frame: pl.DataFrame | pl.LazyFrame, variables: Mapping[str, Expr], args: Mapping[str, Any], na_action: str
) -> ModelFrame:
    """Read, evaluate, and drop the rows with a missing value in any variable or argument."""
    raw, n_rows = read_columns(frame, columns_used(variables.values(), args))
    if n_rows == 0:
        raise ModelSpecError("the data have no rows")
    scaling = _scaling(variables.values(), raw)
    every_row = evaluate(raw, variables, scaling, n_rows)
    every_row |= {f"({k})": _argument(k, v, raw, n_rows) for k, v in args.items()}
    _warn_nan_produced(variables, raw, every_row)
    drop, where = _missing(every_row)
    if drop is None:
        values, keep = every_row, np.arange(n_rows, dtype=np.int64)
    else:
        if na_action == "fail":
            raise ModelSpecError(f"missing values in {', '.join(where)} (na_action='fail')")
        if drop.all():
            raise ModelSpecError(
                f"no rows left after dropping {len(drop)} rows with missing values in {', '.join(where)}"
            )
        kept = pl.Series(~drop)
        values = {k: s.filter(kept) for k, s in every_row.items()}
        keep = np.flatnonzero(~drop).astype(np.int64)
    _check_finite(values, keep)
    return ModelFrame(values, every_row, n_rows, keep, scaling)
