"""Caterpillar plots of conditional modes (``fit.plot_ranef()``), for lmer and glmer fits.

One panel per random-effects column of each grouping factor: the conditional modes b̂ⱼ with
intervals b̂ⱼ ± z·sd(bⱼ | y), z = Φ⁻¹((1 + level)/2), as lme4's
``dotplot(ranef(fit, condVar = TRUE))``. The panels of one grouping factor share one level
order, the order of the modes of its first column (so a level sits on the same row in every
panel, and intercept and slope of one level can be read across), and one y axis.

The level labels are as large as the row pitch allows, between ``_MIN_FONT`` and ``_MAX_FONT``
points; when even ``_MIN_FONT`` would overprint, only every ``step``-th level is labelled.
"""

from __future__ import annotations

import math

import numpy as np

from glmmx.exceptions import ModelSpecError

_MAX_FONT = 9.0
_MIN_FONT = 7.0
_LINE = 1.25  # a label needs this many times its font size of row pitch not to touch the next


def _matplotlib():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plot_ranef needs matplotlib, an optional dependency of glmmx: pip install matplotlib "
            "(or pip install 'glmmx[plot]')"
        ) from e
    return plt


def tick_plan(n_levels: int, height_pt: float) -> tuple[float, int]:
    """(font size in points, step) for ``n_levels`` labels on an axis ``height_pt`` points
    high: pitch p = height/n; size = min(_MAX_FONT, p/_LINE), and when that is below
    _MIN_FONT, size _MIN_FONT with every step-th label, step = ⌈_LINE·_MIN_FONT/p⌉."""
    pitch = height_pt / max(n_levels, 1)
    size = min(_MAX_FONT, pitch / _LINE)
    if size >= _MIN_FONT:
        return size, 1
    return _MIN_FONT, math.ceil(_LINE * _MIN_FONT / pitch)


def _panels(re, group):
    """(group, [terms]) for every grouping factor shown, in the fit's order."""
    groups = list(dict.fromkeys(re["group"].to_list()))
    if group is not None:
        if group not in groups:
            raise ModelSpecError(f"group {group!r} is not a grouping factor of this model; choose from {', '.join(groups)}")
        groups = [group]
    return [(g, list(dict.fromkeys(re.filter(re["group"] == g)["term"].to_list()))) for g in groups]


def _new_figure(plt, panels, re):
    """One row of panels, sized so that labels of the largest factor can be 8-9 points, the
    height capped at 10 inches (more levels are thinned, not squeezed)."""
    n_axes = sum(len(t) for _, t in panels)
    n_max = max(re.filter(re["group"] == g).height // len(t) for g, t in panels)
    height = min(10.0, max(3.0, 1.3 + 0.19 * n_max))
    fig, axes = plt.subplots(1, n_axes, figsize=(0.8 + 3.0 * n_axes, height), squeeze=False, layout="constrained")
    return fig, list(axes[0])


def _given_axes(ax, panels):
    axes = list(np.atleast_1d(ax))
    n_axes = sum(len(t) for _, t in panels)
    if len(axes) != n_axes:
        raise ModelSpecError(f"ax must hold {n_axes} axes (one per panel), got {len(axes)}")
    return axes[0].figure, axes


def _draw_panel(a, part, rows: dict, z: float):
    """Modes of one column at the rows of their levels, with ± z·cond_sd bars."""
    pos = np.array([rows[lv] for lv in part["level"].to_list()], dtype=float)
    bars = a.errorbar(part["mode"].to_numpy(), pos, xerr=z * part["cond_sd"].to_numpy(), fmt="o", ms=3, lw=0.8, capsize=0)
    a.axvline(0.0, color="grey", lw=0.6, ls="--")
    a.set_xlabel("conditional mode")
    return bars


def _share_rows(axes, n: int) -> None:
    """One y axis for the panels of one factor: rows 0..n−1, labels on the first panel only."""
    first = axes[0]
    for a in axes[1:]:
        if not first.get_shared_y_axes().joined(first, a):
            a.sharey(first)
        a.tick_params(axis="y", labelleft=False)
    for a in axes:
        a.set_ylim(-0.7, n - 0.3)


def _label_rows(fig, a, order: list, bars) -> None:
    """Level labels sized (and thinned) to the panel's height as laid out."""
    root = fig.figure  # the Figure itself, also when the axes are in a SubFigure
    root.draw_without_rendering()
    height_pt = a.get_window_extent().height * 72.0 / root.dpi
    size, step = tick_plan(len(order), height_pt)
    pos = np.arange(0, len(order), step)
    a.set_yticks(pos, [order[i] for i in pos], fontsize=size)
    pitch = height_pt / max(len(order), 1)
    for b in bars:
        b.lines[0].set_markersize(float(np.clip(0.4 * pitch, 1.5, 3.5)))
        b.lines[2][0].set_linewidth(float(np.clip(0.08 * pitch, 0.3, 0.9)))


def plot_ranef(fit, *, group: str | None = None, ax=None, level: float = 0.95):
    """Caterpillar plot: one panel per random-effects column of ``group`` (default: every
    grouping factor), the conditional modes with intervals mode ± z·cond_sd (z the normal
    quantile of (1 + level)/2), levels ordered by the modes of the factor's first column in all
    of its panels, as lme4's ``dotplot(ranef(fit, condVar = TRUE))``.

    ``ax``: axes to draw into, one per panel (default: a new figure with constrained layout).
    Returns the matplotlib Figure.
    """
    plt = _matplotlib()
    from scipy.stats import norm

    if not 0 < level < 1:
        raise ModelSpecError(f"level must be between 0 and 1, not {level!r}")
    z = float(norm.ppf(0.5 + level / 2))
    re = fit.ranef()
    panels = _panels(re, group)
    fig, axes = _new_figure(plt, panels, re) if ax is None else _given_axes(ax, panels)
    fig.suptitle(f"Conditional modes with {100 * level:g}% intervals", fontsize=10)
    queue = iter(axes)
    for g, terms in panels:
        mine = re.filter(re["group"] == g)
        order = mine.filter(mine["term"] == terms[0]).sort("mode")["level"].to_list()
        rows = {lv: i for i, lv in enumerate(order)}
        g_axes = [next(queue) for _ in terms]
        bars = []
        for a, t in zip(g_axes, terms):
            bars.append(_draw_panel(a, mine.filter(mine["term"] == t), rows, z))
            a.set_title(f"{g}: {t}", fontsize=9)
        _share_rows(g_axes, len(order))
        _label_rows(fig, g_axes[0], order, bars)
    return fig
