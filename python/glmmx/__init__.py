"""glmmx: mixed models with R's numbers from a polars DataFrame, on a Rust core.

``import glmmx`` is light: polars, numpy, scipy, the formula machinery and the compiled core
load on first use of a function that needs them.
"""

from __future__ import annotations

__all__ = [
    "ConvergenceError",
    "ConvergenceWarning",
    "FitWarning",
    "ModelSpecError",
    "NumericalError",
    "anova",
    "fit_many",
    "glmer",
    "lmer",
    "npmlt",
    "select_k",
    "uncount",
]

_LAZY = {
    "glmer": ("glmmx.models.glmer", "glmer"),
    "fit_many": ("glmmx.models.fit_many", "fit_many"),
    "npmlt": ("glmmx.models.npmlt", "npmlt"),
    "select_k": ("glmmx.models.npmlt", "select_k"),
    "lmer": ("glmmx.models.lmer", "lmer"),
    "anova": ("glmmx.models.lmer", "anova"),
    "uncount": ("glmmx.design.aggregate", "uncount"),
    "ConvergenceError": ("glmmx.exceptions", "ConvergenceError"),
    "ConvergenceWarning": ("glmmx.exceptions", "ConvergenceWarning"),
    "FitWarning": ("glmmx.exceptions", "FitWarning"),
    "ModelSpecError": ("glmmx.exceptions", "ModelSpecError"),
    "NumericalError": ("glmmx.exceptions", "NumericalError"),
}


_SUBMODULES = ("datasets",)


def _version() -> str:
    """The installed distribution's version (Cargo.toml's, put in the metadata by maturin).
    Looked up on first use: importlib.metadata is not imported by ``import glmmx``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("glmmx")
    except PackageNotFoundError:  # the source tree on sys.path without an installed copy
        return "0+unknown"


def __getattr__(name: str):
    if name == "__version__":
        value = _version()
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        import importlib

        module = importlib.import_module(f"glmmx.{name}")
        globals()[name] = module
        return module
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'glmmx' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES) | {"__version__"})
