"""Types of the Rust core (``rust/py``), the boundary the Python layer calls.

Arrays are float64 unless stated; matrices given to the core are Fortran-ordered (column-major)
unless stated; level codes are uint32. Every call that fits releases the GIL; ``threads=None``
means all cores. tests/test_core_stub.py checks this file against the compiled module.
"""

from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
U32 = npt.NDArray[np.uint32]

MAX_THREADS: int
MAX_NAGQ: int
MAX_RULE_NODES: int
class ModelSpecError(ValueError): ...
class NumericalError(ArithmeticError): ...
class ConvergenceError(RuntimeError): ...

class Progress:
    """Count of finished replicates, readable while a batch runs, and its stop switch."""

    def __new__(cls) -> Progress: ...
    @property
    def done(self) -> int: ...
    def cancel(self) -> None: ...

class Batch:
    """Which replicates a refit_many runs: the columns of ``responses`` (n × n_rep, C order),
    or ``nsim`` responses simulated from ``seed`` (replicates first, first + 1, ...)."""

    def __new__(
        cls, *, responses: F64 | None, nsim: int, seed: int, first: int, threads: int | None, progress: Progress | None
    ) -> Batch: ...

ReplicateTable = dict[str, Any]
"""refit_many's result: "estimates", "std_errors" (n_rep × p), "parameters" (n_rep × the
model's covariance parameters), "loglik", "converged" and "message" per replicate."""

# ---- one grouping factor: glmer by Laplace, adaptive Gauss–Hermite quadrature and nAGQ = 0

class GlmmFit:
    theta: F64
    beta: F64
    b: F64
    cond_var: F64
    eta: F64
    mu: F64
    dev_resid: F64
    gradient: F64
    fisher_info: F64
    vcov_beta: F64
    @property
    def deviance(self) -> float: ...
    @property
    def loglik_constant(self) -> float: ...
    @property
    def hessian(self) -> F64: ...
    @property
    def max_grad(self) -> float: ...
    @property
    def converged(self) -> bool: ...
    @property
    def iterations(self) -> int: ...
    @property
    def evaluations(self) -> int: ...
    @property
    def message(self) -> str: ...
    @property
    def vcov_source(self) -> str: ...

class GlmmModel:
    """Clustered data (rows sorted by cluster, ``group`` the cluster of each row, ``group_freq``
    the count of each cluster pattern) and Λ's template (θ positions)."""

    def __new__(
        cls,
        y: F64,
        weights: F64,
        offset: F64,
        x: F64,
        z: F64,
        group: U32,
        n_groups: int,
        group_freq: F64,
        theta_rows: U32,
        theta_cols: U32,
        family: str,
        link: str,
    ) -> GlmmModel: ...
    @property
    def n_theta(self) -> int: ...
    @property
    def n_clusters(self) -> int: ...
    @property
    def loglik_constant(self) -> float: ...
    @property
    def modes(self) -> F64: ...
    @modes.setter
    def modes(self, value: F64) -> None: ...
    def theta_lower(self) -> F64: ...
    def deviance(self, theta: list[float], beta: list[float], *, n_agq: int, gradient: bool) -> tuple[float, F64]: ...
    def deviance_nagq0(self, theta: list[float], beta: list[float]) -> tuple[float, F64, F64]: ...
    def fit(
        self, *, n_agq: int, max_iter: int, theta0: list[float] | None, beta0: list[float] | None, threads: int | None
    ) -> GlmmFit: ...
    def replicates(self, *, theta: list[float], beta: list[float], n_agq: int, modes: F64 | None = None) -> GlmmReplicates: ...

class GlmmReplicates:
    def simulate(self, *, nsim: int, seed: int, first: int) -> F64: ...
    def refit_many(self, *, batch: Batch, max_iter: int) -> ReplicateTable: ...

# ---- any number of random-effects terms: lmer, and glmer with crossed or nested factors

class LmmFit:
    theta: F64
    beta: F64
    b: F64
    fitted: F64
    gradient: F64
    hessian: F64
    vcov_beta: F64
    @property
    def sigma(self) -> float: ...
    @property
    def objective(self) -> float: ...
    @property
    def pwrss(self) -> float: ...
    @property
    def logdet_m(self) -> float: ...
    @property
    def logdet_x(self) -> float: ...
    @property
    def max_grad(self) -> float: ...
    @property
    def converged(self) -> bool: ...
    @property
    def iterations(self) -> int: ...
    @property
    def evaluations(self) -> int: ...
    @property
    def message(self) -> str: ...

class LmmModel:
    """Response, prior weights, X and per-term level codes, level counts and Z blocks (terms in
    lme4's order)."""

    def __new__(cls, y: F64, weights: F64, x: F64, codes: list[U32], n_levels: list[int], z: list[F64]) -> LmmModel: ...
    @property
    def n_theta(self) -> int: ...
    @property
    def layout(self) -> tuple[int, int]: ...
    def theta_lower(self) -> F64: ...
    def objective(self, theta: list[float], *, reml: bool) -> tuple[float, F64]: ...
    def fit(self, *, reml: bool, max_iter: int, theta0: list[float] | None, threads: int | None) -> LmmFit: ...
    def cond_var(self, theta: list[float], *, reml: bool) -> F64: ...
    def varpar_derivatives(self, theta: list[float], *, reml: bool) -> tuple[F64, F64]: ...
    def replicates(self, *, theta: list[float], beta: list[float], sigma: float) -> LmmReplicates: ...

class LmmReplicates:
    def simulate(self, *, nsim: int, seed: int, first: int) -> F64: ...
    def refit_many(self, *, batch: Batch, reml: bool, max_iter: int) -> ReplicateTable: ...

class SparseGlmmFit:
    theta: F64
    beta: F64
    b: F64
    cond_var: F64
    eta: F64
    mu: F64
    dev_resid: F64
    gradient: F64
    hessian: F64
    vcov_beta: F64
    @property
    def deviance(self) -> float: ...
    @property
    def max_grad(self) -> float: ...
    @property
    def converged(self) -> bool: ...
    @property
    def iterations(self) -> int: ...
    @property
    def evaluations(self) -> int: ...
    @property
    def message(self) -> str: ...
    @property
    def vcov_source(self) -> str: ...

class SparseGlmm:
    def __new__(
        cls,
        y: F64,
        weights: F64,
        offset: F64,
        x: F64,
        codes: list[U32],
        n_levels: list[int],
        z: list[F64],
        family: str,
        link: str,
    ) -> SparseGlmm: ...
    @property
    def n_theta(self) -> int: ...
    @property
    def loglik_constant(self) -> float: ...
    def laplace(self, theta: list[float], beta: list[float], *, gradient: bool) -> tuple[float, F64]: ...
    def nagq0(self, theta: list[float], beta: list[float]) -> tuple[float, F64, F64]: ...
    def fit(
        self, *, n_agq: int, max_iter: int, theta0: list[float] | None, beta0: list[float] | None, threads: int | None
    ) -> SparseGlmmFit: ...
    def replicates(self, *, theta: list[float], beta: list[float], n_agq: int) -> SparseGlmmReplicates: ...

class SparseGlmmReplicates:
    def simulate(self, *, nsim: int, seed: int, first: int) -> F64: ...
    def refit_many(self, *, batch: Batch, max_iter: int) -> ReplicateTable: ...

# ---- npmlt: ordinal and nominal responses, mass-point or normal random effects

class NpmltFit:
    alpha: F64
    beta: F64
    mass_points: F64
    masses: F64
    posterior: F64
    vcov: F64
    se_alpha: F64
    se_beta: F64
    se_mass_points: F64
    se_masses: F64
    se_re_var: F64
    cluster_loglik: F64
    @property
    def loglik(self) -> float: ...
    @property
    def max_grad(self) -> float: ...
    @property
    def converged(self) -> bool: ...
    @property
    def iterations(self) -> int: ...
    @property
    def evaluations(self) -> int: ...
    @property
    def message(self) -> str: ...
    @property
    def warnings(self) -> list[str]: ...
    @property
    def ridge_points(self) -> list[int]: ...
    @property
    def re_chol(self) -> F64 | None: ...

class NpmltData:
    """Categories (uint32, 0-based), X and Z of rows sorted by cluster, ``starts`` the m + 1
    cluster boundaries, and the link."""

    def __new__(cls, y: U32, q: int, x: F64, npo: list[bool], z: F64, starts: list[int], *, link: str) -> NpmltData: ...
    def fit(
        self,
        *,
        k: int,
        max_iter: int,
        se: str,
        start: tuple[list[float], list[float], list[float], list[float]] | None,
        threads: int | None,
    ) -> NpmltFit: ...
    def fit_normal(self, *, nagq: int, max_iter: int, se: str, threads: int | None) -> NpmltFit: ...
    def replicates(
        self, *, alpha: list[float], beta: list[float], points: F64 | None, masses: list[float] | None, chol: F64 | None
    ) -> NpmltReplicates: ...

class NpmltReplicates:
    def simulate(self, *, nsim: int, seed: int, first: int) -> F64: ...
    def refit_many(self, *, batch: Batch, nagq: int, max_iter: int, se: str) -> ReplicateTable: ...
