"""Exceptions and warnings raised by glmmx.

The exception classes are created in the Rust core (``glmmx._core``) so that errors raised
there and errors raised in Python are the same classes; this module re-exports them, and
falls back to plain Python definitions when the compiled core is not importable (e.g. while
building documentation).
"""

from __future__ import annotations

try:  # pragma: no cover - exercised whenever the extension is built
    from glmmx._core import ConvergenceError, ModelSpecError, NumericalError
except ImportError:  # pragma: no cover

    class ModelSpecError(ValueError):
        """The model or its data are specified wrongly (bad formula, column, argument)."""

    class NumericalError(ArithmeticError):
        """A numerical step failed (e.g. a matrix that should be positive definite is not)."""

    class ConvergenceError(RuntimeError):
        """The optimiser could not produce any estimate."""


class ConvergenceWarning(UserWarning):
    """The fit ended with estimates but did not meet its convergence test."""


class FitWarning(UserWarning):
    """Something about the fit the user should know (dropped columns, separation, ...)."""


__all__ = [
    "ConvergenceError",
    "ConvergenceWarning",
    "FitWarning",
    "ModelSpecError",
    "NumericalError",
]
