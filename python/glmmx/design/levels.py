"""Factor levels in R's order, and the level codes of a column.

R's rules (``?factor``): ``Enum`` columns keep their category order; strings and categoricals
are sorted as R sorts text under ICU (the collation R uses in UTF-8 locales): case-insensitively
first, then accents, then lowercase before uppercase, with punctuation before digits before
letters; this is exact for ASCII and approximate beyond it. Numbers (``factor(x)``, numeric
grouping factors) sort numerically and are labelled as R's ``as.character`` labels them;
booleans and comparisons are R logicals with levels ``FALSE``, ``TRUE``.

Codes are computed once per column with NumPy (small columns through Python lists, which is
faster below a few thousand rows): ``int64`` indices into the levels, ``-1`` where missing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np
import polars as pl

from glmmx.formula.parse import format_r_number
from glmmx.exceptions import ModelSpecError

__all__ = ["encode", "factor_codes", "factor_levels", "r_order", "r_sort_key"]

MISSING, UNKNOWN = -1, -2
_SMALL = 4096  # below this many rows, Python lists beat polars' per-call overhead

# ----------------------------------------------------------------------------------------------
# R's (ICU) order of strings
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


# For ASCII text r_sort_key reduces to one string: the primary weights as characters (shifted
# past "\0"), "\0", then the case flags. Comparing these strings orders as the tuples do.
_ASCII_PRIMARY = str.maketrans(
    {i: chr(_PRIMARY.get(chr(i).lower(), 100 + ord(chr(i).lower())) + 1) for i in range(128)}
)
_ASCII_CASE = str.maketrans({i: "1" if "A" <= chr(i) <= "Z" else "0" for i in range(128)})


def _ascii_key(s: str) -> str:
    return s.translate(_ASCII_PRIMARY) + "\0" + s.translate(_ASCII_CASE)


def r_order(labels: Sequence[str]) -> list[int]:
    """Indices that sort ``labels`` as R's ``sort`` does (see ``r_sort_key``)."""
    if len(labels) > _SMALL:
        order = _polars_r_order(labels)
        if order is not None:
            return order
    key = _ascii_key if all(s.isascii() for s in labels) else r_sort_key
    keys = [key(s) for s in labels]
    return sorted(range(len(keys)), key=keys.__getitem__)


# Punctuation and white space in ICU's order, all before the digits and letters; r_sort_key
# on printable ASCII is the order of the lowercased text with these mapped to "\x01", "\x02", ...
# (so below the digits), and then, among texts equal but for case, reverse byte order.
_PUNCTUATION = [c for c in _PRIMARY if not c.isdigit()]
_PUNCTUATION_AS = [chr(1 + _PRIMARY[c]) for c in _PUNCTUATION]


def _polars_r_order(labels: Sequence[str]) -> list[int] | None:
    """``r_order`` of many distinct printable-ASCII labels, sorted by polars; None for other text."""
    text = pl.Series("s", labels, dtype=pl.String)
    if text.str.contains(r"[^\x09-\x0d\x20-\x7e]").any():
        return None
    primary = text.str.to_lowercase().str.replace_many(_PUNCTUATION, _PUNCTUATION_AS).alias("p")
    frame = pl.DataFrame([primary, text]).with_row_index("i")
    return frame.sort(["p", "s"], descending=[False, True]).get_column("i").to_list()


# ----------------------------------------------------------------------------------------------
# Distinct values and codes
# ----------------------------------------------------------------------------------------------


def _is_text(dtype: pl.DataType) -> bool:
    return not (dtype == pl.Boolean or isinstance(dtype, pl.Enum) or dtype.is_numeric())


def _distinct(values: pl.Series) -> tuple[list[str], np.ndarray]:
    """Candidate levels as R labels them, and int64 codes into them (-1 where missing).

    Booleans give FALSE, TRUE and an Enum all its categories (present or not); numbers give
    their distinct values in numeric order (NaN is missing); text gives its distinct values in
    order of first appearance (sorted by the caller).
    """
    dtype = values.dtype
    if dtype == pl.Boolean:
        return ["FALSE", "TRUE"], _bool_codes(values)
    if isinstance(dtype, pl.Enum):
        return _enum_distinct(values)
    if dtype.is_integer():
        return _int_distinct(values)
    if dtype.is_numeric():
        return _float_distinct(values)
    return _text_distinct(values)


def _bool_codes(values: pl.Series) -> np.ndarray:
    if values.null_count():
        return values.cast(pl.Int8).fill_null(MISSING).to_numpy().astype(np.int64)
    return values.to_numpy().astype(np.int64)


def _enum_distinct(values: pl.Series) -> tuple[list[str], np.ndarray]:
    categories = values.dtype.categories.to_list()
    if len(values) <= _SMALL:
        index = {c: i for i, c in enumerate(categories)} | {None: MISSING}
        return categories, np.array([index[v] for v in values.to_list()], dtype=np.int64)
    codes = values.cat.physical()
    return categories, codes.cast(pl.Int64).fill_null(MISSING).to_numpy()


def _with_missing(values: pl.Series, valid: np.ndarray, inner) -> tuple[list[str], np.ndarray]:
    labels, sub = inner(values.filter(pl.Series(valid)))
    codes = np.full(len(values), MISSING, dtype=np.int64)
    codes[valid] = sub
    return labels, codes


def _int_distinct(values: pl.Series) -> tuple[list[str], np.ndarray]:
    if values.null_count():
        return _with_missing(values, ~values.is_null().to_numpy(), _int_distinct)
    x = values.to_numpy()
    if len(x) == 0:
        return [], np.zeros(0, np.int64)
    lo, hi = int(x.min()), int(x.max())
    if hi - lo <= 4 * len(x) + 1024 and hi < 2**63:  # a presence table beats sorting
        shifted = x.astype(np.int64, copy=False) - lo
        present = np.zeros(hi - lo + 1, dtype=bool)
        present[shifted] = True
        distinct = np.flatnonzero(present) + lo
        codes = (np.cumsum(present) - 1)[shifted]
    else:
        distinct, codes = np.unique(x, return_inverse=True)
    return list(map(str, distinct.tolist())), codes.reshape(-1).astype(np.int64, copy=False)


def _float_distinct(values: pl.Series) -> tuple[list[str], np.ndarray]:
    x = values.cast(pl.Float64).to_numpy()  # nulls become NaN
    valid = ~np.isnan(x)
    if not valid.all():
        codes = np.full(len(x), MISSING, dtype=np.int64)
        labels, codes[valid] = _float_labels(x[valid])
        return labels, codes
    return _float_labels(x)


def _float_labels(x: np.ndarray) -> tuple[list[str], np.ndarray]:
    distinct, codes = np.unique(x, return_inverse=True)
    labels = [format_r_number(v) for v in distinct.tolist()]
    codes = codes.reshape(-1).astype(np.int64, copy=False)
    if len(set(labels)) < len(labels):  # values equal to 15 digits are one level, as in R
        unique = list(dict.fromkeys(labels))
        merged = {lab: i for i, lab in enumerate(unique)}
        codes = np.array([merged[lab] for lab in labels], dtype=np.int64)[codes]
        labels = unique
    return labels, codes


def _text_distinct(values: pl.Series) -> tuple[list[str], np.ndarray]:
    if values.dtype != pl.String:
        values = values.cast(pl.String)
    if len(values) <= _SMALL:
        index: dict = {None: MISSING}
        codes = [index.setdefault(v, len(index) - 1) for v in values.to_list()]
        return list(index)[1:], np.array(codes, dtype=np.int64)
    try:  # a private category mapping codes the values in one pass, in order of appearance
        categories = pl.Categories.random()
        # the mapping lives only while a column of its dtype does: read the labels before
        # the categorical column is dropped (after it, to_series() is empty)
        categorical = values.cast(pl.Categorical(categories))
        labels = categories.to_series().to_list()
        codes = categorical.cat.physical().cast(pl.Int64).fill_null(MISSING).to_numpy()
        if len(labels) == (codes.max(initial=MISSING) + 1):
            return labels, codes
    except (AttributeError, TypeError, pl.exceptions.PolarsError):  # pl.Categories is unstable
        pass
    labels = values.drop_nulls().unique().to_list()
    codes = values.cast(pl.Enum(labels)).cat.physical()
    return labels, codes.cast(pl.Int64).fill_null(MISSING).to_numpy()


def _reorder(labels: list[str], codes: np.ndarray, order: Sequence[int]) -> tuple[list[str], np.ndarray]:
    """Levels ``labels[order]`` and the codes into them (-1 stays -1; labels left out must not occur)."""
    rank = np.full(len(labels) + 1, MISSING, dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
    return list(map(labels.__getitem__, order)), rank[codes]


def factor_codes(values: pl.Series, *, drop_unused: bool = True) -> tuple[tuple[str, ...], np.ndarray]:
    """R's levels of ``factor(values)`` (see ``factor_levels``) and int64 codes (-1 if missing)."""
    labels, codes = _distinct(values)
    dtype = values.dtype
    if _is_text(dtype):
        labels, codes = _reorder(labels, codes, r_order(labels))
    elif drop_unused and isinstance(dtype, pl.Enum):
        return present_levels(tuple(labels), codes)
    return tuple(labels), codes


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
    return factor_codes(values, drop_unused=drop_unused)[0]


def present_levels(levels: tuple[str, ...], codes: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    """Only the levels that occur (lme4 drops unused levels of grouping factors, logical too)."""
    present = np.bincount(codes[codes >= 0], minlength=len(levels)) > 0
    if present.all():
        return levels, codes
    kept, codes = _reorder(list(levels), codes, np.flatnonzero(present).tolist())
    return tuple(kept), codes


def encode(values: pl.Series, levels: Sequence[str], what: str | None) -> np.ndarray:
    """Codes of ``values`` in given ``levels`` (-1 if missing); a value outside ``levels`` is an
    error naming ``what``, or code -2 if ``what`` is None."""
    labels, codes = _distinct(values)
    index = {lev: i for i, lev in enumerate(levels)}
    lut = np.array([index.get(lab, UNKNOWN) for lab in labels] + [MISSING], dtype=np.int64)
    out = lut[codes]
    if what is not None and (lut == UNKNOWN).any():
        unseen = np.flatnonzero(out == UNKNOWN)
        if len(unseen):
            raise ModelSpecError(
                f"{what} has level {labels[codes[unseen[0]]]!r}, not seen in the data the model "
                f"was built on (levels: {', '.join(levels)})"
            )
    return out
