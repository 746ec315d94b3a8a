"""Argument checks shared by every model: each names the argument and says what it must be.

Bottom layer: imports only the standard library and glmmx.exceptions (and ``_core`` for the
thread bound the Rust pools enforce)."""

from __future__ import annotations

import numbers

from glmmx.exceptions import ModelSpecError


def integer(name: str, value, low: int = 1, *, allow_none: bool = False) -> int | None:
    """``value`` as an int ≥ ``low`` (bools are not integers here)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        what = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ModelSpecError(f"{name} must be {what}, not {value!r}")
    return int(value)


def threads(value) -> int | None:
    """None (one per core) or 1 ..= MAX_THREADS worker threads."""
    from glmmx._core import MAX_THREADS

    count = integer("threads", value, allow_none=True)
    if count is not None and count > MAX_THREADS:
        import os

        raise ModelSpecError(f"threads must be at most {MAX_THREADS} (this machine has {os.cpu_count()} cores); got {count}")
    return count


def seed(value) -> int:
    """A non-negative integer seed; None draws one from the operating system's entropy."""
    if value is None:
        import numpy as np

        return int(np.random.SeedSequence().entropy % (2**63))
    return integer("seed", value, 0)


def choice(name: str, value, choices) -> str:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ModelSpecError(f"{name} must be one of {', '.join(map(repr, choices))}, not {value!r}")
    return value
