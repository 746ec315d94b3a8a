"""Plots a statistician would accept (issue 15): the caterpillar plot of conditional modes, the
mass-point plot of npmlt, and the power plot of examples/power_analysis.py, checked on the
drawn geometry (renderer extents in display units), not on pictures."""

from __future__ import annotations

import math
import warnings

import numpy as np
import polars as pl
import pytest

import glmmx as gx
from conftest import example_module
from glmmx.inference.binomial import clopper_pearson

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402

from glmmx.report.plot import tick_plan  # noqa: E402



@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def sleep_fit():
    return gx.lmer("Reaction ~ Days + (Days | Subject)", data=gx.datasets.load("sleepstudy"))


@pytest.fixture(scope="module")
def many_levels_fit():
    rng = np.random.default_rng(2)
    n = 3000
    subj, item = rng.integers(0, 300, n), rng.integers(0, 60, n)
    x = rng.normal(size=n)
    y = 1 + 0.5 * x + rng.normal(size=300)[subj] + 0.5 * rng.normal(size=60)[item] + rng.normal(size=n)
    data = pl.DataFrame({"y": y, "x": x, "subj": [f"s{i:03d}" for i in subj], "item": [f"item{i}" for i in item]})
    return gx.lmer("y ~ x + (1 | subj) + (1 | item)", data=data)


def _drawn(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _inside(box, frame, tol: float = 0.5) -> bool:
    return box.x0 >= frame.x0 - tol and box.x1 <= frame.x1 + tol and box.y0 >= frame.y0 - tol and box.y1 <= frame.y1 + tol


def _shown_tick_labels(axis):
    """The tick labels drawn: visible, non-empty, at ticks within the view limits."""
    lo, hi = sorted(axis.get_view_interval())
    return [t.label1 for t in axis.get_major_ticks() if lo <= t.get_loc() <= hi and t.label1.get_visible() and t.label1.get_text()]


def _points(ax):
    """(x, y) of the modes drawn in a caterpillar panel."""
    line = ax.containers[0].lines[0]
    return np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)


def _labels(ax):
    return {round(float(t)): lab.get_text() for t, lab in zip(ax.get_yticks(), ax.get_yticklabels())}


# -- caterpillar plot ----------------------------------------------------------------------------


def test_panels_of_one_factor_share_the_order_of_the_first_panel_and_the_y_axis(sleep_fit):
    fig = sleep_fit.plot_ranef()
    first, second = fig.axes
    assert [a.get_title() for a in fig.axes] == ["Subject: (Intercept)", "Subject: Days"]
    re = sleep_fit.ranef()
    intercept = dict(zip(*re.filter(pl.col("term") == "(Intercept)").select("level", "mode").to_dict(as_series=False).values()))
    slope = dict(zip(*re.filter(pl.col("term") == "Days").select("level", "mode").to_dict(as_series=False).values()))
    row_level = _labels(first)
    assert len(row_level) == 18
    assert [row_level[r] for r in sorted(row_level)] == sorted(intercept, key=intercept.get)
    for ax, modes in ((first, intercept), (second, slope)):
        x, y = _points(ax)
        np.testing.assert_allclose(x, [modes[row_level[round(r)]] for r in y], rtol=1e-12)
    assert first.get_shared_y_axes().joined(first, second)
    assert first.get_ylim() == second.get_ylim()
    _drawn(fig)
    assert not any(t.label1.get_visible() for t in second.yaxis.get_major_ticks())


def test_nothing_is_cut_off_the_figure(sleep_fit, many_levels_fit, tmp_path):
    for fig in (sleep_fit.plot_ranef(), many_levels_fit.plot_ranef()):
        renderer = _drawn(fig)
        for ax in fig.axes:
            for label in _shown_tick_labels(ax.xaxis) + _shown_tick_labels(ax.yaxis) + [ax.xaxis.label, ax.title]:
                assert _inside(label.get_window_extent(renderer), fig.bbox), label.get_text()
        assert _inside(fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans), fig.bbox)
        assert _inside(fig._suptitle.get_window_extent(renderer), fig.bbox)
    fig.savefig(tmp_path / "ranef.png", dpi=120)
    assert (tmp_path / "ranef.png").stat().st_size > 0


def test_level_labels_are_readable_and_thinned_not_overprinted(sleep_fit, many_levels_fit):
    for fig in (sleep_fit.plot_ranef(), many_levels_fit.plot_ranef()):
        renderer = _drawn(fig)
        for ax in fig.axes:
            labels = _shown_tick_labels(ax.yaxis)
            if not labels:
                continue
            assert all(lab.get_fontsize() >= 7 for lab in labels)
            boxes = sorted((lab.get_window_extent(renderer) for lab in labels), key=lambda b: b.y0)
            assert all(lo.y1 <= hi.y0 + 0.5 for lo, hi in zip(boxes, boxes[1:]))
    subj = many_levels_fit.plot_ranef(group="subj").axes[0]
    shown = [lab.get_text() for lab in subj.get_yticklabels() if lab.get_text()]
    assert 10 < len(shown) < 300


@pytest.mark.parametrize("n, height", [(5, 300.0), (18, 280.0), (60, 640.0), (300, 640.0), (5000, 640.0)])
def test_tick_plan_sizes_labels_to_the_row_pitch(n, height):
    size, step = tick_plan(n, height)
    pitch = height / n
    assert 7.0 <= size <= 9.0
    assert step * pitch >= 1.25 * size - 1e-9
    if step > 1:
        assert size == 7.0 and (step - 1) * pitch < 1.25 * size


def test_plot_ranef_into_given_axes_keeps_one_order(sleep_fit):
    fig, axes = plt.subplots(1, 2, layout="constrained")
    assert sleep_fit.plot_ranef(ax=axes) is fig
    (_, y0), (_, y1) = _points(axes[0]), _points(axes[1])
    assert sorted(y0) == sorted(y1) and axes[0].get_ylim() == axes[1].get_ylim()
    with pytest.raises(gx.ModelSpecError, match="2 axes"):
        sleep_fit.plot_ranef(ax=axes[0])


# -- mass-point plot -----------------------------------------------------------------------------


def _npmlt(random: str, k: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gx.npmlt("y ~ trt*visit", data=gx.datasets.ordinal(), random=random, id="id", k=k)


def _markers(ax):
    """Data points, display centres and radii (pixels) of the drawn mass points."""
    scale = ax.figure.dpi / 72.0
    bubbles = [c for c in ax.collections if isinstance(c, PathCollection)]
    if bubbles:
        xy = np.asarray(bubbles[0].get_offsets(), dtype=float)
        radii = 0.5 * np.sqrt(bubbles[0].get_sizes()) * scale
    else:
        line = ax.lines[0]
        xy = np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float)
        radii = np.full(len(xy), 0.5 * line.get_markersize() * scale)
    return xy, ax.transData.transform(xy), radii


def _distance(box, c) -> float:
    """Distance from the point c to the rectangle box (0 inside it)."""
    nx, ny = min(max(c[0], box.x0), box.x1), min(max(c[1], box.y0), box.y1)
    return math.hypot(c[0] - nx, c[1] - ny)


@pytest.mark.parametrize("random, k", [("~1 + visit", 2), ("~1 + visit", 3), ("~1", 2), ("~1", 3)])
def test_mass_labels_sit_beside_their_points_inside_the_axes(random, k):
    fit = _npmlt(random, k)
    ax = fit.plot_mass_points()
    renderer = _drawn(ax.figure)
    xy, centres, radii = _markers(ax)
    assert len(xy) == k and len(ax.texts) == k
    assert sorted(t.get_text() for t in ax.texts) == sorted(f"{m:.2f}" for m in fit.masses)
    frame = ax.get_window_extent(renderer)
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    for box, t in zip(boxes, ax.texts):
        assert _inside(box, frame, tol=0.0), t.get_text()
        own = [i for i, p in enumerate(xy) if np.allclose(p, t.xy)]
        assert len(own) >= 1
        for c, r in zip(centres, radii):
            assert _distance(box, c) >= r, t.get_text()
    for i, a in enumerate(boxes):
        assert not any(a.overlaps(b) for b in boxes[i + 1:])


def test_bubble_area_is_proportional_to_mass_and_bubbles_stay_inside():
    fit = _npmlt("~1 + visit", 3)
    ax = fit.plot_mass_points()
    renderer = _drawn(ax.figure)
    xy, centres, radii = _markers(ax)
    np.testing.assert_allclose(xy, fit.mass_points[:, :2])
    np.testing.assert_allclose(radii ** 2 / radii.max() ** 2, fit.masses / fit.masses.max(), rtol=1e-12)
    frame = ax.get_window_extent(renderer)
    for c, r in zip(centres, radii):
        assert frame.x0 <= c[0] - r and c[0] + r <= frame.x1 and frame.y0 <= c[1] - r and c[1] + r <= frame.y1


def test_one_dimensional_plot_is_a_stem_of_height_mass(tmp_path):
    fit = _npmlt("~1", 2)
    ax = fit.plot_mass_points(path=tmp_path / "mass.png")
    assert (tmp_path / "mass.png").stat().st_size > 0
    line = ax.lines[0]
    np.testing.assert_allclose(line.get_xdata(), fit.mass_points[:, 0])
    np.testing.assert_allclose(line.get_ydata(), fit.masses)
    assert ax.get_ylim()[0] == 0.0 and ax.get_ylim()[1] > fit.masses.max()


# -- power plot ----------------------------------------------------------------------------------


@pytest.mark.parametrize("x, n, low, high", [(0, 10, 0.0, 0.3084971), (5, 10, 0.1870860, 0.8129140), (10, 10, 0.6915029, 1.0), (1, 1, 0.025, 1.0)])
def test_clopper_pearson_known_values(x, n, low, high):
    lo, hi = clopper_pearson(x, n)
    assert lo == pytest.approx(low, abs=5e-8) and hi == pytest.approx(high, abs=5e-8)


def test_clopper_pearson_arrays_and_bad_input():
    lo, hi = clopper_pearson(np.array([0, 5, 10]), 10, level=0.95)
    np.testing.assert_allclose(lo, [0.0, 0.1870860, 0.6915029], atol=5e-8)
    np.testing.assert_allclose(hi, [0.3084971, 0.8129140, 1.0], atol=5e-8)
    assert clopper_pearson(3, 10, level=0.99)[0] < clopper_pearson(3, 10, level=0.9)[0]
    for x, n, level in [(11, 10, 0.95), (-1, 10, 0.95), (2.5, 10, 0.95), (1, 0, 0.95), (1, 10, 1.0)]:
        with pytest.raises(gx.ModelSpecError):
            clopper_pearson(x, n, level=level)


def test_power_plot_has_exact_intervals_and_states_the_studies_counted(tmp_path):
    example = example_module("power_analysis.py")
    counts = np.array([944, 994, 1000, 1000])
    hits = np.array([428, 751, 961, 1000])
    lo, hi = clopper_pearson(hits, counts)
    table = pl.DataFrame({"patients": [24, 48, 96, 192], "power": hits / counts, "ci_low": lo, "ci_high": hi, "converged": counts})
    fig = example.plot(table, tmp_path)
    assert (tmp_path / "power_time_drug.png").stat().st_size > 0
    ax = fig.axes[0]
    segments = np.array(ax.containers[0].lines[2][0].get_segments())
    np.testing.assert_allclose(segments[:, 0, 1], lo, atol=1e-12)
    np.testing.assert_allclose(segments[:, 1, 1], hi, atol=1e-12)
    assert "944, 994, 1000, 1000" in ax.get_title() and f"of {example.NSIM}" in ax.get_title()
    renderer = _drawn(fig)
    assert _inside(ax.title.get_window_extent(renderer), fig.bbox)
    same = example.plot(table.with_columns(converged=pl.lit(example.NSIM), power=pl.lit(0.5), ci_low=pl.lit(0.4), ci_high=pl.lit(0.6)), tmp_path)
    assert f"({example.NSIM} simulated studies per size)" in same.axes[0].get_title()
