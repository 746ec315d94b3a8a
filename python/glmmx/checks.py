"""Argument checks shared by every model: each names the argument and says what it must be.

Bottom layer: imports only the standard library and glmmx.exceptions (and ``_core`` for the
thread bound the Rust pools enforce)."""

from __future__ import annotations

import numbers

from glmmx.exceptions import ModelSpecError


#: The largest integer an argument may hold (the core's counts are 64-bit).
MAX_INT = 2**63 - 1


def integer(name: str, value, low: int = 1, *, high: int = MAX_INT, allow_none: bool = False) -> int | None:
    """``value`` as an int in ``low ..= high`` (bools are not integers here)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        what = "a positive integer" if low == 1 else f"an integer >= {low}"
        if high < MAX_INT or (isinstance(value, numbers.Integral) and value > high):
            what = f"an integer from {low} to {high:,}"
        raise ModelSpecError(f"{name} must be {what}, not {value!r}")
    return int(value)


def threads(value) -> int | None:
    """None (one per core) or 1 ..= MAX_THREADS worker threads."""
    from glmmx._core import MAX_THREADS

    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > MAX_THREADS:
        import os

        raise ModelSpecError(f"threads must be at most {MAX_THREADS} (this machine has {os.cpu_count()} cores); got {value}")
    return integer("threads", value, allow_none=True)


def seed(value) -> int:
    """A non-negative integer seed; None draws one from the operating system's entropy."""
    if value is None:
        import numpy as np

        return int(np.random.SeedSequence().entropy % (2**63))
    return integer("seed", value, 0, high=2**64 - 1)


def choice(name: str, value, choices) -> str:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ModelSpecError(f"{name} must be one of {', '.join(map(repr, choices))}, not {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# What a call may cost: quadrature nodes, and memory asked for before it is allocated
# ---------------------------------------------------------------------------------------------

#: Gauss–Hermite nodes per dimension: past ~350 the rule's tail weights underflow, and 25 already
#: integrates a normal random effect to about 1e-10 (lme4 stops at 25).
MAX_NAGQ = 100
#: Nodes per cluster of the product rule (nagq ** dimension).
MAX_NODES = 100_000
#: Node-rows per likelihood evaluation above which a fit is warned to take long (~1 s each).
SLOW_NODE_ROWS = 200_000_000


def quadrature(nagq: int, dim: int, rows: int) -> int:
    """``nagq`` checked against the bounds above for ``dim`` random effects per cluster over
    ``rows`` observations; warns (FitWarning) when each evaluation will be slow."""
    if nagq <= 1:
        return nagq
    if nagq > MAX_NAGQ:
        raise ModelSpecError(
            f"nagq must be at most {MAX_NAGQ} nodes per dimension; got {nagq:,} (past that a Gauss-Hermite rule "
            "loses its tail weights to underflow, and nagq=25 already integrates a normal random effect to ~1e-10)")
    nodes = nagq**dim
    if nodes > MAX_NODES:
        fits = int(MAX_NODES ** (1 / dim) + 1e-9)
        raise ModelSpecError(
            f"nagq={nagq} with {dim} random effects per cluster means {nodes:,} quadrature nodes per cluster "
            f"(nagq^{dim}); at most {MAX_NODES:,} are allowed. Use nagq <= {fits}, or nagq=1 (Laplace)")
    if nodes * rows > SLOW_NODE_ROWS:
        import warnings

        from glmmx.exceptions import FitWarning

        warnings.warn(
            f"nagq={nagq} with {dim} random effects per cluster: {nodes:,} nodes per cluster x {rows:,} rows = "
            f"{nodes * rows:.2g} node-rows per likelihood evaluation, each taking about a second or more and a fit "
            f"needing dozens; a smaller nagq (the cost grows as nagq^{dim}) or nagq=1 (Laplace) is far cheaper",
            FitWarning, stacklevel=3)
    return nagq


def memory(what: str, n_bytes: float) -> None:
    """Raise MemoryError, naming ``what`` and its size, when ``n_bytes`` exceeds the memory this
    machine has available (asked before allocating, so nothing is half-built or killed)."""
    available = _available_bytes()
    if available is not None and n_bytes > available:
        raise MemoryError(f"{what} needs {_size(n_bytes)}; this machine has {_size(available)} available")


def _available_bytes() -> float | None:
    """Available memory (Linux's MemAvailable; else physical memory), or None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _size(n_bytes: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes:.0f} bytes"
