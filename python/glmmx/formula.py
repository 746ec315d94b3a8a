"""Model formulas in lme4's syntax, parsed into terms without looking at any data.

``parse_formula("HR ~ Time * Drug + (1 + Time | Patient)")`` reads the text with R's grammar
(operators, precedence and associativity of ``?Syntax``), then applies R's formula algebra
(``?formula``): ``a*b = a + b + a:b``, ``a/b = a + a:b``, ``(a + b)^2``, ``a %in% b``, ``- term``,
``0 +``/``- 1``. Terms are sets of variables; they are sorted by order (main effects, then two-way
interactions, ...) keeping formula order within an order, and the variables of a term are listed
in order of their first appearance in the formula, as R's ``terms.formula`` does. Random-effects
terms ``(lhs | g)`` and ``(lhs || g)`` are expanded as lme4's ``findbars`` does, with nested groups
``a/b`` giving ``(lhs | b:a) + (lhs | a)``.

Every expression carries its ``label``, R's ``deparse`` of it, because the column names of the
model matrix are built from these labels (``I(HR > baseHR)TRUE``, ``sqrt(wk)``, ``log(x, 2)``).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

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
# R's printed forms of numbers, names and strings
# ----------------------------------------------------------------------------------------------


def format_r_number(x: float, digits: int = 15) -> str:
    """Format a double as R's ``as.character``/``deparse`` do (15 significant digits).

    Fixed notation is used when it is no wider than scientific notation (R's ``formatReal``
    with ``scipen = 0``): ``1 -> "1"``, ``0.5 -> "0.5"``, ``1e-05 -> "1e-05"``,
    ``100000 -> "1e+05"``, ``123456 -> "123456"``, ``1/3 -> "0.333333333333333"``.
    """
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0"
    neg = int(x < 0)
    mantissa, exponent = f"{abs(x):.{digits - 1}e}".split("e")
    e = int(exponent)
    sig = mantissa.replace(".", "").rstrip("0")
    rgt = max(0, len(sig) - e - 1)
    width_fixed = neg + max(e + 1, 1) + (rgt + 1 if rgt else 0)
    width_sci = neg + len(sig) + (len(sig) > 1) + (4 if abs(e) < 100 else 5)
    if width_fixed <= width_sci:
        return f"{x:.{rgt}f}"
    m = sig[0] + ("." + sig[1:] if len(sig) > 1 else "")
    return f"{'-' * neg}{m}e{'+' if e >= 0 else '-'}{abs(e):02d}"


_RESERVED = frozenset(
    "if else repeat while function for next break TRUE FALSE NULL Inf NaN NA NA_integer_ NA_real_"
    " NA_character_ NA_complex_ in".split()
)
_SYNTACTIC = re.compile(r"(?:[^\W\d_]|\.(?![\d]))[\w.]*|\.")


def _r_name(name: str) -> str:
    """A symbol as R deparses it: backticked unless syntactic."""
    ok = _SYNTACTIC.fullmatch(name) and name not in _RESERVED
    return name if ok else f"`{name}`"


def _r_string(s: str) -> str:
    escaped = s.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{escaped}"'


# ----------------------------------------------------------------------------------------------
# Expressions
# ----------------------------------------------------------------------------------------------

# R's binary operators by precedence (?Syntax), lowest first; each level's left binding power is
# 10 * its rank, and right operands bind at that + 1 (left-associative) except for "^"
_LEVELS = ["~", "| ||", "& &&", "< > <= >= == !=", "+ -", "* /", "%", ":", "^"]
_BINARY_BP = {op: 10 * rank for rank, ops in enumerate(_LEVELS, start=1) for op in ops.split()}
_PREFIX_BP = {"~": 11, "!": 35, "-": 85, "+": 85}  # "!" binds below comparisons, unary minus below "^"
_UNSPACED = {"/", "^", ":", "%%", "%/%"}

_MATH = {"log": pl.Expr.log, "log2": lambda e: e.log(2), "log10": pl.Expr.log10, "log1p": pl.Expr.log1p}
_MATH |= {"exp": pl.Expr.exp, "sqrt": pl.Expr.sqrt, "abs": pl.Expr.abs}
SUPPORTED_FUNCTIONS = tuple(sorted([*_MATH, "I", "factor", "as.factor", "scale", "offset"]))
_ARITY = {"log": (1, 2), "cbind": (2, 2)}  # others take one argument


def _bp(op: str) -> int:
    return _BINARY_BP["%" if op.startswith("%") else op]


@dataclass(frozen=True, repr=False)
class Expr:
    """A node of an R expression; ``label`` is R's ``deparse`` of it.

    ``kind`` is one of ``"name"`` (``value`` = column name), ``"const"`` (``value`` = number,
    string or bool), ``"call"`` (``op`` = function), ``"arg"`` (named argument ``op = args[0]``),
    ``"paren"``, ``"unary"`` and ``"binary"`` (``op`` = operator).
    """

    label: str
    kind: str
    op: str = ""
    args: tuple[Expr, ...] = ()
    value: object = None

    def __str__(self) -> str:
        return self.label

    def __repr__(self) -> str:
        return f"Expr({self.label!r})"

    def variables(self) -> set[str]:
        """Names of the data columns this expression uses."""
        if self.kind == "name":
            return {str(self.value)}
        return set().union(*(a.variables() for a in self.args))

    def is_call(self, *functions: str) -> bool:
        return self.kind == "call" and self.op in functions

    def subexpressions(self):
        """This node and all nodes below it, depth first."""
        yield self
        for a in self.args:
            yield from a.subexpressions()

    def to_polars(self, scaling: Mapping[str, tuple[float, float]] | None = None) -> pl.Expr:
        """This expression as a polars expression.

        ``factor(x)`` and ``offset(x)`` evaluate to ``x`` (the design builder codes factors);
        ``scale(x)`` needs its centre and scale in ``scaling``, keyed by the call's label.
        Arithmetic is done in float64, as R does for doubles.
        """
        k, op = self.kind, self.op
        if k == "name":
            return pl.col(str(self.value))
        if k == "const":
            return pl.lit(self.value)
        if k in ("paren", "arg") or self.is_call("I", "factor", "as.factor", "offset"):
            return self.args[0].to_polars(scaling)
        if k == "call":
            return self._call_to_polars(scaling or {})
        x = [e.to_polars(scaling) for e in self.args]
        if k == "unary":
            return ~x[0] if op == "!" else -_float(x[0]) if op == "-" else _float(x[0])
        if op in _ARITHMETIC:
            return _ARITHMETIC[op](_float(x[0]), _float(x[1]))
        if op in _LOGICAL:
            return _LOGICAL[op](x[0], x[1])
        raise ModelSpecError(f"operator {op} cannot be evaluated in {self.label}")

    def _call_to_polars(self, scaling: Mapping[str, tuple[float, float]]) -> pl.Expr:
        x = _float(self.args[0].to_polars(scaling))
        if self.op == "scale":
            if self.label not in scaling:
                raise ModelSpecError(f"{self.label}: centre and scale have not been computed")
            centre, scale = scaling[self.label]
            return (x - centre) / scale
        if self.op == "log" and len(self.args) == 2:
            return x.log() / _float(self.args[1].to_polars(scaling)).log()
        return _MATH[self.op](x)


def _float(e: pl.Expr) -> pl.Expr:
    return e.cast(pl.Float64)


_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_ARITHMETIC |= {
    "^": pl.Expr.pow,
    "%%": lambda a, b: a - (a / b).floor() * b,
    "%/%": lambda a, b: (a / b).floor(),
}
_LOGICAL = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge, "==": operator.eq}
_LOGICAL |= {
    "!=": operator.ne,
    "&": operator.and_,
    "&&": operator.and_,
    "|": operator.or_,
    "||": operator.or_,
}


def _name(name: str) -> Expr:
    if name in ("TRUE", "FALSE"):
        return Expr(name, "const", value=name == "TRUE")
    return Expr(_r_name(name), "name", value=name)


def _number(text: str) -> Expr:
    if text.endswith("L"):
        value = int(float(text[:-1]))
        return Expr(f"{value}L", "const", value=value)
    value = float(text)
    return Expr(format_r_number(value), "const", value=value)


def _call(function: str, args: tuple[Expr, ...]) -> Expr:
    return Expr(f"{function}({', '.join(a.label for a in args)})", "call", function, args)


def _unary(op: str, x: Expr) -> Expr:
    return Expr(f"{op}{x.label}", "unary", op, (x,))


def _binary(op: str, left: Expr, right: Expr) -> Expr:
    """``left op right``, with the parentheses R's deparse adds to keep the tree's meaning."""
    bp = _bp(op)
    left_assoc = op != "^"

    def precedence(x: Expr) -> float:
        if x.kind == "binary":
            return _bp(x.op)
        return _PREFIX_BP[x.op] if x.kind == "unary" else math.inf

    lhs = f"({left.label})" if precedence(left) < bp + (not left_assoc) else left.label
    right_wrap = right.kind == "binary" and precedence(right) < bp + left_assoc
    rhs = f"({right.label})" if right_wrap else right.label
    sep = op if op in _UNSPACED else f" {op} "
    return Expr(f"{lhs}{sep}{rhs}", "binary", op, (left, right))


# ----------------------------------------------------------------------------------------------
# Tokenizer and Pratt parser for R's expression grammar
# ----------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?L?)
    |(?P<name>(?:[^\W\d_]|\.)[\w.]*)
    |(?P<bq>`[^`]+`)
    |(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<op>%[^%\s]*%|\|\||&&|==|!=|<=|>=|\*\*|[~+\-*/^:<>!&|(),=])""",
    re.VERBOSE,
)


def _syntax_error(text: str, pos: int, what: str) -> ModelSpecError:
    shown = text.replace("\n", " ").replace("\t", " ")
    return ModelSpecError(f"invalid formula: {what}\n  {shown}\n  {' ' * pos}^")


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _syntax_error(text, pos, f"unexpected character {text[pos]!r}")
        if m.lastgroup != "ws":
            value = "^" if m.group() == "**" else m.group()
            tokens.append((m.lastgroup, value, pos))
        pos = m.end()
    tokens.append(("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text, self.tokens, self.i = text, _tokenize(text), 0

    def parse(self) -> Expr:
        tree = self.expr(0)
        if self.peek()[0] != "end":
            raise self.error("unexpected " + repr(self.peek()[1]))
        return tree

    def peek(self, ahead: int = 0) -> tuple[str, str, int]:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        self.i += 1
        return tok

    def error(self, what: str) -> ModelSpecError:
        return _syntax_error(self.text, self.peek()[2], what)

    def expect(self, value: str) -> None:
        if self.peek()[1] != value or self.peek()[0] != "op":
            found = "end of formula" if self.peek()[0] == "end" else repr(self.peek()[1])
            raise self.error(f"expected {value!r}, found {found}")
        self.take()

    def expr(self, min_bp: int) -> Expr:
        left = self.prefix()
        while True:
            kind, op, _ = self.peek()
            if kind != "op" or not (op in _BINARY_BP or op.startswith("%")) or _bp(op) < min_bp:
                return left
            self.take()
            right = self.expr(_bp(op) + (op != "^"))
            left = _binary(op, left, right)

    def prefix(self) -> Expr:
        kind, value, pos = self.peek()
        if kind == "end":
            raise self.error("unexpected end of formula")
        self.take()
        if kind == "num":
            return _number(value)
        if kind == "str":
            return Expr(_r_string(_unquote(value)), "const", value=_unquote(value))
        if kind in ("name", "bq"):
            name = value[1:-1] if kind == "bq" else value
            if kind == "name" and self.peek()[1] == "(":
                return self.call(name, pos)
            return _name(name)
        if value == "(":
            inner = self.expr(0)
            self.expect(")")
            return Expr(f"({inner.label})", "paren", args=(inner,))
        if value in _PREFIX_BP:
            return _unary(value, self.expr(_PREFIX_BP[value]))
        self.i -= 1
        raise self.error(f"unexpected {value!r}")

    def call(self, function: str, pos: int) -> Expr:
        if function not in SUPPORTED_FUNCTIONS and function != "cbind":
            supported = ", ".join(SUPPORTED_FUNCTIONS)
            raise _syntax_error(self.text, pos, f"unknown function {function}(); supported: {supported}")
        self.expect("(")
        args: list[Expr] = []
        while self.peek()[1] != ")":
            if args and self.take()[1] != ",":
                self.i -= 1
                found = repr(self.peek()[1]) if self.peek()[0] != "end" else "end of formula"
                raise self.error(f"expected ',' or ')', found {found}")
            if self.peek()[0] in ("name", "bq", "str") and self.peek(1)[1] == "=":
                name = self.take()[1].strip("`\"'")
                self.take()
                value = self.expr(0)
                args.append(Expr(f"{_r_name(name)} = {value.label}", "arg", name, (value,)))
            else:
                args.append(self.expr(0))
        self.expect(")")
        _check_arguments(function, args, self.text, pos)
        return _call(function, tuple(args))


def _check_arguments(function: str, args: list[Expr], text: str, pos: int) -> None:
    low, high = _ARITY.get(function, (1, 1))
    if not low <= len(args) <= high:
        count = f"{low} or {high} arguments" if low < high else f"{low} argument{'s' * (low > 1)}"
        raise _syntax_error(text, pos, f"{function}() takes {count}")
    for i, a in enumerate(args):
        if a.kind == "arg" and (function, i, a.op) != ("log", 1, "base"):
            raise _syntax_error(text, pos, f"unsupported argument {a.label!r} of {function}()")


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), body)


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
        both = _interaction_variables(node.args[0], text) + _interaction_variables(node.args[1], text)
        return tuple({v.label: v for v in both}.values())
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
    lhs, rhs, _ = _split_tilde(text, one_sided=True)
    if lhs is not None:
        raise ModelSpecError(f"expected a one-sided formula such as '~ 1 + x', got {text!r}")
    algebra = _TermAlgebra(text)
    terms = algebra.result(rhs)
    if algebra.bars:
        raise ModelSpecError(f"random-effects terms are not allowed in {text!r}")
    return terms
