"""glmmx: mixed models with R's numbers from a polars DataFrame, on a Rust core.

``import glmmx`` is light: polars, numpy, scipy, the formula machinery and the compiled core
load on first use of a function that needs them.
"""

from __future__ import annotations

__version__ = "0.1.0"

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
    "glmer": ("glmmx.api", "glmer"),
    "fit_many": ("glmmx.batch", "fit_many"),
    "npmlt": ("glmmx.npmlt_api", "npmlt"),
    "select_k": ("glmmx.npmlt_api", "select_k"),
    "lmer": ("glmmx.lmer_api", "lmer"),
    "anova": ("glmmx.lmer_api", "anova"),
    "uncount": ("glmmx.aggregate", "uncount"),
    "ConvergenceError": ("glmmx.exceptions", "ConvergenceError"),
    "ConvergenceWarning": ("glmmx.exceptions", "ConvergenceWarning"),
    "FitWarning": ("glmmx.exceptions", "FitWarning"),
    "ModelSpecError": ("glmmx.exceptions", "ModelSpecError"),
    "NumericalError": ("glmmx.exceptions", "NumericalError"),
}


_SUBMODULES = ("datasets",)


def __getattr__(name: str):
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
    return sorted(list(globals()) + list(_LAZY) + list(_SUBMODULES))
