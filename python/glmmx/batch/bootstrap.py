"""The result of a parametric bootstrap: its replicates and percentile, basic and normal intervals."""

from __future__ import annotations

import numpy as np

from glmmx.exceptions import ModelSpecError


class BootstrapResult:
    """Parametric-bootstrap replicates (``table``) and the original estimates."""

    def __init__(self, table, original: dict[str, float], seed: int):
        self.table, self.original, self.seed = table, original, seed

    @property
    def n_converged(self) -> int:
        return int(self.table.filter(self.table["term"] == self.table["term"][0])["converged"].sum())

    def confint(self, level: float = 0.95, method: str = "percentile"):
        """Intervals from the converged replicates: ``"percentile"`` (quantiles of the
        replicates), ``"basic"`` (2·estimate minus them) or ``"normal"`` (estimate ± z·SD of
        the replicates). A polars DataFrame: term, estimate, lower, upper, n (replicates used)
        and n_separated (replicates left out because their response was separated: no
        maximum of the likelihood exists for them)."""
        import polars as pl
        from scipy.stats import norm

        if not 0 < level < 1:
            raise ModelSpecError(f"level must be between 0 and 1, not {level!r}")
        if method not in ("percentile", "basic", "normal"):
            raise ModelSpecError(f"method must be 'percentile', 'basic' or 'normal', not {method!r}")
        alpha = (1 - level) / 2
        rows = []
        for term, est in self.original.items():
            mine = self.table["term"] == term
            n_sep = int((mine & self.table["separated"]).sum())
            v = self.table.filter(mine & pl.col("converged"))["estimate"].drop_nans().drop_nulls().to_numpy()
            if len(v) == 0:
                rows.append((term, est, np.nan, np.nan, 0, n_sep))
                continue
            if method == "normal":
                half = norm.ppf(1 - alpha) * v.std(ddof=1)
                lo, hi = est - half, est + half
            else:
                q_lo, q_hi = np.quantile(v, [alpha, 1 - alpha])
                lo, hi = (q_lo, q_hi) if method == "percentile" else (2 * est - q_hi, 2 * est - q_lo)
            rows.append((term, est, float(lo), float(hi), len(v), n_sep))
        return pl.DataFrame(rows, schema=["term", "estimate", "lower", "upper", "n", "n_separated"], orient="row")

    def __repr__(self) -> str:
        n = self.table["sim"].n_unique()
        return f"<BootstrapResult: {n} replicates ({self.n_converged} converged), seed {self.seed}>"
