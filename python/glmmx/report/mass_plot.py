"""The mass-point plot of an npmlt fit (``fit.plot_mass_points()``): the estimated discrete
random-effects distribution, support points b_l with masses π_l (Σ π_l = 1).

- d = 1: a probability-mass plot, a stem of height π_l at each b_l (coinciding points stay
  apart by their heights).
- d ≥ 2: the first two coordinates of each b_l as a bubble of area proportional to π_l
  (scatter size s_l = _AREA·π_l points², radius ½√s_l points), its centre marked.

Each point carries its mass as a label beside it, never on it: the first of eight places round
the marker (right, left, above, below, then the diagonals; on a stem not below), at a gap of
_GAP points from its edge, where the label lies inside the axes and meets no marker and no other
label (when there is no such place, as round overlapping bubbles, the cheapest by ``_cost``).
When some label has no free place, the axis limits are widened (``_MARGINS``) and the labels
placed again; failing everywhere, the margin of least summed cost is kept.
"""

from __future__ import annotations

import math

import numpy as np

_AREA = 2000.0
_GAP = 3.0
_STEM_MARKER = 7.0
_MARGINS = (0.12, 0.2, 0.3, 0.45, 0.7, 1.0)
_OUTSIDE, _ON_LABEL = 1000, 10
_PLACES = (  # direction (x, y) from the centre, and the label's alignment there
    ((1, 0), "left", "center"), ((-1, 0), "right", "center"),
    ((0, 1), "center", "bottom"), ((0, -1), "center", "top"),
    ((1, 1), "left", "bottom"), ((-1, 1), "right", "bottom"),
    ((1, -1), "left", "top"), ((-1, -1), "right", "top"),
)
_STEM_PLACES = tuple(p for p in _PLACES if p[0] != (0, -1))  # not below: that is on the stem


def _figure(path, ax):
    """The axes to draw in: the caller's, a pyplot figure, or (with only a path) a Figure
    with no pyplot state, so that saving needs no interactive backend."""
    try:
        import matplotlib.figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'glmmx[plot]'") from e
    if ax is not None:
        return ax
    if path is not None:
        return matplotlib.figure.Figure(figsize=(6, 4.5), layout="constrained").add_subplot()
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6, 4.5), layout="constrained")[1]


def mass_text(m: float) -> str:
    """A mass as its label: two decimals ("0.31"), two significant digits below 0.01."""
    return f"{m:.2f}" if m >= 0.01 else f"{m:.2g}"


def _padded(lo: float, hi: float, margin: float) -> tuple[float, float]:
    """[lo, hi] widened by ``margin`` of its width on each side (of max(1, |hi|) when lo = hi)."""
    width = hi - lo if hi > lo else max(1.0, abs(hi))
    return lo - margin * width, hi + margin * width


def _draw_bubbles(ax, pts, w, names):
    """Bubbles of area _AREA·π_l points² at the first two coordinates, centres marked; returns
    (label anchors, marker radii in points, how to set the limits at a margin, label places)."""
    ax.scatter(pts[:, 0], pts[:, 1], s=_AREA * w, alpha=0.55, edgecolors="C0", linewidths=0.8)
    ax.plot(pts[:, 0], pts[:, 1], "k.", ms=2)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    radii = 0.5 * np.sqrt(_AREA * w)

    def limits(margin):
        ax.set_xlim(*_padded(pts[:, 0].min(), pts[:, 0].max(), margin))
        ax.set_ylim(*_padded(pts[:, 1].min(), pts[:, 1].max(), margin))

    return pts[:, :2], radii, limits, _PLACES


def _draw_stems(ax, x, w, name):
    """Stems from 0 to π_l at b_l, a marker on top; returns what ``_draw_bubbles`` returns."""
    ax.vlines(x, 0.0, w, color="C0", lw=1.5)
    ax.plot(x, w, "o", color="C0", ms=_STEM_MARKER)
    ax.set_xlabel(f"mass point: {name}")
    ax.set_ylabel("mass")
    radii = np.full(len(w), 0.5 * _STEM_MARKER)

    def limits(margin):
        ax.set_xlim(*_padded(x.min(), x.max(), margin))
        ax.set_ylim(0.0, w.max() * (1.0 + 2 * margin))

    return np.column_stack([x, w]), radii, limits, _STEM_PLACES


def _meets_disc(box, centre, r: float) -> bool:
    """Whether the rectangle ``box`` (display units) meets the disc of radius r at centre."""
    nx = min(max(centre[0], box.x0), box.x1)
    ny = min(max(centre[1], box.y0), box.y1)
    return math.hypot(centre[0] - nx, centre[1] - ny) < r


def _cost(box, frame, discs, placed) -> int:
    """0 for a free place; _OUTSIDE outside the axes, plus _ON_LABEL per label it overprints
    and 1 per marker it meets (text on a translucent bubble stays legible, on text it does not)."""
    outside = box.x0 < frame.x0 or box.x1 > frame.x1 or box.y0 < frame.y0 or box.y1 > frame.y1
    on_labels = sum(box.overlaps(b) for b in placed)
    return _OUTSIDE * outside + _ON_LABEL * on_labels + sum(_meets_disc(box, c, r) for c, r in discs)


def _place_one(ax, xy, r_pt, text, places, discs, placed):
    """The label of one point at its cheapest place (the first free one); (label, cost)."""
    best = None
    for (dx, dy), ha, va in places:
        step = (r_pt + _GAP) / math.hypot(dx, dy)
        label = ax.annotate(text, xy, xytext=(dx * step, dy * step), textcoords="offset points", ha=ha, va=va, fontsize=9)
        cost = _cost(label.get_window_extent(), ax.get_window_extent(), discs, placed)
        if best is None or cost < best[1]:
            if best is not None:
                best[0].remove()
            best = (label, cost)
        else:
            label.remove()
        if cost == 0:
            break
    return best


def _place_labels(ax, xy, radii, texts, places) -> tuple[list, int]:
    """Labels for all points, larger masses first; (labels, their summed cost)."""
    root = ax.figure.figure  # the Figure itself, also when the axes are in a SubFigure
    root.draw_without_rendering()
    scale = root.dpi / 72.0
    centres = ax.transData.transform(xy)
    discs = list(zip(centres, radii * scale))
    labels, total = [], 0
    for i in np.argsort(-radii, kind="stable"):
        label, cost = _place_one(ax, xy[i], radii[i], texts[i], places, discs, [b.get_window_extent() for b in labels])
        labels.append(label)
        total += cost
    return labels, total


def _label_points(ax, xy, radii, texts, places, limits) -> list:
    """Labels at the narrowest margin where all are free, else at the margin of least cost."""
    tried = []
    for margin in _MARGINS:
        limits(margin)
        labels, total = _place_labels(ax, xy, radii, texts, places)
        if total == 0:
            return labels
        tried.append((total, margin))
        for label in labels:
            label.remove()
    limits(min(tried)[1])
    return _place_labels(ax, xy, radii, texts, places)[0]


def plot_mass_points(fit, path=None, ax=None):
    """The fitted mass-point distribution: stems of height π_l at b_l (d = 1) or bubbles of
    area ∝ π_l at the first two coordinates of b_l (d ≥ 2), each labelled with its mass beside
    it; saved to ``path`` when given. Returns the axes."""
    if fit.mass_points is None:
        raise ValueError("the fit has a normal random effect: there are no mass points to plot")
    pts, w = np.asarray(fit.mass_points, dtype=float), np.asarray(fit.masses, dtype=float)
    ax = _figure(path, ax)
    if pts.shape[1] == 1:
        xy, radii, limits, places = _draw_stems(ax, pts[:, 0], w, fit.z_names[0])
    else:
        xy, radii, limits, places = _draw_bubbles(ax, pts, w, fit.z_names)
    ax.set_title(f"NPML random-effects distribution (K = {fit.k}, -2 log L = {fit.m2loglik:.2f})"
                 + ("\nbubble area proportional to mass" if pts.shape[1] > 1 else ""), fontsize=10)
    _label_points(ax, xy, radii, texts=[mass_text(m) for m in w], places=places, limits=limits)
    if path is not None:
        ax.figure.figure.savefig(path, dpi=120)
    return ax
