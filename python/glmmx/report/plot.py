"""Caterpillar plots of conditional modes (``fit.plot_ranef()``), for lmer and glmer fits."""

from __future__ import annotations

import math

import numpy as np

from glmmx.exceptions import ModelSpecError


def _matplotlib():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plot_ranef needs matplotlib, an optional dependency of glmmx: pip install matplotlib "
            "(or pip install 'glmmx[plot]')"
        ) from e
    return plt


def plot_ranef(fit, *, group: str | None = None, ax=None, level: float = 0.95):
    """One panel per random-effects column of ``group`` (default: every grouping factor):
    conditional modes sorted, with intervals mode ± z·cond_sd (z the normal quantile of
    ``level``), as lme4's ``dotplot(ranef(fit, condVar = TRUE))``.

    Returns the matplotlib Figure.
    """
    plt = _matplotlib()
    from scipy.stats import norm

    if not 0 < level < 1:
        raise ModelSpecError(f"level must be between 0 and 1, not {level!r}")
    re = fit.ranef()
    groups = list(dict.fromkeys(re["group"].to_list()))
    if group is not None:
        if group not in groups:
            raise ModelSpecError(f"group {group!r} is not a grouping factor of this model; choose from {', '.join(groups)}")
        groups = [group]
    panels = [(g, t) for g in groups for t in dict.fromkeys(re.filter(re["group"] == g)["term"].to_list())]
    z = float(norm.ppf(0.5 + level / 2))
    if ax is None:
        fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 0.5 + 0.16 * max(8, _max_levels(re, panels))), squeeze=False)
        axes = list(axes[0])
    else:
        axes = list(np.atleast_1d(ax))
        if len(axes) != len(panels):
            raise ModelSpecError(f"ax must hold {len(panels)} axes (one per panel), got {len(axes)}")
        fig = axes[0].figure
    for a, (g, t) in zip(axes, panels):
        part = re.filter((re["group"] == g) & (re["term"] == t)).sort("mode")
        mode = part["mode"].to_numpy()
        half = z * part["cond_sd"].to_numpy()
        pos = np.arange(len(mode))
        a.errorbar(mode, pos, xerr=half, fmt="o", ms=3, lw=0.8, capsize=0)
        a.axvline(0.0, color="grey", lw=0.6, ls="--")
        a.set_title(f"{g}: {t}", fontsize=9)
        if len(mode) <= 40:
            a.set_yticks(pos, part["level"].to_list(), fontsize=6)
        else:
            a.set_yticks([])
        a.set_xlabel("conditional mode")
    if math.isfinite(z):
        fig.suptitle(f"Conditional modes with {100 * level:g}% intervals", fontsize=10)
    return fig


def _max_levels(re, panels) -> int:
    return max(re.filter((re["group"] == g) & (re["term"] == t)).height for g, t in panels)
