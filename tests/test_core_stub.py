"""python/glmmx/_core.pyi describes the compiled core: the same classes, methods and
attributes, and the same parameter names (keyword-only where the core's are)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from glmmx import _core

STUB = Path(_core.__file__).with_name("_core.pyi")


def _stub_classes() -> dict[str, dict[str, ast.AST]]:
    tree = ast.parse(STUB.read_text())
    classes = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = {_name(m): m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AnnAssign)) and _name(m)}
    return classes


def _name(member) -> str | None:
    if isinstance(member, ast.FunctionDef):
        return member.name
    return member.target.id if isinstance(member.target, ast.Name) else None


def _public(cls) -> set[str]:
    return {n for n in vars(cls) if not n.startswith("_")} | ({"__new__"} if "__new__" in vars(cls) else set())


def _stub_parameters(fn: ast.FunctionDef) -> list[tuple[str, bool]]:
    """(name, keyword-only) of each parameter after self/cls."""
    positional = [(a.arg, False) for a in fn.args.posonlyargs + fn.args.args][1:]
    return positional + [(a.arg, True) for a in fn.args.kwonlyargs]


def _core_parameters(obj) -> list[tuple[str, bool]] | None:
    text = getattr(obj, "__text_signature__", None)
    if not text or "*args" in text:
        return None
    sig = inspect.Signature.from_callable(obj) if callable(obj) else None
    if sig is None:
        return None
    return [(p.name, p.kind is inspect.Parameter.KEYWORD_ONLY) for p in sig.parameters.values() if p.name not in ("self", "$self", "cls")]


def test_the_stub_has_every_class_and_member_of_the_core_and_no_others():
    stub = _stub_classes()
    core = {n: getattr(_core, n) for n in dir(_core) if not n.startswith("_") and isinstance(getattr(_core, n), type)}
    assert set(stub) == set(core)
    for name, cls in core.items():
        if issubclass(cls, Exception):
            continue
        assert set(stub[name]) == _public(cls), name


def test_the_stub_has_the_cores_parameter_names_and_keyword_only_markers():
    stub = _stub_classes()
    checked = 0
    for name, members in stub.items():
        cls = getattr(_core, name)
        for member_name, node in members.items():
            if not isinstance(node, ast.FunctionDef) or any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list):
                continue
            if member_name == "__new__":
                text = cls.__text_signature__
                if text is None:
                    continue
                params = [(p.name, p.kind is inspect.Parameter.KEYWORD_ONLY) for p in inspect.signature(cls).parameters.values()]
            else:
                params = _core_parameters(getattr(cls, member_name))
                if params is None:
                    continue
            assert _stub_parameters(node) == params, f"{name}.{member_name}"
            checked += 1
    assert checked >= 25
