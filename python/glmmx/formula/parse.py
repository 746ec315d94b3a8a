"""R's expression grammar for model formulas: tokenizer, Pratt parser and the expression tree.

The text is read with R's grammar (operators, precedence and associativity of ``?Syntax``).
Every expression carries its ``label``, R's ``deparse`` of it, because the column names of the
model matrix are built from these labels (``I(HR > baseHR)TRUE``, ``sqrt(wk)``, ``log(x, 2)``).
The formula algebra on top of these trees lives in ``glmmx.formula.algebra``.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from glmmx.exceptions import ModelSpecError

__all__ = ["SUPPORTED_FUNCTIONS", "Expr", "format_r_number", "parse_expression"]

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
SUPPORTED_FUNCTIONS = tuple(sorted([*_MATH, "I", "factor", "as.factor", "ordered", "as.ordered", "relevel", "C", "scale", "offset"]))
_ARITY = {"log": (1, 2), "cbind": (2, 2), "factor": (1, 2), "ordered": (1, 2), "relevel": (2, 2), "C": (2, 2)}  # others: one
# the named arguments understood, by (function, position)
_NAMED = {("log", 1): "base", ("factor", 1): "levels", ("ordered", 1): "levels", ("relevel", 1): "ref", ("C", 1): "contr"}
# calls whose value is their first argument's (the design builder reads the rest)
PASS_THROUGH = ("I", "factor", "as.factor", "ordered", "as.ordered", "relevel", "C", "offset")


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
        """Names of the data columns this expression uses (of a factor-making call such as
        ``relevel(f, "a")`` or ``C(f, sum)``, its first argument's only)."""
        if self.kind == "name":
            return {str(self.value)}
        if self.is_call(*PASS_THROUGH):
            return self.args[0].variables()
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

        ``factor(x)``, ``ordered(x)`` and ``offset(x)`` evaluate to ``x`` (the design builder codes factors);
        ``scale(x)`` needs its centre and scale in ``scaling``, keyed by the call's label.
        Arithmetic is done in float64, as R does for doubles.
        """
        k, op = self.kind, self.op
        if k == "name":
            return pl.col(str(self.value))
        if k == "const":
            return pl.lit(self.value)
        if k in ("paren", "arg") or self.is_call(*PASS_THROUGH):
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
        self.in_levels = False  # parsing the value of a levels = argument, where c(...) is allowed

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

    def vector(self, pos: int) -> Expr:
        """``c("a", "b", ...)`` of constants, the levels of ``factor(x, levels = c(...))``."""
        self.expect("(")
        items: list[Expr] = []
        while self.peek()[1] != ")":
            if items and self.take()[1] != ",":
                raise _syntax_error(self.text, pos, "c() takes constants separated by ','")
            item = self.expr(0)
            if item.kind != "const":
                raise _syntax_error(self.text, pos, f"c() takes constants (the levels), not {item.label}")
            items.append(item)
        self.expect(")")
        if not items:
            raise _syntax_error(self.text, pos, "levels = c() needs at least one level")
        return _call("c", tuple(items))

    def call(self, function: str, pos: int) -> Expr:
        if function == "c":
            if self.in_levels:
                return self.vector(pos)
            raise _syntax_error(self.text, pos, "c(...) is understood as the levels of factor(x, levels = c(...)) only")
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
                self.in_levels = name == "levels"
                value = self.expr(0)
                self.in_levels = False
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
        if a.kind == "arg" and _NAMED.get((function, i)) != a.op:
            raise _syntax_error(text, pos, f"unsupported argument {a.label!r} of {function}()")
    second = args[1] if len(args) > 1 else None
    value = second.args[0] if second is not None and second.kind == "arg" else second
    if function in ("factor", "ordered") and second is not None and not (second.kind == "arg" and value.is_call("c")):
        raise _syntax_error(text, pos, f"{function}() takes levels = c(...) as its second argument")
    if function == "relevel" and not (value.kind == "const" and isinstance(value.value, str)):
        raise _syntax_error(text, pos, 'relevel() takes the reference level as a string: relevel(f, "a")')
    if function == "C" and value.kind not in ("name", "const"):
        raise _syntax_error(text, pos, "C() takes a contrast name as its second argument: C(f, sum)")


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), body)


def parse_expression(text: str) -> Expr:
    """Parse ``text`` as one R expression (a whole formula ``y ~ x`` is one too).

    Examples
    --------
    >>> parse_expression("I(HR>baseHR)").label
    'I(HR > baseHR)'
    """
    return _Parser(text).parse()
