"""Model formulas in lme4's syntax, parsed into terms without looking at any data.

``parse_formula("HR ~ Time * Drug + (1 + Time | Patient)")`` reads the text with R's grammar
(``glmmx.formula.parse``), then applies R's formula algebra (``?formula``): ``a*b = a + b + a:b``,
``a/b = a + a:b``, ``(a + b)^2``, ``a %in% b``, ``- term``, ``0 +``/``- 1``. Terms are sets of
variables; they are sorted by order (main effects, then two-way interactions, ...) keeping
formula order within an order, and the variables of a term are listed in order of their first
appearance in the formula, as R's ``terms.formula`` does. Random-effects terms ``(lhs | g)`` and
``(lhs || g)`` are expanded as lme4's ``findbars`` does, with nested groups ``a/b`` giving
``(lhs | b:a) + (lhs | a)``.

Parsed formulas are immutable and cached by their text, so fitting the same formula again does
not parse it again.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from glmmx.formula.parse import (
    SUPPORTED_FUNCTIONS,
    Expr,
    _binary,
    _call,
    _Parser,
    _syntax_error,
    format_r_number,
)
from glmmx.exceptions import ModelSpecError

__all__ = [
    "SUPPORTED_FUNCTIONS",
    "Expr",
    "Formula",
    "ModelTerms",
    "RandomTerm",
    "format_r_number",
    "parse_formula",
    "parse_rhs",
]

# ----------------------------------------------------------------------------------------------
# Terms
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelTerms:
    """The right-hand side of a model formula.

    Each term is the tuple of its variables in R's order, so its label is
    ``":".join(v.label for v in term)``; terms are in R's order (by interaction order, then
    as written). ``offsets`` holds the ``offset(...)`` calls.
    """

    intercept: bool
    terms: tuple[tuple[Expr, ...], ...]
    offsets: tuple[Expr, ...] = ()

    @property
    def term_labels(self) -> tuple[str, ...]:
        return tuple(":".join(v.label for v in t) for t in self.terms)

    @property
    def label(self) -> str:
        """``"1 + Time"``-style text of these terms (offsets omitted)."""
        return " + ".join(["1" if self.intercept else "0", *self.term_labels])

    def variables(self) -> tuple[Expr, ...]:
        """The distinct variables of the terms, in order of first appearance."""
        seen: dict[str, Expr] = {}
        for term in self.terms:
            for v in term:
                seen.setdefault(v.label, v)
        return tuple(seen.values())


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term ``(lhs | group)``.

    ``group`` holds the variables whose interaction is the grouping factor (``("a", "b")`` for
    ``a:b``); ``correlated`` is False for the terms made by ``||``.
    """

    lhs: ModelTerms
    group: tuple[Expr, ...]
    correlated: bool = True
    group_expr: Expr | None = field(default=None, compare=False)
    lhs_label: str = field(default="", compare=False)

    @property
    def group_label(self) -> str:
        """The grouping factor's name, as lme4 prints it: ``"Patient"``, ``"b:a"``."""
        if self.group_expr is not None:
            return self.group_expr.label
        return ":".join(v.label for v in self.group)

    @property
    def label(self) -> str:
        """``"1 + Time | Patient"``, as lme4 names the term."""
        return f"{self.lhs_label or self.lhs.label} | {self.group_label}"


@dataclass(frozen=True)
class Formula:
    """A parsed mixed-model formula ``response ~ fixed + (lhs | group) + ...``."""

    text: str
    response: Expr | None
    response_cbind: tuple[Expr, Expr] | None
    fixed: ModelTerms
    random: tuple[RandomTerm, ...]
    deparsed: str = ""

    @property
    def response_label(self) -> str | None:
        """R's label of the left-hand side, e.g. ``"cbind(incidence, size - incidence)"``."""
        if self.response_cbind is not None:
            return _call("cbind", self.response_cbind).label
        return None if self.response is None else self.response.label


class _TermAlgebra:
    """R's formula algebra on bit sets; bit i stands for the i-th variable met in the formula."""

    def __init__(self, text: str):
        self.text = text
        self.variables: list[Expr] = []
        self.intercept = True
        self.deleting = False  # inside the right operand of '-': 1 removes the intercept
        self.offsets: list[Expr] = []
        self.bars: list[Expr] = []

    def result(self, node: Expr) -> ModelTerms:
        terms = sorted((t for t in self.encode(node, top=True) if t), key=lambda t: t.bit_count())
        as_vars = (tuple(v for i, v in enumerate(self.variables) if t >> i & 1) for t in terms)
        return ModelTerms(self.intercept, tuple(as_vars), tuple(self.offsets))

    def bit(self, v: Expr) -> int:
        labels = [x.label for x in self.variables]
        if v.label not in labels:
            self.variables.append(v)
            labels.append(v.label)
        return 1 << labels.index(v.label)

    def encode(self, node: Expr, top: bool) -> list[int]:
        kind = node.kind
        if kind == "paren":
            inner = node.args[0]
            if inner.kind == "binary" and inner.op in ("|", "||"):
                if not top:
                    raise _term_error(self.text, node, "random-effects terms must be added with '+'")
                self.bars.append(inner)
                return []
            return self.encode(inner, top)
        if kind == "const" and type(node.value) in (int, float) and node.value in (0, 1):
            self.intercept = (node.value == 1) != self.deleting
            return []
        if kind == "name" and node.value == ".":
            raise _term_error(self.text, node, "'.' (all other columns) is not supported")
        if node.is_call("offset"):
            self.offsets.append(node)
            return []
        if node.is_call("cbind"):
            raise _term_error(self.text, node, "cbind() is only allowed as the response")
        if kind in ("name", "call"):
            return [self.bit(node)]
        if kind == "unary" and node.op in "+-":
            return self.encode(node.args[0], top) if node.op == "+" else self.delete([], node.args[0])
        if kind == "binary" and node.op in ("+", "-", ":", "*", "/", "%in%", "^"):
            return self.binary(node, top)
        if kind == "binary" and node.op in ("|", "||"):
            raise _term_error(self.text, node, "random-effects terms must be in parentheses")
        raise _term_error(
            self.text, node, "not a model term; write arithmetic and comparisons inside I(), e.g. I(x > 2)"
        )

    def delete(self, left: list[int], node: Expr) -> list[int]:
        self.deleting = not self.deleting
        removed = self.encode(node, top=False)
        self.deleting = not self.deleting
        return [t for t in left if t not in removed]

    def binary(self, node: Expr, top: bool) -> list[int]:
        op, (left_node, right_node) = node.op, node.args
        left = self.encode(left_node, top and op in "+-")
        if op == "-":
            return self.delete(left, right_node)
        if op == "^":
            return _power(left, self._exponent(right_node))
        right = self.encode(right_node, top and op == "+")
        product = [a | b for a in left for b in right]
        if op == "+":
            return _unique(left + right)
        if op == ":":
            return _unique(product)
        if op == "*":
            return _unique(left + right + product)
        if op == "/":
            return _unique(left + [_union(left) | b for b in right])
        return _unique([a | _union(right) for a in left])  # %in%

    def _exponent(self, node: Expr) -> int:
        value = node.value if node.kind == "const" else None
        if type(value) not in (int, float) or value < 1 or value != int(value):
            raise _term_error(self.text, node, "the power of a term must be a positive integer")
        return int(value)


def _unique(terms: list[int]) -> list[int]:
    return list(dict.fromkeys(terms))


def _union(terms: list[int]) -> int:
    out = 0
    for t in terms:
        out |= t
    return out


def _power(terms: list[int], n: int) -> list[int]:
    """All interactions of up to ``n`` of ``terms`` (R's ``(a + b + c)^n``)."""
    result = terms
    for _ in range(n - 1):
        result = _unique([a | b for a in terms for b in result])
    return result


def _term_error(text: str, node: Expr, what: str) -> ModelSpecError:
    return ModelSpecError(f"invalid term {node.label!r} in formula {text!r}: {what}")


# ----------------------------------------------------------------------------------------------
# Random-effects terms and the response
# ----------------------------------------------------------------------------------------------


def _random_terms(bar: Expr, text: str) -> list[RandomTerm]:
    """Expand one ``(lhs | g)`` or ``(lhs || g)`` as lme4 does (``||`` first, then ``/``)."""
    lhs_node, group_node = bar.args
    algebra = _TermAlgebra(text)
    lhs = algebra.result(lhs_node)
    if algebra.bars or lhs.offsets:
        raise _term_error(text, bar, "the left of '|' may not hold random terms or offsets")
    if not lhs.intercept and not lhs.terms:
        raise _term_error(text, bar, "the random-effects term has no columns")
    if bar.op == "|":
        parts = [(lhs, lhs_node.label)]
    else:
        parts = [(ModelTerms(True, ()), "1")] if lhs.intercept else []
        parts += [(ModelTerms(False, (t,)), f"0 + {lab}") for t, lab in zip(lhs.terms, lhs.term_labels)]
    groups = _expand_slash(group_node, text)
    return [
        RandomTerm(m, _interaction_variables(g, text), bar.op == "|", g, label)
        for m, label in parts
        for g in groups
    ]


def _expand_slash(node: Expr, text: str) -> list[Expr]:
    """``a/b`` -> ``[b:a, a]``; ``a/b/c`` -> ``[c:(b:a), b:a, a]`` (lme4's ``expandSlash``)."""
    if node.kind == "binary" and node.op == "/":
        outer = _expand_slash(node.args[0], text)
        if any(s.kind == "binary" and s.op == "/" for s in node.args[1].subexpressions()):
            raise _term_error(text, node, "write nested grouping factors as a/b/c")
        return [_binary(":", node.args[1], outer[0]), *outer]
    return [node]


def _interaction_variables(node: Expr, text: str) -> tuple[Expr, ...]:
    if node.kind == "paren":
        return _interaction_variables(node.args[0], text)
    if node.kind == "binary" and node.op == ":":
        left, right = _interaction_variables(node.args[0], text), _interaction_variables(node.args[1], text)
        repeated = [v.label for v in right if any(v.label == u.label for u in left)]
        if repeated:
            raise _term_error(
                text, node, f"grouping factor {repeated[0]} is nested in itself ({node.label}); a factor "
                "within itself adds no grouping and makes the model unidentifiable"
            )
        return left + right
    if node.kind in ("name", "call") and not node.is_call("offset", "cbind"):
        return (node,)
    raise _term_error(text, node, "a grouping factor must be a variable or an interaction a:b")


def _response(node: Expr, text: str) -> tuple[Expr | None, tuple[Expr, Expr] | None]:
    outer = node.is_call("cbind")
    if any(s.is_call("cbind") for s in node.subexpressions() if s is not node or not outer):
        raise _term_error(text, node, "cbind(successes, failures) must be the whole response")
    return (None, (node.args[0], node.args[1])) if outer else (node, None)


def _split_tilde(text: str, one_sided: bool = False) -> tuple[Expr | None, Expr, Expr]:
    tree = _Parser(text).parse()
    if tree.kind == "binary" and tree.op == "~":
        lhs, rhs = tree.args
    elif tree.kind == "unary" and tree.op == "~":
        lhs, rhs = None, tree.args[0]
    elif one_sided:
        lhs, rhs = None, tree
    else:
        raise _syntax_error(text, len(text), "a formula needs '~', e.g. 'y ~ x + (1 | g)'")
    sides = (rhs, lhs) if lhs is not None else (rhs,)
    if any(s.kind in ("unary", "binary") and s.op == "~" for e in sides for s in e.subexpressions()):
        raise _syntax_error(text, text.rfind("~"), "a formula has only one '~'")
    return lhs, rhs, tree


def parse_formula(text: str | Formula) -> Formula:
    """Parse a mixed-model formula in lme4's syntax.

    Parameters
    ----------
    text : str
        E.g. ``"HR ~ Time * Drug + (1 + Time | Patient)"`` or
        ``"cbind(incidence, size - incidence) ~ period + (1 | herd)"``.

    Returns
    -------
    Formula
        Response, fixed-effect terms in R's order, and the expanded random-effects terms.

    Raises
    ------
    ModelSpecError
        On a syntax error (with a caret under the position), an unknown function or an invalid term.

    Examples
    --------
    >>> f = parse_formula("HR ~ Time * Drug + (1 + Time | Patient)")
    >>> f.fixed.term_labels
    ('Time', 'Drug', 'Time:Drug')
    >>> f.random[0].label
    '1 + Time | Patient'
    """
    if isinstance(text, Formula):
        return text
    return _parse_formula(text)


@functools.lru_cache(maxsize=512)
def _parse_formula(text: str) -> Formula:
    lhs, rhs, tree = _split_tilde(text)
    response, cbind = _response(lhs, text) if lhs is not None else (None, None)
    algebra = _TermAlgebra(text)
    fixed = algebra.result(rhs)
    random = tuple(t for bar in algebra.bars for t in _random_terms(bar, text))
    return Formula(text, response, cbind, fixed, random, tree.label)


def parse_rhs(text: str) -> ModelTerms:
    """Parse a one-sided formula such as ``"~1 + trt"`` or ``"~trt + sqrt(wk)"``.

    Examples
    --------
    >>> parse_rhs("~trt + sqrt(wk)").term_labels
    ('trt', 'sqrt(wk)')
    """
    return _parse_rhs(text)


@functools.lru_cache(maxsize=512)
def _parse_rhs(text: str) -> ModelTerms:
    lhs, rhs, _ = _split_tilde(text, one_sided=True)
    if lhs is not None:
        raise ModelSpecError(f"expected a one-sided formula such as '~ 1 + x', got {text!r}")
    algebra = _TermAlgebra(text)
    terms = algebra.result(rhs)
    if algebra.bars:
        raise ModelSpecError(f"random-effects terms are not allowed in {text!r}")
    return terms
