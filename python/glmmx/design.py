"""From a parsed formula and a data frame to float64 model matrices with R's column names.

``build_design`` follows lme4's ``lFormula``: one model frame holds every variable the model
uses (evaluated with polars expressions, ``scale()`` on all rows as R's ``model.frame`` does),
rows with a missing value in any of them are dropped, factors get treatment contrasts by R's
rule (``?terms.object``: a factor in term T is coded by contrasts iff T without it is empty or
contained in an earlier term; without an intercept the first factor gets indicators), columns
of an interaction vary the first variable fastest, and aliased columns are dropped as lme4's
``chkRank.drop.cols`` does. Random-effects terms give level codes ``0..n_levels-1`` and a
dense ``Z`` block per term.

Factor levels follow R: ``Enum`` columns keep their category order; strings and categoricals are
sorted as R sorts text under ICU (the collation R uses in UTF-8 locales): case-insensitively
first, then accents, then lowercase before uppercase, with punctuation before digits before
letters; this is exact for ASCII and approximate beyond it. Numbers (``factor(x)``, numeric
grouping factors) sort numerically and are labelled as R's ``as.character`` labels them;
booleans and comparisons are R logicals with levels ``FALSE``, ``TRUE``.
"""

from __future__ import annotations

import difflib
import math
import unicodedata
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import polars as pl

from glmmx.exceptions import FitWarning, ModelSpecError
from glmmx.formula import Expr, Formula, ModelTerms, RandomTerm, format_r_number, parse_formula, parse_rhs

__all__ = [
    "Design",
    "DesignSpec",
    "ModelMatrix",
    "NewDesign",
    "RandomBlock",
    "build_design",
    "factor_levels",
    "model_matrix",
    "r_sort_key",
]

UNSEEN = np.uint32(0xFFFFFFFF)
_ARGS = ("weights", "group_weights", "id")

# ----------------------------------------------------------------------------------------------
# Factor levels in R's order
# ----------------------------------------------------------------------------------------------

_PRIMARY = {c: i for i, c in enumerate("\t\n\v\f\r _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789")}


def r_sort_key(s: str) -> tuple[tuple, tuple, tuple, str]:
    """Key sorting strings as R does under ICU collation (``sort(c("b", "A", "a"))`` -> a A b).

    Compared first by letters ignoring case and accents (punctuation < digits < letters), then
    by accents, then by case (lowercase first).
    """
    primary, secondary, tertiary = [], [], []
    for ch in unicodedata.normalize("NFD", s):
        if unicodedata.combining(ch) and secondary:
            secondary[-1] += (ord(ch),)
            continue
        for base in ch.casefold():
            primary.append(_PRIMARY.get(base, 100 + ord(base)))
            secondary.append(())
            tertiary.append(int(ch != ch.casefold()))
    return tuple(primary), tuple(secondary), tuple(tertiary), s


def _labels(values: pl.Series) -> pl.Series:
    """Values as the strings R would use for factor levels (``as.character``)."""
    dtype = values.dtype
    if dtype == pl.Boolean:
        return values.replace_strict([False, True], ["FALSE", "TRUE"], return_dtype=pl.String)
    if dtype.is_float():
        distinct = values.drop_nulls().drop_nans().unique().to_list()
        text = [format_r_number(v) for v in distinct]
        return values.replace_strict(distinct, text, default=None, return_dtype=pl.String)
    return values.cast(pl.String)


def factor_levels(values: pl.Series, drop_unused: bool = True) -> tuple[str, ...]:
    """R's levels of ``factor(values)`` (of ``values`` itself for an Enum), as strings.

    Enum: its categories (those present if ``drop_unused``); boolean: FALSE, TRUE; numbers:
    numeric order, labelled as R's ``as.character``; strings: sorted by ``r_sort_key``.

    Examples
    --------
    >>> import polars as pl
    >>> factor_levels(pl.Series(["b", "B", "a"])), factor_levels(pl.Series([10.0, 9.0, 1e5]))
    (('a', 'b', 'B'), ('9', '10', '1e+05'))
    """
    dtype = values.dtype
    if dtype == pl.Boolean:
        return ("FALSE", "TRUE")
    if isinstance(dtype, pl.Enum):
        present = set(values.drop_nulls().cast(pl.String).unique()) if drop_unused else None
        return tuple(c for c in dtype.categories if present is None or c in present)
    distinct = values.drop_nulls()
    if dtype.is_numeric():
        distinct = distinct.drop_nans() if dtype.is_float() else distinct
        return tuple(dict.fromkeys(_labels(distinct.unique().sort())))
    return tuple(sorted(distinct.cast(pl.String).unique(), key=r_sort_key))


def _codes(values: pl.Series, levels: tuple[str, ...], what: str) -> np.ndarray:
    """Level indices as float64 (NaN where missing); a value outside ``levels`` is an error."""
    labels = _labels(values)
    codes = labels.replace_strict(levels, range(len(levels)), default=None, return_dtype=pl.Float64)
    unknown = labels.filter(codes.is_null() & labels.is_not_null())
    if len(unknown):
        raise ModelSpecError(
            f"{what} has level {unknown[0]!r}, not seen in the data the model "
            f"was built on (levels: {', '.join(levels)})"
        )
    return codes.fill_null(np.nan).to_numpy()


def _is_factor(expr: Expr, values: pl.Series) -> bool:
    dtype = values.dtype
    if expr.is_call("factor", "as.factor") or dtype in (pl.String, pl.Categorical, pl.Boolean):
        return True
    if isinstance(dtype, pl.Enum):
        return True
    if not dtype.is_numeric():
        raise ModelSpecError(
            f"variable {expr.label} has type {dtype}, which is neither numeric "
            "nor a factor (string, categorical, enum, boolean)"
        )
    return False


# ----------------------------------------------------------------------------------------------
# Term codings and model matrices
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelMatrix:
    """A model matrix with R's column names and ``assign`` (term index, 0 = intercept)."""

    X: np.ndarray
    names: tuple[str, ...]
    assign: tuple[int, ...]
    term_labels: tuple[str, ...]


@dataclass(frozen=True)
class _TermCoding:
    """How a ModelTerms block becomes columns: per term and variable, contrasts or indicators."""

    terms: ModelTerms
    contrasts: tuple[tuple[bool, ...], ...]

    @classmethod
    def of(cls, terms: ModelTerms, factors: Mapping[str, tuple[str, ...]]) -> _TermCoding:
        """R's rule: variable v of term T is coded by contrasts iff T without v is empty or is
        contained in an earlier term; with no intercept, the first factor met gets indicators."""
        sets = [frozenset(v.label for v in t) for t in terms.terms]
        flags = [
            [_contained(s - {v.label}, sets[:j]) for v in t]
            for j, (t, s) in enumerate(zip(terms.terms, sets))
        ]
        if not terms.intercept:
            first = [(j, i) for j, t in enumerate(terms.terms) for i, v in enumerate(t) if v.label in factors]
            if first:
                flags[first[0][0]][first[0][1]] = False
        return cls(terms, tuple(tuple(f) for f in flags))

    def matrix(
        self, columns: Mapping[str, np.ndarray], factors: Mapping[str, tuple[str, ...]], n: int
    ) -> ModelMatrix:
        """Columns named as R's ``model.matrix`` names them; ``columns`` holds values or codes."""
        names, cols, assign = [], [], []
        if self.terms.intercept:
            names, cols, assign = ["(Intercept)"], [np.ones(n)], [0]
        for j, (term, flags) in enumerate(zip(self.terms.terms, self.contrasts), start=1):
            block = [("", np.ones(n))]
            for v, contrast in zip(term, flags):
                var_cols = _variable_columns(v.label, columns[v.label], factors.get(v.label), contrast)
                block = [(f"{n0}:{n1}" if n0 else n1, c0 * c1) for n1, c1 in var_cols for n0, c0 in block]
            names += [name for name, _ in block]
            cols += [c for _, c in block]
            assign += [j] * len(block)
        X = np.empty((n, len(cols)), order="F")
        for k, c in enumerate(cols):
            X[:, k] = c
        return ModelMatrix(X, tuple(names), tuple(assign), self.terms.term_labels)


def _contained(rest: frozenset[str], earlier: list[frozenset[str]]) -> bool:
    return not rest or any(rest <= e for e in earlier)


def _variable_columns(
    label: str, values: np.ndarray, levels: tuple[str, ...] | None, contrast: bool
) -> list[tuple[str, np.ndarray]]:
    if levels is None:
        return [(label, values)]
    missing = np.isnan(values)
    indicator = lambda k: np.where(missing, np.nan, values == k)
    first = 1 if contrast else 0
    return [(label + levels[k], indicator(k)) for k in range(first, len(levels))]


def _independent_columns(X: np.ndarray, tol: float = 1e-7) -> list[int]:
    """Columns not within ``tol`` (relative to their norm) of the span of earlier kept columns.

    The sequential, pivot-free test of R's ``qr(X, tol = 1e-7)`` (LINPACK ``dqrdc2``), which
    keeps the earlier of two aliased columns.
    """
    basis = np.empty(X.shape, order="F")
    keep: list[int] = []
    for j in range(X.shape[1]):
        x, Q = X[:, j], basis[:, : len(keep)]
        r = x - Q @ (Q.T @ x)
        r -= Q @ (Q.T @ r)  # second pass keeps the basis orthogonal to working precision
        norm = np.linalg.norm(r)
        if norm >= tol * (np.linalg.norm(x) or 1.0):
            basis[:, len(keep)] = r / norm
            keep.append(j)
    return keep


# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RandomBlock:
    """One random-effects term: grouping factor level codes and its dense model matrix ``Z``."""

    group: str
    levels: tuple[str, ...]
    codes: np.ndarray
    Z: np.ndarray
    names: tuple[str, ...]
    correlated: bool


@dataclass(frozen=True)
class _RandomSpec:
    term: RandomTerm
    coding: _TermCoding
    levels: tuple[str, ...]


@dataclass(frozen=True)
class DesignSpec:
    """What ``model_matrix`` needs to code new data exactly as the training data were coded."""

    formula: Formula
    factors: Mapping[str, tuple[str, ...]]
    scaling: Mapping[str, tuple[float, float]]
    fixed: _TermCoding
    x_keep: tuple[int, ...]
    x_names: tuple[str, ...]
    random: tuple[_RandomSpec, ...]


@dataclass(frozen=True)
class Design:
    """The numbers a fit needs, in R's layout; see ``build_design``."""

    n: int
    n_dropped: int
    row_index: np.ndarray
    response: pl.Series | None
    response_cbind: tuple[np.ndarray, np.ndarray] | None
    X: np.ndarray
    x_names: tuple[str, ...]
    x_assign: tuple[int, ...]
    term_labels: tuple[str, ...]
    dropped_columns: tuple[str, ...]
    offset: np.ndarray | None
    random: tuple[RandomBlock, ...]
    weights: np.ndarray | None
    group_weights: np.ndarray | None
    id: pl.Series | None
    spec: DesignSpec
    extra: tuple[pl.Series | ModelMatrix, ...] = field(default=())


@dataclass(frozen=True)
class NewDesign:
    """New data coded like the training data: ``X``, the offset, and ``(codes, Z)`` per block."""

    X: np.ndarray
    offset: np.ndarray | None
    random: tuple[tuple[np.ndarray, np.ndarray], ...] | None


# ----------------------------------------------------------------------------------------------
# The model frame: every variable evaluated, rows with missing values dropped
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    values: pl.DataFrame  # evaluated variables (by label) and "(weights)"-style arguments, rows kept
    every_row: pl.DataFrame  # the same before dropping rows (R evaluates factor() on all rows)
    row_index: np.ndarray
    scaling: Mapping[str, tuple[float, float]]


def _as_frame(data: Any) -> pl.DataFrame | pl.LazyFrame:
    if isinstance(data, (pl.DataFrame, pl.LazyFrame)):
        return data
    if type(data).__module__.startswith("pandas") and type(data).__name__ == "DataFrame":
        categories = {
            name: [str(c) for c in col.cat.categories]
            for name, col in data.items()
            if str(col.dtype) == "category"
        }
        frame = pl.from_pandas(data)
        return frame.with_columns(pl.col(k).cast(pl.String).cast(pl.Enum(v)) for k, v in categories.items())
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


def _columns_used(variables: Iterable[Expr], args: Mapping[str, Any]) -> list[str]:
    used = [c for v in variables for c in sorted(v.variables())]
    return list(dict.fromkeys(used + [v for v in args.values() if isinstance(v, str)]))


def _read_columns(frame: pl.DataFrame | pl.LazyFrame, used: list[str]) -> pl.DataFrame:
    """The columns used (only those are collected from a LazyFrame), with NaN read as missing."""
    lazy = isinstance(frame, pl.LazyFrame)
    _check_columns(used, frame.collect_schema().names() if lazy else frame.columns)
    raw = frame.select(used).collect() if lazy else frame.select(used)
    return raw.with_columns(pl.col(c).fill_nan(None) for c, dt in raw.schema.items() if dt.is_float())


def _argument(name: str, value: Any, n: int) -> pl.Expr:
    """A ``weights=``-style argument, a column name or an array aligned with the data's rows."""
    if isinstance(value, str):
        return pl.col(value).alias(f"({name})")
    values = value if isinstance(value, pl.Series) else pl.Series(np.asarray(value))
    if len(values) != n:
        raise ModelSpecError(f"{name} has length {len(values)} but data has {n} rows")
    return pl.lit(values).alias(f"({name})")


def _evaluate(raw: pl.DataFrame, named: Mapping[str, pl.Expr]) -> pl.DataFrame:
    try:
        return raw.select(e.alias(k) for k, e in named.items())
    except pl.exceptions.PolarsError:
        for k, e in named.items():
            try:
                raw.select(e)
            except pl.exceptions.PolarsError as err:
                raise ModelSpecError(f"cannot evaluate {k}: {err}") from None
        raise


def _scaling(variables: Iterable[Expr], raw: pl.DataFrame) -> dict[str, tuple[float, float]]:
    """Centre and scale of every ``scale(x)``, from all non-missing x (as R's model.frame)."""
    out: dict[str, tuple[float, float]] = {}
    calls = {s.label: s for v in variables for s in v.subexpressions() if s.is_call("scale")}
    for label, call in calls.items():
        x = _evaluate(raw, {label: call.args[0].to_polars(out).cast(pl.Float64)}).to_series()
        x = x.drop_nulls().drop_nans().to_numpy()
        if len(x) == 0:
            raise ModelSpecError(f"{label}: no non-missing values to centre and scale")
        centre = float(x.mean())
        out[label] = (centre, float(np.sqrt(np.sum((x - centre) ** 2) / max(1, len(x) - 1))))
    return out


def _missing(df: pl.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Rows with a null (or NaN in a float column) anywhere, and the columns that have one."""
    if df.width == 0:
        return np.zeros(df.height, bool), []
    flags = df.select(
        (pl.col(c).is_null() | pl.col(c).is_nan()) if dt.is_float() else pl.col(c).is_null()
        for c, dt in df.schema.items()
    )
    rows = flags.select(pl.any_horizontal(pl.all())).to_series().to_numpy()
    return rows, [c for c in flags.columns if flags[c].any()]


def _model_frame(
    frame: pl.DataFrame | pl.LazyFrame, variables: Mapping[str, Expr], args: Mapping[str, Any], na_action: str
) -> _Frame:
    used = _columns_used(variables.values(), args)
    raw = _read_columns(frame, used)
    lazy = isinstance(frame, pl.LazyFrame)
    n_rows = raw.height if used else (frame.select(pl.len()).collect().item() if lazy else frame.height)
    scaling = _scaling(variables.values(), raw)
    named = {label: e.to_polars(scaling) for label, e in variables.items()}
    named |= {f"({k})": _argument(k, v, n_rows) for k, v in args.items()}
    named = named or {"(rows)": pl.repeat(True, n_rows)}  # a formula such as "~ 1" uses no column
    every_row = _evaluate(raw, named)
    drop, where = _missing(every_row)
    if drop.any():
        where = ", ".join(where)
        if na_action == "fail":
            raise ModelSpecError(f"missing values in {where} (na_action='fail')")
        if drop.all():
            raise ModelSpecError(
                f"no rows left after dropping {len(drop)} rows with missing values in {where}"
            )
    keep = np.flatnonzero(~drop)
    values = every_row.filter(pl.Series(~drop)) if drop.any() else every_row
    _check_finite(values, keep, [c for c in values.columns if c != "(id)"])
    return _Frame(values, every_row, keep.astype(np.int64), scaling)


def _check_finite(values: pl.DataFrame, rows: np.ndarray, columns: list[str]) -> None:
    for c in columns:
        s = values[c]
        if s.dtype.is_float() and s.is_infinite().any():
            i = int(s.is_infinite().arg_true()[0])
            raise ModelSpecError(
                f"{c} is infinite (value {s[i]}) at row {rows[i]} of the data "
                "(0-based); transform or drop such rows"
            )


# ----------------------------------------------------------------------------------------------
# Building the design
# ----------------------------------------------------------------------------------------------


def _variables(blocks: Iterable[ModelTerms], random: Iterable[RandomTerm]) -> dict[str, Expr]:
    """The predictors of the model frame by label: term variables, offsets, grouping factors."""
    exprs = [e for b in blocks for e in (*b.variables(), *b.offsets)]
    return {e.label: e for e in exprs + [e for t in random for e in t.group]}


def _term_factors(blocks: list[ModelTerms], mf: _Frame, drop_unused: bool) -> dict[str, tuple[str, ...]]:
    """Levels of each factor in the terms; a factor needs two or more (R's contrasts rule)."""
    factors = {}
    for v in {v.label: v for b in blocks for v in b.variables()}.values():
        kept = mf.values[v.label]
        if not _is_factor(v, kept):
            continue
        as_built = not drop_unused and (kept.dtype.is_numeric() or isinstance(kept.dtype, pl.Enum))
        factors[v.label] = factor_levels(mf.every_row[v.label] if as_built else kept, drop_unused)
        if len(factors[v.label]) < 2:
            raise ModelSpecError(
                f"factor {v.label} has only the level(s) {factors[v.label]} in "
                "the rows used; a factor needs two or more levels"
            )
    return factors


def _columns(
    values: pl.DataFrame, factors: Mapping[str, tuple[str, ...]], blocks: list[ModelTerms]
) -> dict[str, np.ndarray]:
    """Each term variable as float64 values, or as level codes for a factor."""
    out = {}
    for v in {v.label: v for b in blocks for v in b.variables()}.values():
        s = values[v.label]
        if v.label in factors:
            out[v.label] = _codes(s, factors[v.label], f"factor {v.label}")
        else:
            out[v.label] = s.cast(pl.Float64).fill_null(np.nan).to_numpy()
    return out


def _group_levels(values: pl.Series) -> tuple[str, ...]:
    """Levels of a grouping variable: lme4 drops those absent from the rows used, logical too."""
    levels = factor_levels(values, drop_unused=True)
    present = set(_labels(values.drop_nulls()).unique()) if values.dtype == pl.Boolean else levels
    return tuple(lev for lev in levels if lev in present)


def _group_codes(term: RandomTerm, values: pl.DataFrame) -> tuple[tuple[str, ...], np.ndarray]:
    """Levels and codes of a grouping factor; ``a:b`` has the combinations present, ``a`` slowest."""
    per_var = [_group_levels(values[v.label]) for v in term.group]
    codes = [_codes(values[v.label], lv, v.label).astype(np.int64) for v, lv in zip(term.group, per_var)]
    if len(codes) == 1:
        return per_var[0], codes[0].astype(np.uint32)
    sizes = [len(lv) for lv in per_var]
    if math.prod(sizes) < 2**62:  # mixed-radix key, first variable most significant
        key = codes[0]
        for c, size in zip(codes[1:], sizes[1:]):
            key = key * size + c
        unique, inverse = np.unique(key, return_inverse=True)
        combos = np.column_stack([unique // math.prod(sizes[i + 1 :]) % sizes[i] for i in range(len(sizes))])
    else:
        combos, inverse = np.unique(np.column_stack(codes), axis=0, return_inverse=True)
    parts = [pl.Series(lv, dtype=pl.String).gather(combos[:, i]) for i, lv in enumerate(per_var)]
    levels = pl.select(pl.concat_str([pl.lit(p) for p in parts], separator=":")).to_series()
    return tuple(levels), inverse.reshape(-1).astype(np.uint32)


def _lme4_order(n_levels: list[int]) -> list[int]:
    """lme4's ``mkReTrms``: if any term has more levels than the one before it, order terms by
    decreasing number of levels (``rev(order(nl))``, which also reverses ties)."""
    if not any(b > a for a, b in pairwise(n_levels)):
        return list(range(len(n_levels)))
    return sorted(range(len(n_levels)), key=lambda i: n_levels[i])[::-1]


def _random_blocks(
    f: Formula,
    mf: _Frame,
    factors: Mapping[str, tuple[str, ...]],
    columns: Mapping[str, np.ndarray],
    reorder: bool,
):
    specs, blocks = [], []
    for term in f.random:
        coding = _TermCoding.of(term.lhs, factors)
        Z = coding.matrix(columns, factors, mf.values.height)
        levels, codes = _group_codes(term, mf.values)
        specs.append(_RandomSpec(term, coding, levels))
        blocks.append(RandomBlock(term.group_label, levels, codes, Z.X, Z.names, term.correlated))
    order = _lme4_order([len(b.levels) for b in blocks]) if reorder else range(len(blocks))
    return tuple(specs[i] for i in order), tuple(blocks[i] for i in order)


def _nonnegative(values: pl.DataFrame, name: str) -> np.ndarray | None:
    if f"({name})" not in values.columns:
        return None
    w = values[f"({name})"].cast(pl.Float64).to_numpy()
    if (w < 0).any():
        raise ModelSpecError(f"{name} must be non-negative; found {w[w < 0][0]:g}")
    return w


def _extra_item(item: Any) -> str | ModelTerms:
    if isinstance(item, ModelTerms):
        return item
    if isinstance(item, str):
        return parse_rhs(item) if "~" in item else item
    raise ModelSpecError(f"extra items must be column names or one-sided formulas, not {item!r}")


def build_design(
    formula: str | Formula,
    data: Any,
    *,
    weights: Any = None,
    group_weights: Any = None,
    id: Any = None,
    extra: Iterable[str | ModelTerms] = (),
    na_action: str = "omit",
    drop_unused_levels: bool = True,
    reorder_terms: bool = True,
) -> Design:
    """Evaluate a formula on data: response, fixed-effect matrix ``X`` and random-effects blocks.

    Parameters
    ----------
    formula : str or Formula
        An lme4 formula, e.g. ``"HR ~ Time * Drug + (1 + Time | Patient)"``.
    data : polars.DataFrame, polars.LazyFrame or pandas.DataFrame
        Only the columns the model uses are read (collected, for a LazyFrame).
    weights, group_weights, id : str or array-like, optional
        A column name, or values aligned with the rows of ``data``.
    extra : iterable of str or ModelTerms
        Column names (returned as Series) or one-sided formulas such as ``"~trt + sqrt(wk)"``
        (returned as ModelMatrix), evaluated on the same rows; their missing values drop rows too.
    na_action : {"omit", "fail"}
        Drop rows with a missing value in any variable of the model (R's ``na.omit``), or raise.
    drop_unused_levels : bool
        Drop factor levels absent from the rows used, as lme4's ``lFormula`` does (``True``);
        ``False`` keeps them as R's default ``model.frame`` does (their all-zero columns are then
        dropped as aliased).
    reorder_terms : bool
        Order random-effects terms by decreasing number of levels, as lme4's ``mkReTrms`` does.

    Returns
    -------
    Design
        ``X`` (Fortran-ordered float64, aliased columns removed, with R's column names), the
        response, offset, weights, random-effects blocks, and the ``spec`` for new data.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.0, 1, 0, 1], "g": ["a", "a", "b", "b"]})
    >>> d = build_design("y ~ x + (1 | g)", df)
    >>> d.x_names, d.random[0].levels
    (('(Intercept)', 'x'), ('a', 'b'))
    """
    if na_action not in ("omit", "fail"):
        raise ModelSpecError(f"na_action must be 'omit' or 'fail', not {na_action!r}")
    f = parse_formula(formula)
    items = [_extra_item(e) for e in extra]
    blocks = [f.fixed, *(t.lhs for t in f.random), *(e for e in items if isinstance(e, ModelTerms))]
    responses = (f.response,) if f.response is not None else f.response_cbind or ()
    variables = {e.label: e for e in responses} | _variables(blocks, f.random)
    variables |= {e: Expr(e, "name", value=e) for e in items if isinstance(e, str) and e not in variables}
    args = {k: v for k, v in zip(_ARGS, (weights, group_weights, id)) if v is not None}
    mf = _model_frame(_as_frame(data), variables, args, na_action)
    n, values = len(mf.row_index), mf.values
    factors = _term_factors(blocks, mf, drop_unused_levels)
    columns = _columns(values, factors, blocks)
    fixed = _TermCoding.of(f.fixed, factors)
    full, keep = _fixed_matrix(fixed, columns, factors, n)
    random_specs, random_blocks = _random_blocks(f, mf, factors, columns, reorder_terms)
    x_names = tuple(full.names[j] for j in keep)
    return Design(
        n=n,
        n_dropped=mf.every_row.height - n,
        row_index=mf.row_index,
        response=None if f.response is None else values[f.response.label],
        response_cbind=None
        if f.response_cbind is None
        else tuple(values[e.label].cast(pl.Float64).to_numpy() for e in f.response_cbind),
        X=np.asfortranarray(full.X[:, keep]),
        x_names=x_names,
        x_assign=tuple(full.assign[j] for j in keep),
        term_labels=full.term_labels,
        dropped_columns=tuple(name for j, name in enumerate(full.names) if j not in keep),
        offset=_offset(f.fixed, values),
        random=random_blocks,
        weights=_nonnegative(values, "weights"),
        group_weights=_nonnegative(values, "group_weights"),
        id=values["(id)"].alias(id if isinstance(id, str) else "id") if id is not None else None,
        spec=DesignSpec(f, factors, mf.scaling, fixed, keep, x_names, random_specs),
        extra=tuple(
            _TermCoding.of(e, factors).matrix(columns, factors, n) if isinstance(e, ModelTerms) else values[e]
            for e in items
        ),
    )


def _fixed_matrix(
    fixed: _TermCoding, columns: Mapping[str, np.ndarray], factors: Mapping[str, tuple[str, ...]], n: int
) -> tuple[ModelMatrix, tuple[int, ...]]:
    """The full fixed-effect matrix and its non-aliased columns, warning as lme4 does."""
    full = fixed.matrix(columns, factors, n)
    keep = tuple(_independent_columns(full.X))
    dropped = [name for j, name in enumerate(full.names) if j not in keep]
    if dropped:
        s = "s / coefficients" if len(dropped) > 1 else " / coefficient"
        warnings.warn(
            f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} "
            f"column{s}: {', '.join(dropped)}",
            FitWarning,
            stacklevel=3,
        )
    return full, keep


def _offset(terms: ModelTerms, values: pl.DataFrame) -> np.ndarray | None:
    if not terms.offsets:
        return None
    return sum(values[o.label].cast(pl.Float64).fill_null(np.nan).to_numpy() for o in terms.offsets)


# ----------------------------------------------------------------------------------------------
# New data
# ----------------------------------------------------------------------------------------------


def model_matrix(spec: DesignSpec, newdata: Any, *, random: bool = True) -> NewDesign:
    """Code new data as the training data were coded: same columns, levels, centres and scales.

    Missing values give NaN rows (R's ``na.pass``). A level of a fixed-effect factor not seen in
    training raises ModelSpecError; an unseen grouping level gets code ``0xFFFFFFFF``.

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.0, 1, 0, 1], "g": ["a", "a", "b", "b"]})
    >>> d = build_design("y ~ x + (1 | g)", df)
    >>> new = model_matrix(d.spec, pl.DataFrame({"x": [2.0], "g": ["c"]}))
    >>> new.X.tolist(), new.random[0][0].tolist()
    ([[1.0, 2.0]], [4294967295])
    """
    f = spec.formula
    terms = [r.term for r in spec.random] if random else []
    blocks = [f.fixed, *(t.lhs for t in terms)]
    variables = _variables(blocks, terms)
    raw = _read_columns(_as_frame(newdata), _columns_used(variables.values(), {}))
    values = _evaluate(raw, {k: e.to_polars(spec.scaling) for k, e in variables.items()})
    columns = _columns(values, spec.factors, blocks)
    X = spec.fixed.matrix(columns, spec.factors, values.height).X[:, list(spec.x_keep)]
    blocks_out = None
    if random:
        blocks_out = tuple(
            (_new_group_codes(r, values), r.coding.matrix(columns, spec.factors, values.height).X)
            for r in spec.random
        )
    return NewDesign(np.asfortranarray(X), _offset(f.fixed, values), blocks_out)


def _new_group_codes(r: _RandomSpec, values: pl.DataFrame) -> np.ndarray:
    parts = [_labels(values[v.label]) for v in r.term.group]
    labels = pl.concat_str(parts, separator=":") if len(parts) > 1 else parts[0]
    codes = labels.replace_strict(r.levels, range(len(r.levels)), default=None, return_dtype=pl.UInt32)
    return codes.fill_null(UNSEEN).to_numpy().astype(np.uint32)
