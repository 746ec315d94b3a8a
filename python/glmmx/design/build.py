"""From a parsed formula and a data frame to float64 model matrices with R's column names.

``build_design`` follows lme4's ``lFormula``: one model frame holds every variable the model
uses (``glmmx.design.frame``: evaluated with polars, ``scale()`` on all rows as R's ``model.frame``
does), rows with a missing value in any of them are dropped, factors get R's levels
(``glmmx.design.levels``) and treatment contrasts, and aliased columns are dropped as lme4's
``chkRank.drop.cols`` does (``glmmx.design.coding``). Random-effects terms give level codes
``0..n_levels-1`` and a dense ``Z`` block per term. ``model_matrix`` codes new data exactly as
the training data were coded.

Everything that depends only on the formula is computed once per formula text and cached; a
design then costs one pass over the columns it uses.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import polars as pl

from glmmx.design.coding import ModelMatrix, TermCoding, independent_columns
from glmmx.design.contrasts import Contrast, contrast
from glmmx.design.pandas_input import ordered_categoricals
from glmmx.design.frame import (
    ModelFrame,
    as_frame,
    columns_used,
    evaluate,
    model_frame,
    read_columns,
)
from glmmx.design.levels import (
    encode,
    factor_codes,
    factor_levels,
    present_levels,
    r_sort_key,
)
from glmmx.exceptions import FitWarning, ModelSpecError
from glmmx.formula.algebra import (
    Expr,
    Formula,
    ModelTerms,
    RandomTerm,
    parse_formula,
    parse_rhs,
)

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
    coding: TermCoding
    levels: tuple[str, ...]


@dataclass(frozen=True)
class DesignSpec:
    """What ``model_matrix`` needs to code new data exactly as the training data were coded."""

    formula: Formula
    factors: Mapping[str, tuple[str, ...]]
    scaling: Mapping[str, tuple[float, float]]
    fixed: TermCoding
    x_keep: tuple[int, ...]
    x_names: tuple[str, ...]
    random: tuple[_RandomSpec, ...]
    extra: tuple[str | TermCoding, ...] = ()
    contrasts: Mapping[str, Contrast] = field(default_factory=dict)  # factors not coded by treatment


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
    """New data coded like the training data: ``X``, the offset, ``(codes, Z)`` per block, and
    the ``extra`` items (Series or ModelMatrix) when asked for."""

    X: np.ndarray
    offset: np.ndarray | None
    random: tuple[tuple[np.ndarray, np.ndarray], ...] | None
    extra: tuple[pl.Series | ModelMatrix, ...] | None = None
    new_levels: tuple[tuple[str, ...], ...] | None = None  # per block: grouping levels not in the fit


# ----------------------------------------------------------------------------------------------
# What a formula needs, computed once per formula
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    formula: Formula
    items: tuple[str | ModelTerms, ...]  # extra column names and one-sided formulas
    blocks: tuple[ModelTerms, ...]  # fixed, random-effects left-hand sides, extra formulas
    variables: dict[str, Expr]  # every variable of the model frame, by label
    term_variables: dict[str, Expr]  # the variables of the blocks


def _variables(blocks: Iterable[ModelTerms], random: Iterable[RandomTerm]) -> dict[str, Expr]:
    """The predictors of the model frame by label: term variables, offsets, grouping factors."""
    exprs = [e for b in blocks for e in (*b.variables(), *b.offsets)]
    return {e.label: e for e in exprs + [e for t in random for e in t.group]}


def _extra_item(item: Any) -> str | ModelTerms:
    if isinstance(item, ModelTerms):
        return item
    if isinstance(item, str):
        return parse_rhs(item) if "~" in item else item
    raise ModelSpecError(f"extra items must be column names or one-sided formulas, not {item!r}")


def _make_plan(formula: str | Formula, extra: tuple) -> _Plan:
    f = parse_formula(formula)
    items = tuple(_extra_item(e) for e in extra)
    blocks = (f.fixed, *(t.lhs for t in f.random), *(e for e in items if isinstance(e, ModelTerms)))
    responses = (f.response,) if f.response is not None else f.response_cbind or ()
    variables = {e.label: e for e in responses} | _variables(blocks, f.random)
    variables |= {e: Expr(e, "name", value=e) for e in items if isinstance(e, str) and e not in variables}
    term_variables = {v.label: v for b in blocks for v in b.variables()}
    return _Plan(f, items, blocks, variables, term_variables)


_cached_plan = functools.lru_cache(maxsize=256)(_make_plan)


def _plan(formula: str | Formula, extra: Iterable) -> _Plan:
    extra = tuple(extra)
    try:
        return _cached_plan(formula, extra)
    except TypeError:  # an unhashable extra item: let _make_plan report it
        return _make_plan(formula, extra)


# ----------------------------------------------------------------------------------------------
# Factors, numeric columns and grouping factors
# ----------------------------------------------------------------------------------------------


_FACTOR_CALLS = ("factor", "as.factor", "ordered", "as.ordered", "relevel", "C")


def _is_factor(expr: Expr, values: pl.Series) -> bool:
    dtype = values.dtype
    if expr.is_call(*_FACTOR_CALLS) or dtype in (pl.String, pl.Categorical, pl.Boolean):
        return True
    if isinstance(dtype, pl.Enum):
        return True
    if not dtype.is_numeric():
        raise ModelSpecError(
            f"variable {expr.label} has type {dtype}, which is neither numeric "
            "nor a factor (string, categorical, enum, boolean)"
        )
    return False


def _term_columns(
    plan: _Plan, mf: ModelFrame, drop_unused: bool
) -> tuple[dict[str, tuple[str, ...]], dict[str, np.ndarray]]:
    """Levels of each factor of the terms (a factor needs two or more, R's contrasts rule), and
    each term variable as float64 values or, for a factor, int64 level codes."""
    factors, columns = {}, {}
    for label, v in plan.term_variables.items():
        kept = mf.values[label]
        if not _is_factor(v, kept):
            columns[label] = kept.cast(pl.Float64).to_numpy()
            continue
        if not drop_unused and (kept.dtype.is_numeric() or isinstance(kept.dtype, pl.Enum)):
            levels = factor_levels(mf.every_row[label], False)
            codes = encode(kept, levels, f"factor {label}")
        else:
            levels, codes = factor_codes(kept, drop_unused=drop_unused)
        levels, codes = _reorder_levels(v, label, kept, levels, codes)
        if len(levels) < 2:
            raise ModelSpecError(
                f"factor {label} has only the level(s) {levels} in "
                "the rows used; a factor needs two or more levels"
            )
        if kept.dtype == pl.String and not v.is_call(*_FACTOR_CALLS):
            _warn_misread_column(label, levels)
        factors[label], columns[label] = levels, codes
    return factors, columns


def _is_column_of(label: str, expr: Expr, name: str) -> bool:
    """Whether the factor ``label`` is the column ``name`` itself or ``factor(name)``-like."""
    if label == name:
        return True
    return expr.is_call(*_FACTOR_CALLS) and expr.args[0].label == name


def _contrasts(
    plan: _Plan, factors: Mapping[str, tuple[str, ...]], asked: Mapping[str, Any] | None, ordered: set[str]
) -> dict[str, Contrast]:
    """Each factor's coding, as R chooses it: the ``contrasts=`` entry naming the factor (by
    its label or its column), else ``poly`` for an ordered factor, else treatment (left out)."""
    if asked is not None and not isinstance(asked, Mapping):
        raise ModelSpecError(f"contrasts must be a dict of factor name to contrast, not {type(asked).__name__}")
    asked = dict(asked or {})
    out: dict[str, Contrast] = {}
    used = set()
    for label, levels in factors.items():
        expr = plan.term_variables[label]
        key = next((k for k in asked if _is_column_of(label, expr, k)), None)
        if expr.is_call("C"):
            spec = _second_argument(expr)
            spec = str(spec.value)
        elif key is not None:
            used.add(key)
            spec = asked[key]
        elif expr.is_call("ordered", "as.ordered") or any(_is_column_of(label, expr, o) for o in ordered):
            spec = "poly"
        else:
            continue
        coding = contrast(spec, levels, label)
        if coding.kind != "treatment":
            out[label] = coding
    unknown = [k for k in asked if k not in used]
    if unknown:
        raise ModelSpecError(
            f"contrasts given for {', '.join(map(repr, unknown))}, which "
            f"{'is not a factor' if len(unknown) == 1 else 'are not factors'} of the model; its factors are: "
            f"{', '.join(factors) or 'none'}")
    return out


def _second_argument(expr: Expr) -> Expr | None:
    if len(expr.args) < 2:
        return None
    a = expr.args[1]
    return a.args[0] if a.kind == "arg" else a


def _reorder_levels(expr: Expr, label: str, values: pl.Series, levels: tuple[str, ...], codes: np.ndarray):
    """The levels of ``relevel(f, "ref")`` (``ref`` first, the others in order) and of
    ``factor(f, levels = c(...))`` (those, in that order; levels absent from the rows used are
    dropped, as lme4 drops unused levels), with the codes to match."""
    second = _second_argument(expr)
    if second is None or not expr.is_call("relevel", "factor", "ordered"):
        return levels, codes
    if expr.is_call("relevel"):
        ref = str(second.value)
        if ref not in levels:
            raise ModelSpecError(f"{label}: the reference level {ref!r} is not a level of the factor; its levels are {', '.join(levels)}")
        order = [ref] + [lev for lev in levels if lev != ref]
    else:
        asked = [str(a.value) if isinstance(a.value, str) else a.label for a in second.args]
        outside = sorted(set(levels) - set(asked), key=levels.index)
        if outside:
            raise ModelSpecError(
                f"{label}: the data have value(s) {', '.join(map(repr, outside[:5]))} outside levels = c(...); R would "
                "make them NA and drop their rows: drop or recode them first")
        order = [lev for lev in asked if lev in levels]
    position = {lev: i for i, lev in enumerate(order)}
    lut = np.array([position[lev] for lev in levels] + [-1], dtype=np.int64)
    return tuple(order), lut[np.where(codes < 0, len(levels), codes)]


_MISSING_MARKERS = ("NA", "N/A", "NaN", "nan", "null", ".", "")


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _warn_misread_column(label: str, levels: tuple[str, ...]) -> None:
    """A text column coded as a factor whose labels are numbers, or include a missing-value
    marker such as "NA", was probably read without ``null_values=`` (a CSV read by polars keeps
    "NA" as text): say so, naming the column. ``factor(x)`` says the factor is meant."""
    markers = [lev for lev in levels if lev.strip() in _MISSING_MARKERS]
    if markers:
        warnings.warn(
            f"column {label} is coded as a factor with the level(s) {', '.join(map(repr, markers))}, which look like "
            f"missing values; read the data with null_values=[{', '.join(map(repr, markers))}] (polars.read_csv) "
            f"to drop those rows, or write factor({label}) if the level is meant",
            FitWarning, stacklevel=4)
    elif all(_looks_numeric(lev) for lev in levels):
        warnings.warn(
            f"column {label} holds numbers as text ({', '.join(levels[:3])}{', ...' if len(levels) > 3 else ''}) and "
            f"is coded as a factor with {len(levels)} levels; cast it to a number to use it as a covariate, or write "
            f"factor({label}) if the factor is meant",
            FitWarning, stacklevel=4)


def _new_columns(
    variables: Mapping[str, Expr], values: Mapping[str, pl.Series], factors: Mapping[str, tuple[str, ...]]
) -> dict[str, np.ndarray]:
    """Term variables of new data: codes in the training levels, or float64 values (NaN if missing)."""
    return {
        label: encode(values[label], factors[label], f"factor {label}")
        if label in factors
        else values[label].cast(pl.Float64).to_numpy()
        for label in variables
    }


def _group_levels(values: pl.Series) -> tuple[tuple[str, ...], np.ndarray]:
    """Levels of a grouping variable: lme4 drops those absent from the rows used, logical too."""
    levels, codes = factor_codes(values, drop_unused=True)
    return present_levels(levels, codes) if values.dtype == pl.Boolean else (levels, codes)


def _group_codes(term: RandomTerm, values: Mapping[str, pl.Series]) -> tuple[tuple[str, ...], np.ndarray]:
    """Levels and codes of a grouping factor; ``a:b`` has the combinations present, ``a`` slowest."""
    per_var, codes = zip(*(_group_levels(values[v.label]) for v in term.group))
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
    levels = tuple(":".join(lv[c] for lv, c in zip(per_var, row)) for row in combos.tolist())
    return levels, inverse.reshape(-1).astype(np.uint32)


def _new_group_codes(r: _RandomSpec, values: Mapping[str, pl.Series]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes of new data in the training levels of a grouping factor (UNSEEN if new or
    missing), and the new levels met."""
    index = {lev: i for i, lev in enumerate(r.levels)}
    parts = [factor_codes(values[v.label]) for v in r.term.group]
    if len(parts) == 1:
        labels, codes = parts[0]
    else:
        stacked = np.column_stack([c for _, c in parts])
        combos, codes = np.unique(stacked, axis=0, return_inverse=True)
        labels = [
            ":".join(lv[c] for (lv, _), c in zip(parts, row)) if min(row) >= 0 else None for row in combos.tolist()
        ]
        codes = codes.reshape(-1)
    lut = np.array([index.get(lab, UNSEEN) for lab in labels] + [UNSEEN], dtype=np.uint32)
    new = tuple(lab for lab, i in zip(labels, lut[:-1]) if lab is not None and i == UNSEEN)
    return lut[codes], new


def _lme4_order(n_levels: list[int]) -> list[int]:
    """lme4's ``mkReTrms``: if any term has more levels than the one before it, order terms by
    decreasing number of levels (``rev(order(nl))``, which also reverses ties)."""
    if not any(b > a for a, b in pairwise(n_levels)):
        return list(range(len(n_levels)))
    return sorted(range(len(n_levels)), key=lambda i: n_levels[i])[::-1]


def _random_blocks(
    f: Formula,
    values: Mapping[str, pl.Series],
    factors: Mapping[str, tuple[str, ...]],
    columns: Mapping[str, np.ndarray],
    n: int,
    reorder: bool,
    contrasts: Mapping[str, Contrast],
):
    specs, blocks = [], []
    for term in f.random:
        coding = TermCoding.of(term.lhs, factors)
        Z = coding.matrix(columns, factors, n, contrasts=contrasts)
        levels, codes = _group_codes(term, values)
        specs.append(_RandomSpec(term, coding, levels))
        blocks.append(RandomBlock(term.group_label, levels, codes, Z.X, Z.names, term.correlated))
    order = _lme4_order([len(b.levels) for b in blocks]) if reorder else range(len(blocks))
    return tuple(specs[i] for i in order), tuple(blocks[i] for i in order)


# ----------------------------------------------------------------------------------------------
# Building the design
# ----------------------------------------------------------------------------------------------


def _nonnegative(values: Mapping[str, pl.Series], name: str) -> np.ndarray | None:
    if f"({name})" not in values:
        return None
    w = values[f"({name})"].cast(pl.Float64).to_numpy()
    if (w < 0).any():
        raise ModelSpecError(f"{name} must be non-negative; found {w[w < 0][0]:g}")
    return w


def _offset(terms: ModelTerms, values: Mapping[str, pl.Series]) -> np.ndarray | None:
    if not terms.offsets:
        return None
    return sum(values[o.label].cast(pl.Float64).to_numpy() for o in terms.offsets)


def _fixed_matrix(
    fixed: TermCoding, columns: Mapping[str, np.ndarray], factors: Mapping[str, tuple[str, ...]], n: int,
    contrasts: Mapping[str, Contrast],
) -> tuple[ModelMatrix, tuple[int, ...]]:
    """The full fixed-effect matrix and its non-aliased columns, warning as lme4 does."""
    full = fixed.matrix(columns, factors, n, contrasts=contrasts)
    keep = tuple(independent_columns(full.X))
    if len(keep) < len(full.names):
        dropped = [name for j, name in enumerate(full.names) if j not in keep]
        s = "s / coefficients" if len(dropped) > 1 else " / coefficient"
        warnings.warn(
            f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} "
            f"column{s}: {', '.join(dropped)}",
            FitWarning,
            stacklevel=3,
        )
    return full, keep


def _extra(items, factors, columns, values, n, contrasts) -> tuple[pl.Series | ModelMatrix, ...]:
    return tuple(
        (e if isinstance(e, TermCoding) else TermCoding.of(e, factors)).matrix(columns, factors, n, contrasts=contrasts)
        if not isinstance(e, str)
        else values[e]
        for e in items
    )


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
    contrasts: Mapping[str, Any] | None = None,
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
    contrasts : dict, optional
        The coding of factors, by column or factor label: ``"treatment"``, ``"sum"``,
        ``"helmert"``, ``"poly"`` (or R's ``"contr.sum"``...), or a matrix with one row per
        level (R's ``contrasts=`` argument). Unnamed factors get treatment contrasts, ordered
        ones (a pandas ordered Categorical, ``ordered(x)``) ``poly``, as in R.

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
    plan = _plan(formula, extra)
    f = plan.formula
    args = {k: v for k, v in zip(_ARGS, (weights, group_weights, id)) if v is not None}
    ordered = ordered_categoricals(data)
    mf = model_frame(as_frame(data), plan.variables, args, na_action)
    n, values = len(mf.row_index), mf.values
    factors, columns = _term_columns(plan, mf, drop_unused_levels)
    codings = _contrasts(plan, factors, contrasts, ordered)
    fixed = TermCoding.of(f.fixed, factors)
    full, keep = _fixed_matrix(fixed, columns, factors, n, codings)
    random_specs, random_blocks = _random_blocks(f, values, factors, columns, n, reorder_terms, codings)
    all_kept = len(keep) == len(full.names)
    x_names = full.names if all_kept else tuple(full.names[j] for j in keep)
    extra_codings = tuple(e if isinstance(e, str) else TermCoding.of(e, factors) for e in plan.items)
    return Design(
        n=n,
        n_dropped=mf.n_rows - n,
        row_index=mf.row_index,
        response=None if f.response is None else values[f.response.label],
        response_cbind=None
        if f.response_cbind is None
        else tuple(values[e.label].cast(pl.Float64).to_numpy() for e in f.response_cbind),
        X=full.X if all_kept else np.asfortranarray(full.X[:, keep]),
        x_names=x_names,
        x_assign=full.assign if all_kept else tuple(full.assign[j] for j in keep),
        term_labels=full.term_labels,
        dropped_columns=() if all_kept else tuple(name for j, name in enumerate(full.names) if j not in keep),
        offset=_offset(f.fixed, values),
        random=random_blocks,
        weights=_nonnegative(values, "weights"),
        group_weights=_nonnegative(values, "group_weights"),
        id=values["(id)"].alias(id if isinstance(id, str) else "id") if id is not None else None,
        spec=DesignSpec(f, factors, mf.scaling, fixed, keep, x_names, random_specs, extra_codings, codings),
        extra=_extra(extra_codings, factors, columns, values, n, codings),
    )


# ----------------------------------------------------------------------------------------------
# New data
# ----------------------------------------------------------------------------------------------


def model_matrix(
    spec: DesignSpec, newdata: Any, *, random: bool = True, extra: bool = False, contrasts: str = "treatment"
) -> NewDesign:
    """Code new data as the training data were coded: same columns, levels, centres and scales.

    Missing values give NaN rows (R's ``na.pass``). A level of a fixed-effect factor not seen in
    training raises ModelSpecError; an unseen grouping level gets code ``0xFFFFFFFF``.
    ``contrasts="sum"`` codes the fixed-effect factors with ``contr.sum`` (type III tests). With
    ``extra=True`` the ``extra`` items of ``build_design`` are coded too (``NewDesign.extra``:
    a Series per column name, a ModelMatrix per one-sided formula).

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
    codings = [e for e in spec.extra if isinstance(e, TermCoding)] if extra else []
    blocks = [f.fixed, *(t.lhs for t in terms), *(c.terms for c in codings)]
    variables = _variables(blocks, terms)
    if extra:
        variables |= {e: Expr(e, "name", value=e) for e in spec.extra if isinstance(e, str) and e not in variables}
    raw, n = read_columns(as_frame(newdata), columns_used(variables.values(), {}))
    values = evaluate(raw, variables, spec.scaling, n)
    term_variables = {v.label: v for b in blocks for v in b.variables()}
    columns = _new_columns(term_variables, values, spec.factors)
    X = spec.fixed.matrix(columns, spec.factors, n, sum_contrasts=contrasts == "sum", contrasts=spec.contrasts).X
    if len(spec.x_keep) < X.shape[1]:
        X = np.asfortranarray(X[:, list(spec.x_keep)])
    blocks_out = new_levels = None
    if random:
        grouped = [_new_group_codes(r, values) for r in spec.random]
        blocks_out = tuple(
            (codes, r.coding.matrix(columns, spec.factors, n, contrasts=spec.contrasts).X)
            for r, (codes, _) in zip(spec.random, grouped)
        )
        new_levels = tuple(new for _, new in grouped)
    extra_out = _extra(spec.extra, spec.factors, columns, values, n, spec.contrasts) if extra else None
    return NewDesign(X, _offset(f.fixed, values), blocks_out, extra_out, new_levels)
